"""Reading market files from elsewhere into the store's schema.

Candles: Binance kline CSVs and generic CSV/Parquet OHLCV files. Funding: Hyperliquid ``fundingHistory``
rows (``coin, fundingRate, premium, time``) as JSON, CSV or Parquet, or any CSV/Parquet/JSON file with a
timestamp column and ``funding_rate`` (``premium`` optional). Rows stay in file order, so a refusal names
the row as it is numbered in the file.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from tasks.market.coins import coin_name
from tasks.market.store import MarketDataError, MarketStore, MergeResult

__all__ = ["import_file", "import_funding_file", "read_funding_file", "read_ohlcv_file"]

# Binance kline files: header-less in older dumps, with this header in newer ones.
_BINANCE_COLUMNS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time",
    "quote_volume", "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore",
)
_TIME_NAMES = ("timestamp", "open_time", "datetime", "date", "time", "ts")
# Hyperliquid's fundingHistory spelling, after column names are lower-cased; its `time` is a time name.
_FUNDING_ALIASES = {"fundingrate": "funding_rate"}


def import_file(store: MarketStore, path: Path, coin: str, interval: str) -> MergeResult:
    """Read ``path``, validate it and merge it into the store (atomically; nothing changes on error)."""
    return store.merge_candles(coin, interval, read_ohlcv_file(path), source=str(path))


def import_funding_file(store: MarketStore, path: Path, coin: str) -> MergeResult:
    """Read a funding file for ``coin``, validate it and append its new hours (nothing changes on error)."""
    return store.merge_funding(coin, read_funding_file(path, coin), source=str(path))


def read_ohlcv_file(path: Path) -> pd.DataFrame:
    """A DataFrame with the store's columns, rows in file order (validation reports file rows)."""
    path = Path(path)
    raw = _read_table(path, suffixes=(".csv", ".txt", ".parquet"))
    time_col = _time_column(raw, path)
    return raw.drop(columns=[time_col]).assign(timestamp=_parse_times(raw[time_col], path))


def read_funding_file(path: Path, coin: str) -> pd.DataFrame:
    """timestamp (the hour, as Hyperliquid's fundingHistory rows are a few ms past it), funding_rate,
    premium (NaN where the file has none), in file order. Refuses rows of another coin than ``coin``.

    Hyperliquid's columns are read as aliases of the generic ones rather than through
    ``exchange.hyperliquid.market_data.parse_funding``: that parser sorts the rows and raises without a row number, so a
    refusal could not name the file's row. The tests hold both to the same frame for the same rows.
    """
    path = Path(path)
    raw = _read_table(path, suffixes=(".csv", ".txt", ".parquet", ".json")).rename(columns=_FUNDING_ALIASES)
    if raw.empty:
        raise MarketDataError(f"{path}: no rows")
    if "funding_rate" not in raw.columns:
        raise MarketDataError(f"{path}: missing column funding_rate (or Hyperliquid's fundingRate)")
    if "coin" in raw.columns:
        _check_coin(raw["coin"], path, coin)
    times = _parse_times(raw[_time_column(raw, path)], path)
    return pd.DataFrame({
        "timestamp": times.dt.floor("h").astype("datetime64[ms, UTC]"),  # the store's schema, as parse_funding
        "funding_rate": _numbers(raw["funding_rate"], "funding_rate", path),
        "premium": _numbers(raw["premium"], "premium", path) if "premium" in raw.columns else np.nan,
    })


def _read_table(path: Path, *, suffixes: tuple[str, ...]) -> pd.DataFrame:
    """The file's rows with stripped, lower-cased column names; a one-line MarketDataError if unreadable."""
    if not path.is_file():
        raise MarketDataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        expected = ", ".join(sorted({s for s in suffixes if s != ".txt"}))
        raise MarketDataError(f"{path}: unsupported file type {suffix!r} (expected {expected})")
    if path.stat().st_size == 0:
        raise MarketDataError(f"{path}: empty file")
    read = {".parquet": _read_parquet, ".json": _read_json_rows}.get(suffix, _read_csv)
    raw = read(path)
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    return raw


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (pa.ArrowException, OSError) as exc:
        raise MarketDataError(f"{path}: not a readable Parquet file ({_first_line(exc)})") from None


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        first = path.open().readline()
        if first[:1].isdigit():  # header-less Binance kline dump
            return pd.read_csv(path, header=None, names=_BINANCE_COLUMNS[: first.count(",") + 1])
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise MarketDataError(f"{path}: empty file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise MarketDataError(f"{path}: not a readable CSV ({_first_line(exc)})") from None


def _read_json_rows(path: Path) -> pd.DataFrame:
    """A JSON list of row objects, as Hyperliquid's fundingHistory answers."""
    try:
        rows = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise MarketDataError(f"{path}: not readable JSON ({_first_line(exc)})") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise MarketDataError(f"{path}: expected a JSON list of row objects, e.g. Hyperliquid's fundingHistory "
                              '[{"coin": "BTC", "fundingRate": "0.0000125", "premium": "0.0", "time": ...}]')
    return pd.DataFrame(rows)


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _time_column(raw: pd.DataFrame, path: Path) -> str:
    name = next((c for c in _TIME_NAMES if c in raw.columns), None)
    if name is None:
        raise MarketDataError(f"{path}: missing column timestamp (or one of {', '.join(_TIME_NAMES[1:])})")
    return name


def _check_coin(coins: pd.Series, path: Path, coin: str) -> None:
    """A file's own coin column must agree with ``--coin``: funding of one coin stored as another's is silent."""
    for row, value in enumerate(coins, start=1):
        if _as_coin(value) != coin:
            raise MarketDataError(f"{path}: row {row}: coin {value!r} is not {coin} (the coin being imported)")


def _as_coin(value: object) -> str | None:
    try:
        return coin_name(str(value))
    except ValueError:
        return None


def _numbers(col: pd.Series, name: str, path: Path) -> pd.Series:
    """float64; empty cells become NaN (validation then names them), text that is no number is refused here."""
    numbers = pd.to_numeric(col, errors="coerce")
    not_a_number = numbers.isna() & col.notna() & (col.astype(str).str.strip() != "")
    if not_a_number.any():
        row = int(np.argmax(not_a_number.to_numpy())) + 1
        raise MarketDataError(f"{path}: row {row}: {name} {col.iloc[row - 1]!r} is not a number")
    return numbers.astype("float64")


def _parse_times(col: pd.Series, path: Path) -> pd.Series:
    """Epoch numbers (s, ms, µs or ns, judged by magnitude) or date strings, as UTC."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return pd.to_datetime(col, utc=True)
    numeric = pd.to_numeric(col, errors="coerce")
    if numeric.notna().all():
        magnitude = float(np.nanmax(np.abs(numeric))) if len(numeric) else 0.0
        unit = "s" if magnitude < 1e11 else "ms" if magnitude < 1e14 else "us" if magnitude < 1e17 else "ns"
        return pd.to_datetime(numeric.astype("int64"), unit=unit, utc=True)
    if numeric.notna().any():  # epoch numbers with something else among them: name that row, not row 1
        _refuse_timestamp(numeric.isna().to_numpy(), col, path)
    parsed = pd.to_datetime(col, utc=True, errors="coerce", format="mixed")
    _refuse_timestamp(parsed.isna().to_numpy(), col, path)
    return parsed


def _refuse_timestamp(bad: np.ndarray, col: pd.Series, path: Path) -> None:
    if bad.any():
        row = int(np.argmax(bad)) + 1
        raise MarketDataError(f"{path}: row {row}: unparseable timestamp {col.iloc[row - 1]!r}")
