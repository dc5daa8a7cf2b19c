"""The replay clock: market time that runs `speed` times faster than the wall clock and can be stepped."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["ReplayClock"]


class ReplayClock:
    """Replay time in epoch ms: `start_ms + speed * wall-seconds-elapsed * 1000 + steps`, clamped to `end_ms`.

    `speed=0` freezes time so that only `step` moves it (what tests use).

    >>> clock = ReplayClock(1_000, 1_000_000, speed=0.0)
    >>> clock.step(3_600_000)
    1000000
    """

    def __init__(self, start_ms: int, end_ms: int, *, speed: float = 1.0,
                 wall: Callable[[], float] = time.monotonic) -> None:
        if speed < 0:
            raise ValueError(f"speed={speed!r}: must be >= 0")
        if end_ms < start_ms:
            raise ValueError(f"end_ms={end_ms} is before start_ms={start_ms}")
        self._lock = threading.Lock()
        self._start_ms = start_ms
        self._end_ms = end_ms
        self._speed = speed
        self._wall = wall
        self._wall0 = wall()
        self._stepped_ms = 0

    @property
    def end_ms(self) -> int:
        """Where replay stops (the close of the last bar)."""
        return self._end_ms

    def now_ms(self) -> int:
        """Current replay time in epoch milliseconds."""
        with self._lock:
            elapsed = (self._wall() - self._wall0) * 1000.0 * self._speed
            return min(self._end_ms, self._start_ms + self._stepped_ms + int(elapsed))

    def step(self, ms: int) -> int:
        """Move replay time forward by `ms` (≥ 0) and return the new time."""
        if ms < 0:
            raise ValueError(f"ms={ms}: the replay clock only moves forward")
        with self._lock:
            self._stepped_ms += ms
        return self.now_ms()
