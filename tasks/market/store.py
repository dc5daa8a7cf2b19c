"""The local market store: one append-only Parquet file per coin and interval.

Layout under ``root`` (normally ``<data dir>/market``)::

    <COIN>-<interval>.parquet     candles: timestamp, open, high, low, close, volume
    funding/<COIN>.parquet        hourly funding: timestamp, funding_rate, premium
    fetch.json                    the series fed by fetching (`uce data fetch`, the nightly refresh):
                                  {"series": {"<COIN>-<interval>": {"coin", "interval", "endpoint",
                                  "fetched_at" (epoch s)}}}; a series missing there was only imported

Every write validates first and replaces the file atomically, so a failed or
interrupted import leaves the store exactly as it was. Gaps are reported, never
filled: a backtest must not trade through bars that did not exist.
"""
from __future__ import annotations

import fcntl
import json
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from exchange.atomic import write_json_atomic, write_parquet_atomic

__all__ = [
    "CANDLE_COLUMNS",
    "FUNDING_COLUMNS",
    "FetchRecord",
    "MarketDataError",
    "MarketStore",
    "MergeResult",
    "StoreEntry",
    "epoch_ms",
    "find_gaps",
    "interval_timedelta",
    "validate_candles",
    "validate_funding",
]

CANDLE_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
FUNDING_COLUMNS = ("timestamp", "funding_rate", "premium")
_INTERVAL_RE = re.compile(r"^(\d+)(m|h|d)$")
_UNIT = {"m": "min", "h": "h", "d": "D"}


class MarketDataError(ValueError):
    """Bad market data; the message is one line naming the file, the row and the problem."""


@dataclass(frozen=True)
class MergeResult:
    added: int
    total: int
    gaps: list[tuple[pd.Timestamp, pd.Timestamp]] = field(default_factory=list)


@dataclass(frozen=True)
class StoreEntry:
    coin: str
    interval: str
    path: Path
    rows: int
    first: pd.Timestamp
    last: pd.Timestamp
    gaps: list[tuple[pd.Timestamp, pd.Timestamp]]

    @property
    def series(self) -> str:
        """``"<COIN>-<interval>"``, the name fetch records use."""
        return f"{self.coin}-{self.interval}"


@dataclass(frozen=True)
class FetchRecord:
    """The last fetch of one series into the store: from where (the API's URL) and when (epoch seconds)."""
    coin: str
    interval: str
    endpoint: str
    fetched_at: float


def interval_timedelta(interval: str) -> pd.Timedelta:
    """``"1h"`` → one hour. Accepts ``<n>m``, ``<n>h``, ``<n>d``."""
    match = _INTERVAL_RE.match(interval)
    if not match or int(match.group(1)) == 0:
        raise MarketDataError(f"interval {interval!r} is not valid: expected e.g. 15m, 1h, 4h, 1d")
    return pd.Timedelta(int(match.group(1)), unit=_UNIT[match.group(2)])


def validate_candles(df: pd.DataFrame, source: str, interval: str) -> None:
    """Raise MarketDataError on the first problem found; rows are numbered from 1 as in the file."""
    missing = [c for c in CANDLE_COLUMNS if c not in df.columns]
    if missing:
        raise MarketDataError(f"{source}: missing column(s) {', '.join(missing)}")
    if df.empty:
        raise MarketDataError(f"{source}: no rows")
    prices = df[["open", "high", "low", "close"]].to_numpy(dtype=float)
    _first_bad(source, ~np.isfinite(prices).all(axis=1), "NaN or infinite price")
    _first_bad(source, (prices <= 0).any(axis=1), "non-positive price")
    high, low = df["high"].to_numpy(float), df["low"].to_numpy(float)
    _first_bad(source, high < low, "high < low")
    for col in ("open", "close"):
        values = df[col].to_numpy(float)
        _first_bad(source, (values < low) | (values > high), f"{col} outside [low, high]")
    volume = df["volume"].to_numpy(float)
    _first_bad(source, ~np.isfinite(volume) | (volume < 0), "NaN or negative volume")
    _validate_timestamps(df["timestamp"], source, interval_timedelta(interval))


