"""Fault injection for resilience tests: added latency and, at a seeded rate, a failed request.

A failed request is one of four kinds, equally likely:
- "server_error": HTTP 500 before the request is handled;
- "rate_limited": HTTP 429 before the request is handled;
- "drop_before": the connection is closed without an answer, the request unhandled;
- "drop_after": the request is handled, then the connection is closed without an answer — the case
  that doubles orders in clients that simply retry.
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Faults", "FaultKind", "FAULT_KINDS"]

FaultKind = Literal["server_error", "rate_limited", "drop_before", "drop_after"]
FAULT_KINDS: tuple[FaultKind, ...] = ("server_error", "rate_limited", "drop_before", "drop_after")


@dataclass
class Faults:
    """What to inject: `error_rate` (fraction of /info and /exchange requests that fail, 0.3 = 30 %),
    `latency_ms` added to every request, and the `seed` that makes the failures reproducible."""

    error_rate: float = 0.0
    latency_ms: float = 0.0
    seed: int = 0
    injected: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate={self.error_rate!r}: expected a fraction in [0, 1]")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms={self.latency_ms!r}: expected >= 0")
        self._rng = random.Random(self.seed)

    def draw(self) -> FaultKind | None:
        """The fault for the next request, or None; counts what it injects in `injected`."""
        with self._lock:
            if self.error_rate == 0.0 or self._rng.random() >= self.error_rate:
                return None
            kind = self._rng.choice(FAULT_KINDS)
            self.injected[kind] = self.injected.get(kind, 0) + 1
            return kind
