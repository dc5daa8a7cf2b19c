"""Atomic file writes: a reader sees the old file or the new one, never half of one, even after a power cut.

Every writer goes the same way: write to a temporary file beside the target (`.<name>.<random>.tmp`),
fsync it, rename it over the target, then fsync the folder so that the rename itself is on disk. A
failure before the rename removes the temporary file and leaves the target as it was. This is the one
implementation for every layer: the paper book (exchange.paper) and the run artifacts (tasks) alike.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_json_atomic({"b": 1, "a": [1.5]}, folder / "x.json")
    >>> (folder / "x.json").read_text()
    '{\\n  "a": [\\n    1.5\\n  ],\\n  "b": 1\\n}\\n'
"""
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


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, write: Callable[[str], None]) -> None:
    """Write through ``write(tmp_path)`` beside ``path``, fsync it, rename it over ``path``, fsync the folder."""
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
    _fsync_folder(path.parent)


def write_bytes_atomic(data: bytes, path: Path) -> None:
    """Replace ``path`` with ``data`` atomically."""
    _write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))


def write_parquet_atomic(df: pd.DataFrame, path: Path) -> None:
    """Replace ``path`` with ``df`` as Parquet (no index) atomically."""
    _write_atomic(path, lambda tmp: df.to_parquet(tmp, index=False))


def write_json_atomic(obj: Any, path: Path) -> None:
    """Replace ``path`` with pretty, key-sorted JSON of ``obj`` (the same content always gives the same
    bytes) atomically; NaN and infinities are refused (ValueError), anything else unknown is written as str."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=str, allow_nan=False)
    write_bytes_atomic((text + "\n").encode(), path)


def file_sha256(path: Path) -> str:
    """Hex sha256 of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
