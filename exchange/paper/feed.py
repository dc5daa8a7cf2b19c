"""Completed hourly bars and funding of the book's coins, polled from the venue's info API and cached.

The first request for a coin reads every candle the venue serves (at most its latest 5,000) and the
funding rows since the first of them; later requests read only what is new. A candle whose close
lies in the future (Hyperliquid serves the bar in progress) is dropped: only completed bars exist here.

Funding is only fetched for the coins that need it at a bar (a position to charge, or a family that
reads it); the rows of the past never change, so fetching them later gives the same numbers.
Funding enters in two places, each with its own alignment:
- the kernels' input (`Market.funding`): the rate of the bar opening at hour h is the sum of the
  rows stamped in [h, h + 1 h), as the market store aligns it (tasks/market/source.py), the assumed
  rate where a bar has no row;
- the charge for holding a position over a bar (`Bar.funding` of the bars `bar` returns): the rows
  stamped in (open, close], charged on the position at the bar's close price, as the venue charges them.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from hyperliquid.info import Info

from exchange.hyperliquid.limits import HISTORY, INTERVAL_MS, bars_per_year
from exchange.hyperliquid.market_data import parse_candles, parse_funding
from exchange.hyperliquid.retry import RetryPolicy, call_with_retries
from exchange.replay import Bar
from kernels.evaluate import Market

__all__ = ["INTERVAL", "BAR_MS", "BARS_PER_YEAR", "MarketFeed"]

INTERVAL = "1h"
"""The paper trader's bars (the registry accepts 1h strategies only)."""
BAR_MS = INTERVAL_MS[INTERVAL]
BARS_PER_YEAR = bars_per_year(INTERVAL)
"""Annualisation factor of the paper trader's per-bar returns (8760)."""
_FUNDING_PAGE = HISTORY.funding_per_response


class _Coin:
    """One coin's cache: candle arrays (bar open ms, ohlcv) and funding rows (hour ms, rate), oldest first."""

    def __init__(self) -> None:
        self.t = np.empty(0, np.int64)
        self.ohlcv = np.empty((0, 5))
        self.funding_t = np.empty(0, np.int64)
        self.funding_rate = np.empty(0)
        self.funding_next_ms = 0  # fundingHistory startTime of the next request


