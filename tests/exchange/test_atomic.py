"""Atomic writes (exchange.atomic): the target is the old file or the new one, the rename is made durable
by a folder fsync, a failed write leaves nothing behind, and JSON bytes depend on the content only."""
from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from exchange import atomic
from exchange.atomic import file_sha256, write_bytes_atomic, write_json_atomic, write_parquet_atomic


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records "file" or "folder" for every fsync the writers make, in order."""
    seen: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        seen.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    return seen


def test_each_writer_replaces_the_file_and_fsyncs_it_then_its_folder(tmp_path: Path, synced: list[str]) -> None:
    target = tmp_path / "deep" / "er" / "a.bin"
    write_bytes_atomic(b"old", target)
    write_bytes_atomic(b"new", target)
    assert target.read_bytes() == b"new"
    frame = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    write_parquet_atomic(frame, tmp_path / "f.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "f.parquet"), frame)
    write_json_atomic({"k": 1}, tmp_path / "j.json")
    assert synced == ["file", "folder"] * 4
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.bin", "f.parquet", "j.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path, synced: list[str]) -> None:
    target = tmp_path / "t.json"
    write_json_atomic({"v": 1}, target)
    before = target.read_bytes()
    with pytest.raises(ValueError):
        write_json_atomic({"v": float("nan")}, target)  # refused before anything is written

    def half_then_full(tmp: str) -> None:
        Path(tmp).write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic._write_atomic(target, half_then_full)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]


def test_json_is_sorted_pretty_and_stable(tmp_path: Path) -> None:
    write_json_atomic({"b": [1.5, None], "a": {"d": 1, "c": Path("/x")}}, tmp_path / "one.json")
    write_json_atomic({"a": {"c": Path("/x"), "d": 1}, "b": [1.5, None]}, tmp_path / "two.json")
    text = (tmp_path / "one.json").read_text()
    assert text == (tmp_path / "two.json").read_text() and text.endswith("}\n")
    assert json.loads(text) == {"a": {"c": "/x", "d": 1}, "b": [1.5, None]}
    assert list(json.loads(text)) == ["a", "b"] and '\n  "a": {' in text


def test_file_sha256_reads_in_chunks(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    (tmp_path / "big").write_bytes(data)
    assert file_sha256(tmp_path / "big") == hashlib.sha256(data).hexdigest()
