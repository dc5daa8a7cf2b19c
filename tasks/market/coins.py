"""Coin names as Hyperliquid spells them: BTC, ETH, kPEPE, 1000BONK. No list of coins anywhere: a coin is
whatever the market store (or the venue's ``meta``) has; this only checks a name's shape, because names
become file names in the store."""
from __future__ import annotations

import re

__all__ = ["coin_name", "parse_coins"]

# Letters and digits: Hyperliquid's perpetuals are upper case, with a lower-case "k" on the ones quoted
# per thousand units (kPEPE, kSHIB). Nothing that could leave the store's folder or split a list.
_COIN_RE = re.compile(r"^[A-Za-z0-9]{1,20}$")


def coin_name(text: str) -> str:
    """``text`` as a coin name: stripped, all-lower-case input upper-cased ("btc" -> "BTC"), any other
    spelling kept as typed ("kPEPE"). A ValueError names a name of the wrong shape."""
    name = text.strip()
    if not _COIN_RE.match(name):
        raise ValueError(f"coin name {text!r} is not valid: letters and digits as Hyperliquid spells them, "
                         "e.g. BTC, kPEPE")
    return name.upper() if name.islower() else name


def parse_coins(text: str) -> tuple[str, ...]:
    """'btc, kPEPE' -> ('BTC', 'kPEPE')."""
    return tuple(coin_name(part) for part in text.split(",") if part.strip())
