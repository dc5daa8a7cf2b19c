"""Hyperliquid's wire conventions: numbers as decimal strings, and the 422 for bodies it cannot read."""
from __future__ import annotations

import numpy as np

__all__ = ["num", "usd", "UnsupportedRequest"]


class UnsupportedRequest(ValueError):
    """A body the venue cannot deserialise (answered as HTTP 422 with Hyperliquid's plain-text sentence)."""


def num(x: float) -> str:
    """Shortest decimal string that reads back as exactly `x` ("0.0000125", "29258.0")."""
    return np.format_float_positional(float(x) + 0.0, trim="0")


def usd(x: float) -> str:
    """A USD amount to the micro-dollar, as the exchange reports balances."""
    return num(round(float(x), 6))
