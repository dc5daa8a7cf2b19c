"""Refresh the market store before a nightly run: fetch what is new, and never stop the run over it.

A refresh is best-effort. Whatever goes wrong (no network, a coin the venue does not list, an answer
that is not market data) is logged as a warning and returned as ``ok=False`` with a one-line error
naming the endpoint; the run then uses the store as it is. Pages merged before a failure stay: the
store merges each page atomically as it arrives. The record counts what the store itself gained, coin
by coin, so a refresh that fails on its second coin still says what the first one added.

How long a refresh can take without a network: every request is bounded by ``timeout_s`` and tried
``max_attempts`` times with the endpoint's backoff (0.25 s, 0.5 s, 1 s, ...), and the first request
that keeps failing ends the refresh. With the defaults (10 s, 4 attempts), a refused connection or
an unresolvable host fails after ~1.75 s of backoff, and a host that never answers after ~42 s.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import pandas as pd
import pyarrow.parquet as pq

from exchange.errors import ExchangeError
from exchange.hyperliquid.settings import ENDPOINTS, ExchangeSettings
from tasks.market.fetch import fetch_market_data
from tasks.market.store import MarketStore, find_gaps, interval_timedelta

__all__ = ["REFRESH_MAX_ATTEMPTS", "REFRESH_TIMEOUT_S", "refresh_market_data"]

log = logging.getLogger(__name__)

REFRESH_TIMEOUT_S = 10.0
"""Seconds one request may take (connect, and each read)."""
REFRESH_MAX_ATTEMPTS = 4
"""Tries per request: fewer than `ExchangeSettings`' 6, so a dead host costs ~42 s, not ~68 s."""
_MAX_ERROR_CHARS = 300
# Failures a refresh expects (network, venue refusals, bad answers); others are bugs and keep their traceback.
_EXPECTED = (ExchangeError, OSError, ValueError)


class _Rows(NamedTuple):
    candles: int
    funding: int


def refresh_market_data(store: MarketStore, endpoint: str, coins: Sequence[str], interval: str, *,
                        sleep: Callable[[float], None] = time.sleep, end_ms: int | None = None,
                        timeout_s: float = REFRESH_TIMEOUT_S,
                        max_attempts: int = REFRESH_MAX_ATTEMPTS) -> dict[str, Any]:
    """Fetch new candles and funding of `coins` from `endpoint` ("mainnet", "testnet" or a URL) into
    `store`; returns the manifest's ``data_refresh`` record. A failed fetch never raises; only a store
    whose own files cannot be read does (the run could not load it either).

    Record: ``{"endpoint", "interval", "ok", "new_bars" (candles added, all coins), "coins": {coin:
    {"candles_added", "candles_total", "funding_added", "gaps" (missing stretches), "last_bar" (ISO,
    UTC, or None)}}, "error" (one line, or None), "seconds"}``. `end_ms` (epoch ms) is where the fetch
    stops (default now); `sleep` is the retry backoff's.
    """
    started = time.monotonic()
    before = {coin: _rows(store, coin, interval) for coin in coins}
    error = _fetch(store, endpoint, list(coins), interval, sleep=sleep, end_ms=end_ms, timeout_s=timeout_s,
                   max_attempts=max_attempts)
    per_coin = {coin: _coin_record(store, coin, interval, before[coin]) for coin in coins}
    return {
        "endpoint": endpoint,
        "interval": interval,
        "ok": error is None,
        "new_bars": sum(c["candles_added"] for c in per_coin.values()),
        "coins": per_coin,
        "error": error,
        "seconds": round(time.monotonic() - started, 3),
    }


def _fetch(store: MarketStore, endpoint: str, coins: list[str], interval: str, *,
           sleep: Callable[[float], None], end_ms: int | None, timeout_s: float, max_attempts: int) -> str | None:
    """Run the fetch; None when it succeeded, else the one-line error (already logged)."""
    try:
        settings = ExchangeSettings(endpoint=endpoint, timeout_s=timeout_s, max_attempts=max_attempts)
        fetch_market_data(store, settings, coins, interval, end_ms=end_ms, sleep=sleep)
    except Exception as exc:  # noqa: BLE001 - a refresh is best-effort: the run goes on with the store as it is
        error = f"data refresh from {_where(endpoint)} failed: {type(exc).__name__}: {_reason(exc)}"
        log.warning(error, exc_info=not isinstance(exc, _EXPECTED))
        return error
    return None


def _where(endpoint: str) -> str:
    """The endpoint as given, with its URL when it is a name ("mainnet (https://api.hyperliquid.xyz)")."""
    url = ENDPOINTS.get(endpoint)
    return f"{endpoint} ({url})" if url else endpoint


def _reason(exc: BaseException) -> str:
    """One line: the innermost OS error behind `exc` when there is one ("[Errno 111] Connection refused"
    says more than the requests and urllib3 wrappers around it), else the exception's own message."""
    os_errors = [e for e in _chain(exc) if isinstance(e, OSError) and str(e)]
    text = " ".join(str(os_errors[-1] if os_errors else exc).split()) or repr(exc)
    return text if len(text) <= _MAX_ERROR_CHARS else text[:_MAX_ERROR_CHARS - 1] + "…"


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc`, then what it was raised from or during, innermost last."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _rows(store: MarketStore, coin: str, interval: str) -> _Rows:
    """Row counts of the coin's candle and funding files (0 when absent), from the Parquet footers."""
    return _Rows(*(pq.read_metadata(path).num_rows if path.exists() else 0
                   for path in (store.candles_path(coin, interval), store.funding_path(coin))))


def _coin_record(store: MarketStore, coin: str, interval: str, before: _Rows) -> dict[str, Any]:
    """What the store gained for `coin` since `before`, its size, gaps and last bar."""
    after = _rows(store, coin, interval)
    path = store.candles_path(coin, interval)
    timestamps = pd.read_parquet(path, columns=["timestamp"])["timestamp"] if after.candles else None
    return {
        "candles_added": after.candles - before.candles,
        "candles_total": after.candles,
        "funding_added": after.funding - before.funding,
        "gaps": len(find_gaps(timestamps, interval_timedelta(interval))) if timestamps is not None else 0,
        "last_bar": timestamps.iloc[-1].isoformat() if timestamps is not None else None,
    }
