"""The loopback venue: replayed market, accounts, signed actions and faults behind one lock."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from exchange.hyperliquid.limits import FEES, HISTORY, Fees, HistoryLimits
from exchange.venue.actions import ExchangeApi
from exchange.venue.clock import ReplayClock
from exchange.venue.data import BAR_MS, CoinSeries, load_market_data
from exchange.venue.engine import Engine
from exchange.venue.faults import Faults
from exchange.venue.info import InfoApi
from exchange.venue.wire import UnsupportedRequest

__all__ = ["Venue", "DEFAULT_REPLAY_DAYS"]

DEFAULT_REPLAY_DAYS = 14
"""Without an explicit start, replay begins this many days before the end of the data."""


class Venue:
    """A Hyperliquid-compatible market over replayed hourly data.

    Every request first brings the engine up to the replay clock (filling resting orders and charging
    funding at each bar close on the way), then answers under the venue's lock.

    Args:
        data: per-coin candles and funding (see `load_market_data`).
        start_ms: replay start (epoch ms); default `DEFAULT_REPLAY_DAYS` before the data's end.
        speed: replay seconds per wall second (0 = only `step` moves time).
        accounts: address -> USDC collateral of the funded test accounts.
        history: candle depth and page sizes of info answers (`candles_available=None` lifts the 5,000 limit).
        half_spread: fraction of mid between mid and the synthetic best bid/ask (0.0001 = 1 bp).
        faults: injected latency and failures.
    """

    def __init__(self, data: dict[str, CoinSeries], *, start_ms: int | None = None, speed: float = 1.0,
                 accounts: Mapping[str, float] | None = None, history: HistoryLimits = HISTORY,
                 fees: Fees = FEES, half_spread: float = 0.0001, faults: Faults | None = None,
                 wall_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        first_close = min(int(s.bar_open_ms[0]) for s in data.values()) + BAR_MS
        end = max(int(s.bar_open_ms[-1]) for s in data.values()) + BAR_MS
        start = max(first_close, end - DEFAULT_REPLAY_DAYS * 86_400_000) if start_ms is None else start_ms
        if not first_close <= start <= end:
            raise ValueError(f"start_ms={start}: replay must start between {first_close} and {end}")
        self.clock = ReplayClock(start, end, speed=speed)
        self.engine = Engine(data, start_ms=start, fees=fees, half_spread=half_spread)
        self.info = InfoApi(self.engine, history)
        self.exchange = ExchangeApi(self.engine, wall_ms=wall_ms)
        self.faults = faults or Faults()
        self._lock = threading.Lock()
        for address, usdc in (accounts or {}).items():
            self.engine.fund(address, usdc)

    @classmethod
    def from_dir(cls, root: Path, *, coins: list[str] | None = None, **kwargs: Any) -> Venue:
        """A venue over the data folder `root` (market-store or shared-data layout)."""
        return cls(load_market_data(root, coins), **kwargs)

    def handle(self, path: str, body: Any) -> Any:
        """Answer a `/info` or `/exchange` body; raises UnsupportedRequest for what cannot be read."""
        with self._lock:
            self.engine.advance_to(self.clock.now_ms())
            if path == "/info":
                if not isinstance(body, dict) or not isinstance(body.get("type"), str):
                    raise UnsupportedRequest('body is not an object with a string "type"')
                return self.info.answer(body)
            return self.exchange.answer(body)

    def step(self, ms: int) -> int:
        """Advance replay time by `ms`, settling fills and funding on the way; returns the new time."""
        with self._lock:
            now = self.clock.step(ms)
            self.engine.advance_to(now)
            return now

    def admin(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Operator endpoints: /admin/clock, /admin/step {"hours"|"ms"}, /admin/fund {"user", "usdc"},
        /admin/faults {"error_rate", "latency_ms", "seed"}."""
        if path == "/admin/step":
            now = self.step(int(body.get("ms", 0)) + int(float(body.get("hours", 0)) * BAR_MS))
            return {"now": now}
        if path == "/admin/fund":
            with self._lock:
                account = self.engine.fund(str(body["user"]), float(body["usdc"]))
            return {"user": account.address, "balance": account.balance}
        if path == "/admin/faults":
            self.faults = Faults(error_rate=float(body.get("error_rate", 0.0)),
                                 latency_ms=float(body.get("latency_ms", 0.0)), seed=int(body.get("seed", 0)))
            return {"error_rate": self.faults.error_rate, "latency_ms": self.faults.latency_ms}
        if path == "/admin/clock":
            return {"now": self.clock.now_ms(), "end": self.clock.end_ms}
        raise UnsupportedRequest(f"unknown admin endpoint {path}")
