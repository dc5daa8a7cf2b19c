"""Reading OHLCV files from elsewhere (Binance kline CSVs, generic CSV/Parquet) into the store's schema."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tasks.market_store import MarketDataError, MarketStore, MergeResult

__all__ = ["import_file", "read_ohlcv_file"]

# Binance kline files: header-less in older dumps, with this header in newer ones.
_BINANCE_COLUMNS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time",
    "quote_volume", "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore",
)
_TIME_NAMES = ("timestamp", "open_time", "datetime", "date", "time", "ts")


def import_file(store: MarketStore, path: Path, coin: str, interval: str) -> MergeResult:
    """Read ``path``, validate it and merge it into the store (atomically; nothing changes on error)."""
    return store.merge_candles(coin, interval, read_ohlcv_file(path), source=str(path))


def read_ohlcv_file(path: Path) -> pd.DataFrame:
    """A DataFrame with the store's columns, rows in file order (validation reports file rows)."""
    path = Path(path)
    if not path.is_file():
        raise MarketDataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        raw = pd.read_parquet(path)
    elif suffix in (".csv", ".txt"):
        raw = _read_csv(path)
    else:
        raise MarketDataError(f"{path}: unsupported file type {suffix!r} (expected .csv or .parquet)")
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    time_col = next((c for c in _TIME_NAMES if c in raw.columns), None)
    if time_col is None:
        raise MarketDataError(f"{path}: missing column timestamp (or one of {', '.join(_TIME_NAMES[1:])})")
    out = raw.drop(columns=[time_col]).assign(timestamp=_parse_times(raw[time_col], path))
    return out


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        first = path.open().readline()
        if first[:1].isdigit():  # header-less Binance kline dump
            return pd.read_csv(path, header=None, names=_BINANCE_COLUMNS[: first.count(",") + 1])
        return pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise MarketDataError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None


def _parse_times(col: pd.Series, path: Path) -> pd.Series:
    """Epoch numbers (s, ms, µs or ns, judged by magnitude) or date strings, as UTC."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return pd.to_datetime(col, utc=True)
    numeric = pd.to_numeric(col, errors="coerce")
    if numeric.notna().all():
        magnitude = float(np.nanmax(np.abs(numeric))) if len(numeric) else 0.0
        unit = "s" if magnitude < 1e11 else "ms" if magnitude < 1e14 else "us" if magnitude < 1e17 else "ns"
        return pd.to_datetime(numeric.astype("int64"), unit=unit, utc=True)
    parsed = pd.to_datetime(col, utc=True, errors="coerce", format="mixed")
    if parsed.isna().any():
        row = int(np.argmax(parsed.isna().to_numpy())) + 1
        raise MarketDataError(f"{path}: row {row}: unparseable timestamp {col.iloc[row - 1]!r}")
    return parsed
