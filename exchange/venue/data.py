"""Market data the venue replays: hourly candles and funding per coin, from either folder layout.

Two layouts are recognised:
- the market store: `<dir>/<COIN>-1h.parquet` and `<dir>/funding/<COIN>.parquet`;
- the shared real data: `<dir>/candles-1h/<COIN>.parquet` and `<dir>/funding-1h/<COIN>.parquet`.
Candles: timestamp (bar open, UTC), open, high, low, close, volume. Funding: timestamp (hour the rate was
paid, UTC), funding_rate (fraction per hour, positive = longs pay), premium.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from exchange.hyperliquid.limits import INTERVAL_MS

__all__ = ["CoinSeries", "load_market_data", "BAR_MS"]

BAR_MS = INTERVAL_MS["1h"]
_CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")


class CoinSeries(NamedTuple):
    """One coin's replay data as arrays; times in epoch milliseconds, oldest first."""

    coin: str
    bar_open_ms: np.ndarray  # int64[N]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    funding_ms: np.ndarray  # int64[M]
    funding_rate: np.ndarray
    premium: np.ndarray


class _Layout(NamedTuple):
    candles: dict[str, Path]
    funding_dir: Path


def _detect_layout(root: Path) -> _Layout:
    shared = root / "candles-1h"
    if shared.is_dir():
        return _Layout({p.stem: p for p in sorted(shared.glob("*.parquet"))}, root / "funding-1h")
    store = {p.name[: -len("-1h.parquet")]: p for p in sorted(root.glob("*-1h.parquet"))}
    return _Layout(store, root / "funding")


def _ms(column: pd.Series) -> np.ndarray:
    return column.to_numpy(dtype="datetime64[ms]").astype(np.int64)


def _load_coin(coin: str, candles_path: Path, funding_path: Path) -> CoinSeries:
    candles = pd.read_parquet(candles_path).sort_values("timestamp")
    missing = [c for c in ("timestamp", *_CANDLE_COLUMNS) if c not in candles.columns]
    if missing:
        raise ValueError(f"{candles_path}: missing columns {missing}")
    if funding_path.exists():
        funding = pd.read_parquet(funding_path).sort_values("timestamp")
        funding_ms, rate, premium = _ms(funding["timestamp"]), funding["funding_rate"], funding["premium"]
    else:
        funding_ms, rate, premium = np.empty(0, np.int64), np.empty(0), np.empty(0)
    arrays = [candles[c].to_numpy(np.float64) for c in _CANDLE_COLUMNS]
    return CoinSeries(coin, _ms(candles["timestamp"]), *arrays, funding_ms,
                      np.asarray(rate, np.float64), np.asarray(premium, np.float64))


def load_market_data(root: Path, coins: list[str] | None = None) -> dict[str, CoinSeries]:
    """Hourly candles and funding of every coin under `root` (or only `coins`), keyed by coin name."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"data dir {root} does not exist")
    layout = _detect_layout(root)
    wanted = layout.candles if coins is None else {c: layout.candles.get(c) for c in coins}
    absent = [c for c, p in wanted.items() if p is None]
    if absent or not wanted:
        raise ValueError(f"data dir {root}: no hourly candles for {absent or 'any coin'}")
    return {coin: _load_coin(coin, path, layout.funding_dir / f"{coin}.parquet") for coin, path in wanted.items()}
