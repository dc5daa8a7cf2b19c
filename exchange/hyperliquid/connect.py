"""Opening the SDK's `Info` without its extra start-up calls: fetch `meta` once (with retries), pass it in."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hyperliquid.api import API
from hyperliquid.info import Info

from exchange.hyperliquid.retry import call_with_retries
from exchange.hyperliquid.settings import ExchangeSettings

__all__ = ["NO_SPOT_META", "fetch_meta", "make_info"]

NO_SPOT_META: dict[str, list[Any]] = {"universe": [], "tokens": []}
"""Passed as `spot_meta` so the SDK skips its spotMeta call; uce trades perps only."""


def fetch_meta(settings: ExchangeSettings, *, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """The perp `meta` (universe with szDecimals and maxLeverage) of the configured endpoint."""
    api = API(settings.url, settings.timeout_s)
    return call_with_retries(lambda: api.post("/info", {"type": "meta", "dex": ""}), settings.retry_policy(),
                             sleep=sleep)


def make_info(settings: ExchangeSettings, meta: dict[str, Any]) -> Info:
    """An `Info` with no websocket, a timeout, and the given meta (so construction makes no request)."""
    return Info(settings.url, skip_ws=True, meta=meta, spot_meta=NO_SPOT_META, timeout=settings.timeout_s)
