"""`uce data fetch`: page candles and funding from Hyperliquid's info API into the market store.

Hyperliquid serves only the latest 5,000 candles of a coin and interval (about 208 days of hourly bars),
so the store is the history: each run appends what is new since the store's last bar, and the store
grows with every nightly run. Every page is merged as soon as it arrives, so a fetch that is killed
midway keeps what it had and the next run resumes from there; the store's dedupe by timestamp makes
overlaps harmless. Requests stay inside the per-minute weight budget, and gaps in the store are reported.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import pandas as pd
from hyperliquid.info import Info

from exchange.errors import ConfigurationError
from exchange.hyperliquid.connect import fetch_meta, make_info
from exchange.hyperliquid.limits import INTERVAL_MS, RATE_LIMITS
from exchange.hyperliquid.market_data import Call, candle_pages, funding_pages
from exchange.hyperliquid.rate_limit import WeightBudget
from exchange.hyperliquid.retry import call_with_retries
from exchange.hyperliquid.settings import ExchangeSettings
from tasks.market.store import MarketDataError, MarketStore, epoch_ms, find_gaps, interval_timedelta
from tasks.orchestration.retry_policy import Policy, retry_policy

__all__ = ["FetchReport", "fetch_coin", "fetch_market_data"]

_HOUR_MS = INTERVAL_MS["1h"]


class FetchReport(NamedTuple):
    """What one coin's fetch added, and the gaps (first and last missing bar) left in its candles."""

    coin: str
    interval: str
    candles_added: int
    candles_total: int
    funding_added: int
    gaps: list[tuple[pd.Timestamp, pd.Timestamp]]


def _last_ms(frame: pd.DataFrame | None) -> int | None:
    return int(epoch_ms(frame["timestamp"]).max()) if frame is not None and len(frame) else None


def _utc_ms(ts: pd.Timestamp) -> int:
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000)


def fetch_coin(store: MarketStore, info: Info, coin: str, interval: str, *, since_ms: int, end_ms: int,
               call: Call, budget: WeightBudget, source: str) -> FetchReport:
    """Fetch one coin's candles, then its funding, from the store's last row (or `since_ms`) to `end_ms`."""
    try:
        candles = store.read_candles(coin, interval)
    except MarketDataError:
        candles = None
    last = _last_ms(candles)
    start = since_ms if last is None else max(since_ms, last + INTERVAL_MS[interval])
    added, total = 0, 0 if candles is None else len(candles)
    for page in candle_pages(info, coin, interval, start, end_ms, call=call, budget=budget):
        merged = store.merge_candles(coin, interval, page, source=source)
        added, total = added + merged.added, merged.total
    last_funding = _last_ms(store.read_funding(coin))
    start = since_ms if last_funding is None else max(since_ms, last_funding + _HOUR_MS)
    funding_added = 0
    for page in funding_pages(info, coin, start, end_ms, call=call, budget=budget):
        funding_added += store.merge_funding(coin, page, source=source).added
    gaps = find_gaps(store.read_candles(coin, interval)["timestamp"], interval_timedelta(interval)) if total else []
    return FetchReport(coin, interval, added, total, funding_added, gaps)


@retry_policy(Policy("market", retries=3, backoff_s=5.0, backoff_max_s=120.0))
def fetch_market_data(store: MarketStore, settings: ExchangeSettings, coins: list[str], interval: str = "1h", *,
                      since: pd.Timestamp | None = None, end_ms: int | None = None,
                      budget: WeightBudget | None = None,
                      sleep: Callable[[float], None] = time.sleep) -> list[FetchReport]:
    """Fetch `coins` at `interval` from `settings.endpoint` into `store`, one coin after the other.

    `since` (UTC) is where a coin the store lacks starts; without it, the oldest bar the API still
    serves. Transport failures are retried with backoff; one that persists raises its typed error,
    leaving every page merged so far in the store. Each coin fetched in full is recorded in the store's
    fetch record (MarketStore.record_fetch): its series is fed by fetching.
    """
    if interval not in INTERVAL_MS:
        raise ValueError(f"interval={interval!r}: expected one of {', '.join(INTERVAL_MS)}")
    budget = budget or WeightBudget()
    budget.spend(RATE_LIMITS.info_weight)
    meta = fetch_meta(settings, sleep=sleep)
    listed = {asset["name"] for asset in meta["universe"]}
    unknown = [c for c in coins if c not in listed]
    if unknown:
        raise ConfigurationError(f"coins {', '.join(unknown)} are not listed by {settings.url}")
    info = make_info(settings, meta)
    policy = settings.retry_policy()

    def call(fn: Callable[[], Any]) -> Any:
        return call_with_retries(fn, policy, sleep=sleep)

    since_ms = 0 if since is None else _utc_ms(pd.Timestamp(since))
    end = int(time.time() * 1000) if end_ms is None else end_ms
    reports = []
    for coin in coins:
        reports.append(fetch_coin(store, info, coin, interval, since_ms=since_ms, end_ms=end, call=call,
                                  budget=budget, source=settings.url))
        # Marks the series as fed by fetching: `uce health` judges its freshness, not that of imported ones.
        store.record_fetch(coin, interval, endpoint=settings.url, fetched_at=time.time())
    return reports
