"""Append-only Parquet tables of the paper trader (performance.parquet, fills.parquet), safe to re-append.

A bar's rows are first committed inside the book's state (`BookState.pending`), atomically with the
bar itself, and appended to their table later in batches (every `flush_bars` bars, and whenever the
trader stops): rewriting a growing Parquet file after every bar would cost more than the bar. An
append replaces rows whose key (the bar's time first, then e.g. the strategy id) is already there, so
rows appended again after a crash between the table write and the state commit are not doubled. Table
writes are atomic (exchange.atomic: temporary file, fsync, rename, folder fsync).
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd

from exchange.atomic import write_bytes_atomic

__all__ = ["Ledger"]


class Ledger:
    """One Parquet table at `path` with unique `key` columns (key[0]: the row's time, epoch ms in the rows
    given, datetime64[ms, UTC] in the table), cached in memory between writes."""

    def __init__(self, path: Path, key: tuple[str, ...]) -> None:
        self.path = Path(path)
        self.key = key
        self._frame: pd.DataFrame | None = None
        self._stamp: tuple[int, int] | None = None

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def read(self) -> pd.DataFrame:
        """The whole table (empty when there is none yet); re-read when another process wrote it."""
        stamp = self._file_stamp()
        if self._frame is None or stamp != self._stamp:
            self._frame = pd.read_parquet(self.path) if stamp is not None else pd.DataFrame()
            self._stamp = stamp
        return self._frame

    def append(self, rows: list[dict]) -> None:
        """Add `rows` (replacing rows with the same key) and write the table."""
        if not rows:
            return
        time_key = self.key[0]
        new = pd.DataFrame(rows)
        new[time_key] = pd.to_datetime(new[time_key], unit="ms", utc=True).astype("datetime64[ms, UTC]")
        old = self.read()
        if old.empty:
            frame = new.drop_duplicates(list(self.key), keep="last")
        else:
            tail = (old[time_key] >= new[time_key].min()).to_numpy()
            merged = pd.concat([old[tail], new], ignore_index=True).drop_duplicates(list(self.key), keep="last")
            frame = pd.concat([old[~tail], merged], ignore_index=True)
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        write_bytes_atomic(buffer.getvalue(), self.path)
        self._frame, self._stamp = frame, self._file_stamp()