def validate_funding(df: pd.DataFrame, source: str) -> None:
    """Funding rows: known columns, finite rates, strictly increasing whole-hour timestamps."""
    missing = [c for c in FUNDING_COLUMNS if c not in df.columns]
    if missing:
        raise MarketDataError(f"{source}: missing column(s) {', '.join(missing)}")
    _first_bad(source, ~np.isfinite(df["funding_rate"].to_numpy(float)), "NaN funding_rate")
    step = np.diff(epoch_ms(df["timestamp"]))
    _first_bad(source, np.concatenate([[False], step == 0]), "duplicate timestamp")
    _first_bad(source, np.concatenate([[False], step < 0]), "timestamp earlier than the row before (unsorted)")


def _validate_timestamps(timestamps: pd.Series, source: str, step: pd.Timedelta) -> None:
    if timestamps.isna().any():
        _first_bad(source, timestamps.isna().to_numpy(), "missing timestamp")
    ms = epoch_ms(timestamps)
    diff = np.diff(ms)
    step_ms = int(step.total_seconds() * 1000)
    _first_bad(source, np.concatenate([[False], diff == 0]), "duplicate timestamp")
    _first_bad(source, np.concatenate([[False], diff < 0]), "timestamp earlier than the row before (unsorted)")
    off_grid = (ms % step_ms) != 0
    if step_ms >= 86_400_000:  # daily bars: aligned to midnight UTC, nothing finer to check
        off_grid = (ms % 86_400_000) != 0
    _first_bad(source, off_grid, f"timestamp not on the {step} grid (mixed intervals?)")


def _first_bad(source: str, bad: np.ndarray, problem: str) -> None:
    if bad.any():
        row = int(np.argmax(bad)) + 1
        raise MarketDataError(f"{source}: row {row}: {problem}")


def epoch_ms(timestamps: pd.Series) -> np.ndarray:
    """Milliseconds since the epoch, whatever the series' datetime unit."""
    return pd.DatetimeIndex(timestamps).as_unit("ms").asi8.copy()


