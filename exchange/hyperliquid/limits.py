"""Hyperliquid's limits, declared once: tick and lot rules, minimum notional, fees, history depth, rate-limit weights,
candle intervals (and the bars per year they give).

Sources: Hyperliquid docs "Tick and lot size", "Rate limits and user limits", "Info endpoint", "Nonces and
API wallets", "Fees" (base tier). Both the client (rounding before sending) and the loopback venue
(validation) read these, so the two can never disagree; cost defaults elsewhere refer to `FEES`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

__all__ = [
    "AssetRules", "Fees", "HistoryLimits", "NonceWindow", "RateLimits", "FEES", "HISTORY", "NONCES", "RATE_LIMITS",
    "MIN_NOTIONAL_USD", "KNOWN_ASSETS", "INTERVAL_MS", "asset_rules_for", "bars_per_year",
]

MIN_NOTIONAL_USD = 10.0
"""Orders worth less than this (size x limit price, USD) are refused, except reduce-only ones."""

_MAX_SIG_FIGS = 5
_MAX_PERP_DECIMALS = 6

INTERVAL_MS: dict[str, int] = {
    "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000,
    "2h": 7_200_000, "4h": 14_400_000, "8h": 28_800_000, "12h": 43_200_000, "1d": 86_400_000,
    "3d": 259_200_000, "1w": 604_800_000,
}
"""Candle intervals with a fixed length (Hyperliquid also serves "1M", which has none)."""

_YEAR_MS = 365 * INTERVAL_MS["1d"]


def bars_per_year(interval: str) -> float:
    """Bars of `interval` in a 365-day year: the annualisation factor of per-bar returns.

    >>> bars_per_year("1h"), bars_per_year("1d")
    (8760.0, 365.0)
    """
    if interval not in INTERVAL_MS:
        raise ValueError(f"interval={interval!r}: expected one of {', '.join(INTERVAL_MS)}")
    return _YEAR_MS / INTERVAL_MS[interval]


@dataclass(frozen=True)
class AssetRules:
    """Tick and lot rules of one perp: `sz_decimals` from `meta`, prices ≤ 5 significant figures and
    ≤ 6 - sz_decimals decimals (integers always allowed), sizes ≤ sz_decimals decimals.

    >>> AssetRules("BTC", 5, 50).round_price(43123.456)
    43123.0
    >>> AssetRules("ETH", 4, 50).round_size(0.123456)
    0.1235
    """

    name: str
    sz_decimals: int
    max_leverage: int

    @property
    def price_decimals(self) -> int:
        """Most decimals a price may have."""
        return _MAX_PERP_DECIMALS - self.sz_decimals

    def round_price(self, px: float) -> float:
        """Nearest valid price: 5 significant figures, at most `price_decimals` decimals, or an integer."""
        if px <= 0 or not math.isfinite(px):
            raise ValueError(f"px={px!r}: price must be a positive finite number")
        if px >= 10 ** _MAX_SIG_FIGS:
            return float(round(px))
        rounded = round(float(f"{px:.{_MAX_SIG_FIGS}g}"), self.price_decimals)
        if rounded == 0:
            raise ValueError(f"px={px!r}: rounds to 0 at {self.price_decimals} decimals for {self.name}")
        return rounded

    def round_size(self, sz: float) -> float:
        """Nearest valid size (`sz_decimals` decimals)."""
        if sz < 0 or not math.isfinite(sz):
            raise ValueError(f"sz={sz!r}: size must be a non-negative finite number")
        return round(sz, self.sz_decimals)

    def price_is_valid(self, px: str) -> bool:
        """Whether a wire price string satisfies the tick rule."""
        value = _decimal(px)
        if value is None or value <= 0:
            return False
        if value == value.to_integral_value():
            return True
        digits = value.normalize().as_tuple()
        decimals = -digits.exponent
        return decimals <= self.price_decimals and len(digits.digits) <= _MAX_SIG_FIGS

    def size_is_valid(self, sz: str) -> bool:
        """Whether a wire size string satisfies the lot rule (zero is checked separately)."""
        value = _decimal(sz)
        return value is not None and value >= 0 and -min(value.normalize().as_tuple().exponent, 0) <= self.sz_decimals


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        return None
    return value if value.is_finite() else None


KNOWN_ASSETS: dict[str, AssetRules] = {
    rules.name: rules
    for rules in (
        AssetRules("BTC", 5, 50), AssetRules("ETH", 4, 50), AssetRules("ATOM", 2, 50), AssetRules("MATIC", 1, 50),
        AssetRules("DYDX", 1, 50), AssetRules("SOL", 2, 50), AssetRules("AVAX", 2, 50), AssetRules("BNB", 3, 50),
        AssetRules("APE", 1, 50), AssetRules("OP", 1, 50), AssetRules("LTC", 2, 50), AssetRules("ARB", 1, 50),
        AssetRules("DOGE", 0, 50), AssetRules("INJ", 1, 50), AssetRules("SUI", 1, 50), AssetRules("kPEPE", 0, 50),
        AssetRules("CRV", 1, 50), AssetRules("LDO", 1, 50), AssetRules("LINK", 1, 50), AssetRules("STX", 1, 50),
        AssetRules("RNDR", 1, 50), AssetRules("CFX", 0, 50), AssetRules("FTM", 0, 50), AssetRules("GMX", 2, 50),
        AssetRules("SNX", 1, 50), AssetRules("XRP", 0, 50), AssetRules("BCH", 3, 50), AssetRules("APT", 2, 50),
    )
}
"""Mainnet `meta` universe as recorded in ../shared/data/hyperliquid-api (May 2023), in asset-id order."""


def asset_rules_for(coin: str, price: float) -> AssetRules:
    """Rules of a coin: the recorded mainnet ones, else szDecimals sized so one lot is worth about $0.1–$1."""
    if coin in KNOWN_ASSETS:
        return KNOWN_ASSETS[coin]
    sz_decimals = min(_MAX_PERP_DECIMALS - 1, max(0, math.floor(math.log10(price)) + 1)) if price > 0 else 0
    return AssetRules(coin, sz_decimals, 20)


class Fees(NamedTuple):
    """Base-tier perp fees as fractions of traded notional (0.00045 = 0.045 %)."""

    taker: float = 0.00045
    maker: float = 0.00015


class HistoryLimits(NamedTuple):
    """How much an info answer holds."""

    candles_available: int | None = 5000
    """Only the latest 5,000 candles of a coin and interval can be fetched at all (None: no limit)."""
    candles_per_response: int = 5000
    funding_per_response: int = 500
    """fundingHistory answers ≤ 500 rows; page on with startTime = last time + 1."""


class NonceWindow(NamedTuple):
    """A nonce must be new, above the smallest of the signer's 100 highest, and within (T - 2 d, T + 1 d)."""

    kept: int = 100
    behind_ms: int = 2 * 86_400_000
    ahead_ms: int = 86_400_000


class RateLimits(NamedTuple):
    """IP weight budget: 1,200 per minute; info weight 2 for the light requests, 20 for the rest, plus
    1 per 60 candles returned by candleSnapshot and 1 per 20 rows of fundingHistory."""

    weight_per_minute: int = 1200
    info_weight: int = 20
    light_info_weight: int = 2
    light_info_types: frozenset[str] = frozenset(
        {"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState", "exchangeStatus"})
    candles_per_extra_weight: int = 60
    funding_rows_per_extra_weight: int = 20
    exchange_weight: int = 1

    def info_request_weight(self, info_type: str) -> int:
        """Weight charged before any items are counted."""
        return self.light_info_weight if info_type in self.light_info_types else self.info_weight


FEES = Fees()
HISTORY = HistoryLimits()
NONCES = NonceWindow()
RATE_LIMITS = RateLimits()
