"""A sliding one-minute weight budget, so bulk readers stay inside Hyperliquid's 1,200 weight per minute."""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from exchange.hyperliquid.limits import RATE_LIMITS

__all__ = ["WeightBudget"]

_WINDOW_S = 60.0


class WeightBudget:
    """Blocks before a request whose weight would take the last minute's total over `per_minute`.

    >>> budget = WeightBudget(40, clock=lambda: 0.0, sleep=lambda s: None)
    >>> budget.spend(20), budget.spend(20)
    (0.0, 0.0)
    """

    def __init__(self, per_minute: int = RATE_LIMITS.weight_per_minute, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if per_minute <= 0:
            raise ValueError(f"per_minute={per_minute!r}: expected a positive weight")
        self.per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        self._spent: deque[tuple[float, int]] = deque()
        """(time the spend leaves the window, weight), oldest first."""
        self._total = 0

    def spend(self, weight: int) -> float:
        """Record `weight` once it fits the window; returns the seconds waited for room."""
        if weight <= 0:
            return 0.0
        weight = min(weight, self.per_minute)
        now = self._clock()
        while self._spent and self._spent[0][0] <= now:
            self._total -= self._spent.popleft()[1]
        waited = 0.0
        while self._total + weight > self.per_minute:
            expiry, oldest = self._spent.popleft()
            pause = max(0.0, expiry - self._clock())
            if pause:
                self._sleep(pause)
                waited += pause
            self._total -= oldest
        self._spent.append((self._clock() + _WINDOW_S, weight))
        self._total += weight
        return waited
