"""Identifiers that make orders safe to retry: deterministic client order ids and strictly rising nonces."""
from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from hyperliquid.utils.types import Cloid

__all__ = ["cloid_for", "NonceSource", "PROCESS_NONCES"]


def cloid_for(strategy_id: str, bar_time_ms: int, tag: str = "") -> Cloid:
    """The client order id of a strategy's order for one bar: the first 16 bytes of
    sha256("<strategy_id>|<bar_time_ms>|<tag>"); `tag` tells apart several orders of one bar.

    >>> str(cloid_for("s1", 1_700_000_000_000)) == str(cloid_for("s1", 1_700_000_000_000))
    True
    """
    if not strategy_id:
        raise ValueError("strategy_id='': a cloid needs a strategy id")
    digest = hashlib.sha256(f"{strategy_id}|{int(bar_time_ms)}|{tag}".encode()).digest()[:16]
    return Cloid("0x" + digest.hex())


class NonceSource:
    """Nonces in epoch milliseconds that strictly increase across every caller sharing this source."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        """max(now in ms, previous + 1)."""
        with self._lock:
            self._last = max(int(self._clock() * 1000), self._last + 1)
            return self._last


PROCESS_NONCES = NonceSource()
"""The process-wide source every client uses unless given another: one signer, one rising sequence."""
