"""Helpers every subcommand shares: where the data lives and how a user error is reported."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["data_dir", "fail"]


def data_dir(args: argparse.Namespace) -> Path:
    """``--data-dir``, else ``$UCE_DATA_DIR``, else ``./data``."""
    chosen = getattr(args, "data_dir", None) or os.environ.get("UCE_DATA_DIR") or "data"
    return Path(chosen).expanduser().resolve()


def fail(message: str, code: int = 2) -> int:
    """Print ``error: message`` on one line to stderr and return ``code`` (2: the user's input)."""
    print(f"error: {message.splitlines()[0] if message else 'unknown error'}", file=sys.stderr)
    return code