def find_gaps(timestamps: pd.Series, step: pd.Timedelta) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Missing stretches as (first missing bar, last missing bar)."""
    ts = pd.DatetimeIndex(timestamps)
    if len(ts) < 2:
        return []
    diff = ts[1:] - ts[:-1]
    where = np.flatnonzero(diff > step)
    return [(ts[i] + step, ts[i + 1] - step) for i in where]


class MarketStore:
    """Append-only candles and funding per coin; see the module docstring for the layout."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def candles_path(self, coin: str, interval: str) -> Path:
        return self.root / f"{coin}-{interval}.parquet"

    def funding_path(self, coin: str) -> Path:
        return self.root / "funding" / f"{coin}.parquet"

    @property
    def fetch_record_path(self) -> Path:
        return self.root / "fetch.json"

    def record_fetch(self, coin: str, interval: str, *, endpoint: str, fetched_at: float) -> None:
        """Note that ``coin`` at ``interval`` is fed by fetching from ``endpoint``; other series' records stay."""
        record = FetchRecord(coin, interval, endpoint, fetched_at)
        with self._lock():  # read-modify-write: two fetches of different coins may finish together
            records = self.fetch_records()
            records[f"{coin}-{interval}"] = record
            write_json_atomic({"series": {name: asdict(r) for name, r in records.items()}}, self.fetch_record_path)

    def fetch_records(self) -> dict[str, FetchRecord]:
        """The series fed by fetching, by ``"<COIN>-<interval>"``; empty when the store was only imported."""
        path = self.fetch_record_path
        if not path.exists():
            return {}
        try:
            series = json.loads(path.read_text())["series"]
            return {name: FetchRecord(**fields) for name, fields in series.items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MarketDataError(f"{path}: unreadable fetch record ({type(exc).__name__}: {exc}); delete it, "
                                  "the next `uce data fetch` writes it again") from exc

    def read_candles(self, coin: str, interval: str) -> pd.DataFrame:
        path = self.candles_path(coin, interval)
        if not path.exists():
            raise MarketDataError(f"no {coin} {interval} candles in the store ({path}); import or fetch them first")
        return pd.read_parquet(path)

    def read_funding(self, coin: str) -> pd.DataFrame | None:
        path = self.funding_path(coin)
        return pd.read_parquet(path) if path.exists() else None

    def merge_candles(self, coin: str, interval: str, df: pd.DataFrame, *, source: str) -> MergeResult:
        """Validate ``df`` and append the bars the store does not have yet (existing bars are never rewritten)."""
        df = _normalise(df, CANDLE_COLUMNS)
        validate_candles(df, source, interval)
        path = self.candles_path(coin, interval)
        with self._lock():
            merged, added = _append_new(path, df)
            validate_candles(merged, str(path), interval)
            if added:
                write_parquet_atomic(merged, path)
        return MergeResult(added, len(merged), find_gaps(merged["timestamp"], interval_timedelta(interval)))

    def merge_funding(self, coin: str, df: pd.DataFrame, *, source: str) -> MergeResult:
        df = _normalise(df, FUNDING_COLUMNS)
        validate_funding(df, source)
        path = self.funding_path(coin)
        with self._lock():
            merged, added = _append_new(path, df)
            if added:
                write_parquet_atomic(merged, path)
        return MergeResult(added, len(merged), find_gaps(merged["timestamp"], pd.Timedelta(hours=1)))

    def is_empty(self) -> bool:
        """No candles and no funding at all (file names only: nothing is read)."""
        return not any(self.root.glob("*-*.parquet")) and not any((self.root / "funding").glob("*.parquet"))

    def entries(self) -> list[StoreEntry]:
        out = []
        for path in sorted(self.root.glob("*-*.parquet")):
            coin, interval = path.stem.rsplit("-", 1)
            ts = pd.read_parquet(path, columns=["timestamp"])["timestamp"]
            gaps = find_gaps(ts, interval_timedelta(interval))
            out.append(StoreEntry(coin, interval, path, len(ts), ts.iloc[0], ts.iloc[-1], gaps))
        return out

    def funding_entry(self, coin: str) -> StoreEntry | None:
        """The coin's funding history (interval ``1h``: the store's funding is hourly), or None if it has none."""
        path = self.funding_path(coin)
        if not path.exists():
            return None
        ts = pd.read_parquet(path, columns=["timestamp"])["timestamp"]
        return StoreEntry(coin, "1h", path, len(ts), ts.iloc[0], ts.iloc[-1], find_gaps(ts, pd.Timedelta(hours=1)))

    def funding_entries(self) -> list[StoreEntry]:
        """funding_entry of every coin with funding history, by coin name."""
        return [self.funding_entry(path.stem) for path in sorted((self.root / "funding").glob("*.parquet"))]

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise writers (an import and a nightly fetch may overlap)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _normalise(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Keep the schema's columns (when present) with store dtypes: ms UTC timestamps, float64 values."""
    df = df[[c for c in columns if c in df.columns]].copy()
    if "timestamp" in df.columns:
        df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True).astype("datetime64[ms, UTC]")
    for col in df.columns.drop("timestamp", errors="ignore"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df.reset_index(drop=True)


def _append_new(path: Path, new: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    if not path.exists():
        return new, len(new)
    old = pd.read_parquet(path)
    fresh = new[~new["timestamp"].isin(old["timestamp"])]
    if fresh.empty:
        return old, 0
    merged = pd.concat([old, fresh], ignore_index=True).sort_values("timestamp", kind="stable")
    return merged.reset_index(drop=True), len(fresh)