class MarketFeed:
    """Completed bars of any coin the venue lists, fetched on demand.

    Args:
        info: the SDK's Info (e.g. `HyperliquidClient.info`).
        retry: retry policy of each request (temporary errors only).
        assumed_funding_rate: kernel funding rate of a bar without any funding row (fraction per hour).
        keep_bars: most bars kept per coin (the venue serves at most 5,000).
        wall_ms: the wall clock, to drop the bar in progress.
    """

    def __init__(self, info: Info, retry: RetryPolicy, *, assumed_funding_rate: float, keep_bars: int = 5000,
                 wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._info = info
        self._retry = retry
        self._assumed = assumed_funding_rate
        self._keep = keep_bars
        self._wall_ms = wall_ms
        self._sleep = sleep
        self._coins: dict[str, _Coin] = {}

    def _call(self, fn: Callable[[], Any]) -> Any:
        return call_with_retries(fn, self._retry, sleep=self._sleep)

    def refresh(self, coins: list[str], funding: list[str]) -> None:
        """Fetch the bars each of `coins` gained since the last call, and the funding rows of `funding`
        (the coins whose funding is needed now: fetched later, history reads the same)."""
        for coin in coins:
            self._fetch_candles(coin, self._coins.setdefault(coin, _Coin()))
        for coin in funding:
            self._fetch_funding(coin, self._coins.setdefault(coin, _Coin()))

    def _fetch_candles(self, coin: str, cache: _Coin) -> None:
        start = int(cache.t[-1]) + BAR_MS if len(cache.t) else 0
        now = self._wall_ms()
        while True:
            rows = self._call(lambda: self._info.candles_snapshot(coin, INTERVAL, start, now))
            rows = [r for r in rows if int(r["T"]) < now and int(r["t"]) >= start]
            if not rows:
                return
            frame = parse_candles(rows)
            t = frame["timestamp"].to_numpy("datetime64[ms]").astype(np.int64)
            ohlcv = frame[["open", "high", "low", "close", "volume"]].to_numpy(np.float64)
            cache.t = np.concatenate([cache.t, t])[-self._keep:]
            cache.ohlcv = np.concatenate([cache.ohlcv, ohlcv])[-self._keep:]
            if len(rows) < HISTORY.candles_per_response:
                return
            start = int(t[-1]) + BAR_MS

    def _fetch_funding(self, coin: str, cache: _Coin) -> None:
        if not len(cache.t):
            return
        start = max(cache.funding_next_ms, int(cache.t[0]))
        while True:
            rows = self._call(lambda: self._info.funding_history(coin, start, None))
            if not rows:
                return
            frame = parse_funding(rows)
            cache.funding_t = np.concatenate([cache.funding_t,
                                              frame["timestamp"].to_numpy("datetime64[ms]").astype(np.int64)])
            cache.funding_rate = np.concatenate([cache.funding_rate, frame["funding_rate"].to_numpy(np.float64)])
            start = cache.funding_next_ms = max(int(r["time"]) for r in rows) + 1
            if len(rows) < _FUNDING_PAGE:
                return

    def latest(self, coins: list[str]) -> int | None:
        """Open time of the newest completed bar of any of `coins` (None when none has a bar). A coin
        without a candle for that hour (no trade in it) simply has no bar there (`bar` gives None)."""
        ends = [int(self._coins[c].t[-1]) for c in coins if c in self._coins and len(self._coins[c].t)]
        return max(ends) if ends else None

    def first(self, coin: str) -> int | None:
        """Open time of the oldest cached bar of `coin`."""
        cache = self._coins.get(coin)
        return int(cache.t[0]) if cache is not None and len(cache.t) else None

    def bar(self, coin: str, open_ms: int) -> Bar | None:
        """The bar of `coin` opening at `open_ms` (index: hours since the epoch; funding: the rows stamped
        in (open, close]), or None when the venue has no such bar."""
        cache = self._coins.get(coin)
        if cache is None:
            return None
        i = int(np.searchsorted(cache.t, open_ms))
        if i >= len(cache.t) or cache.t[i] != open_ms:
            return None
        lo, hi = np.searchsorted(cache.funding_t, [open_ms + 1, open_ms + BAR_MS + 1])
        charged = float(np.sum(cache.funding_rate[lo:hi]))
        o, h, low, c, v = (float(x) for x in cache.ohlcv[i])
        return Bar(open_ms // BAR_MS, open_ms, o, h, low, c, v, charged)

    def history(self, coin: str, start_ms: int, stop_ms: int) -> tuple[np.ndarray, np.ndarray]:
        """(bar open times, ohlcv[:, 5]) of the cached bars opening in [start_ms, stop_ms]."""
        cache = self._coins[coin]
        lo, hi = np.searchsorted(cache.t, [start_ms, stop_ms + 1])
        return cache.t[lo:hi], cache.ohlcv[lo:hi]

    def market(self, coin: str, start_ms: int, stop_ms: int) -> Market:
        """The kernels' view of bars opening in [start_ms, stop_ms] (module docstring for funding)."""
        t, ohlcv = self.history(coin, start_ms, stop_ms)
        if not len(t):
            raise ValueError(f"no {coin} bars between {start_ms} and {stop_ms}")
        cache = self._coins[coin]
        hour = cache.funding_t
        bins = np.searchsorted(t, hour, side="right") - 1
        inside = (bins >= 0) & (hour < t[-1] + BAR_MS)
        counts = np.bincount(bins[inside], minlength=len(t))
        sums = np.bincount(bins[inside], weights=cache.funding_rate[inside], minlength=len(t))
        funding = np.where(counts > 0, sums, self._assumed)
        arrays = [np.ascontiguousarray(ohlcv[:, j]) for j in range(5)]
        return Market(*arrays, np.ascontiguousarray(funding, dtype=np.float64), BARS_PER_YEAR)
