"""Market data from the info API: parsers for candleSnapshot and fundingHistory, and pagers over them.

Candles come back as {t, T, s, i, o, h, l, c, v, n} with prices as strings, at most 5,000 per call and
only from the latest 5,000; funding rows as {coin, fundingRate, premium, time}, at most 500 per call.
Both are paged forward by startTime. Frames use the market store's schema: candles `timestamp` (bar
open, datetime64[ms, UTC]), open, high, low, close, volume; funding `timestamp` (the hour the rate was
paid; the API's few milliseconds past the hour are dropped), funding_rate, premium.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from hyperliquid.info import Info

from exchange.hyperliquid.limits import INTERVAL_MS, RATE_LIMITS
from exchange.hyperliquid.rate_limit import WeightBudget

__all__ = ["parse_candles", "parse_funding", "candle_pages", "funding_pages"]

_HOUR_MS = INTERVAL_MS["1h"]
Call = Callable[[Callable[[], Any]], Any]
"""Runs one request, e.g. with retries: `call(lambda: info.candles_snapshot(...))`."""


def _timestamps(ms: list[int]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(ms, dtype="datetime64[ms]")).tz_localize("UTC")


def parse_candles(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """candleSnapshot rows -> timestamp, open, high, low, close, volume (float64), oldest first."""
    frame = pd.DataFrame({
        "timestamp": _timestamps([int(r["t"]) for r in rows]),
        **{name: np.array([float(r[key]) for r in rows], dtype=np.float64)
           for name, key in (("open", "o"), ("high", "h"), ("low", "l"), ("close", "c"), ("volume", "v"))},
    })
    return frame.sort_values("timestamp", ignore_index=True)


def parse_funding(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """fundingHistory rows -> timestamp (hour), funding_rate, premium (float64), oldest first."""
    frame = pd.DataFrame({
        "timestamp": _timestamps([int(r["time"]) // _HOUR_MS * _HOUR_MS for r in rows]),
        "funding_rate": np.array([float(r["fundingRate"]) for r in rows], dtype=np.float64),
        "premium": np.array([float(r["premium"]) for r in rows], dtype=np.float64),
    })
    return frame.sort_values("timestamp", ignore_index=True)


def candle_pages(info: Info, coin: str, interval: str, start_ms: int, end_ms: int, *, call: Call,
                 budget: WeightBudget) -> Iterator[pd.DataFrame]:
    """Closed candles with bar open in [start_ms, end_ms], one frame per call, oldest first.

    A candle still open at `end_ms` (close time T ≥ end_ms) is left out: the store keeps final bars only.
    """
    step = INTERVAL_MS[interval]
    while start_ms <= end_ms:
        budget.spend(RATE_LIMITS.info_weight)
        rows = call(lambda: info.candles_snapshot(coin, interval, start_ms, end_ms))
        budget.spend(len(rows) // RATE_LIMITS.candles_per_extra_weight)
        closed = [r for r in rows if int(r["T"]) < end_ms]
        if closed:
            yield parse_candles(closed)
        if len(closed) < len(rows) or not rows:
            return
        start_ms = max(start_ms, int(rows[-1]["t"])) + step


def funding_pages(info: Info, coin: str, start_ms: int, end_ms: int, *, call: Call,
                  budget: WeightBudget) -> Iterator[pd.DataFrame]:
    """Funding rows with time in [start_ms, end_ms], one frame per call, oldest first."""
    while start_ms <= end_ms:
        budget.spend(RATE_LIMITS.info_weight)
        rows = call(lambda: info.funding_history(coin, start_ms, end_ms))
        budget.spend(len(rows) // RATE_LIMITS.funding_rows_per_extra_weight)
        if not rows:
            return
        yield parse_funding(rows)
        start_ms = max(start_ms, int(rows[-1]["time"])) + 1
