"""Atomic artifact writes: a reader sees the old file or the new one, never half of one."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["file_sha256", "write_bytes_atomic", "write_json_atomic", "write_parquet_atomic"]


def _write_atomic(path: Path, write: Callable[[str], None]) -> None:
    """Write through ``write(tmp_path)`` beside ``path``, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_parquet_atomic(df: pd.DataFrame, path: Path) -> None:
    _write_atomic(path, lambda tmp: df.to_parquet(tmp, index=False))


def write_bytes_atomic(data: bytes, path: Path) -> None:
    _write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))


def write_json_atomic(obj: Any, path: Path) -> None:
    """Pretty, key-sorted JSON so the same content always gives the same bytes."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=str, allow_nan=False)
    write_bytes_atomic((text + "\n").encode(), path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
