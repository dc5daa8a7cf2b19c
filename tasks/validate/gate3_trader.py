"""Gate 3's trading hand, shared by the loopback replay (tasks.validate.gate3_venue) and the forward run on the testnet
(tasks.validate.gate3_testnet): one candidate's account on a venue, moved to the strategy's targets bar by bar
through the exchange client, with its stop loss / take profit resting on the venue.

At each bar close (`on_bar`):
1. If stops were resting and the position is gone, the venue executed one of them during the bar: the
   trader counts it and cancels its sibling (the venue does not link them), so a later position of the
   same side cannot meet a stale stop.
2. If the target changed, the account is resized with one IOC market order: target x equity / mid -
   position coins (a close is reduce-only; orders under the $10 minimum are skipped), like the replay
   engine (exchange.replay) re-sizes at the close.
3. Stops follow the replay engine's rules: after a fill that opens, flips or grows the position they
   are re-armed from the mid (the entry close) at entry x (1 -/+ stop_loss) and entry x (1 +/- take_profit)
   for the whole position, as reduce-only market trigger orders (stop loss first, so that it wins
   when one bar reaches both, as in the engine); a reduction replaces them with the new size at the same
   levels; a close cancels them. So a stop is executed by the venue, not by this loop.

Equity for sizing is `capital` plus the account's value change since the trader started (a testnet
wallet may hold more than the gate trades with).

Measured: every order call's latency, each market fill's slippage vs the mid read before it (bp,
positive = worse), refused orders, skipped orders, stop and take-profit exits the venue executed.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from hyperliquid.utils.types import Cloid

from exchange.errors import OrderNotFoundError, OrderRejectedError
from exchange.hyperliquid.client import AccountState, HyperliquidClient, OrderResult, Tpsl
from exchange.hyperliquid.ids import cloid_for
from exchange.hyperliquid.limits import MIN_NOTIONAL_USD
from exchange.replay import Books

__all__ = ["LATENCY_SCALE_MS", "SLIPPAGE_SCALE_BPS", "CandidateTrader", "expected_exits", "gate3_scores"]

log = logging.getLogger(__name__)

SLIPPAGE_SCALE_BPS = 10.0  # mean |slippage| at which the execution score's slippage part reaches 0
LATENCY_SCALE_MS = 1000.0  # p95 order latency at which its latency part reaches 0
_KINDS: dict[Tpsl, str] = {"sl": "stop_loss", "tp": "take_profit"}


class _Resting(NamedTuple):
    """A trigger order the trader keeps on the venue."""

    tpsl: Tpsl
    cloid: Cloid
    trigger: float


class CandidateTrader:
    """One candidate's account on one venue (module docstring).

    Args:
        client: the exchange client of the account.
        coin: the coin the candidate trades.
        strategy_id: part of every cloid (with the bar time and a tag), so a repeated step never doubles.
        stop_loss, take_profit: fractions of the entry price, 0.0 = off.
        capital: USD the candidate trades with.
    """

    def __init__(self, client: HyperliquidClient, coin: str, strategy_id: str, *, stop_loss: float,
                 take_profit: float, capital: float, clock: Callable[[], float] = time.perf_counter) -> None:
        self.client = client
        self.coin = coin
        self.strategy_id = strategy_id
        self.stop_loss = stop_loss
        self.take_profit = take_profit
        self.capital = capital
        self._clock = clock
        self.start = client.user_state()
        self.target = 0.0  # the last target acted on (flat before the first bar)
        self.orders = self.rejected = self.skipped = 0
        self.exits: dict[str, int] = {kind: 0 for kind in _KINDS.values()}
        self.slippage_bps: list[float] = []
        self.latency_ms: list[float] = []
        self._resting: list[_Resting] = []

    # ---- the bar loop ----------------------------------------------------------------------------------

    def on_bar(self, target: float, bar_time: int) -> None:
        """At the close of the bar opening at `bar_time` (epoch ms): notice stops the venue executed, then
        move to `target` (a fraction of equity) if it changed."""
        if not self._resting and target == self.target:
            return  # nothing can have happened that this bar needs to act on
        state = self.client.user_state()
        held = self.held(state)
        if self._resting and held == 0.0:
            self._stops_fired()
        if target != self.target:
            self.target = target
            self._resize(target, bar_time, state, held)

    def flatten(self, bar_time: int, *, tag: str = "") -> None:
        """Close the position (reduce-only) and cancel the resting stops: the end of a session. `tag`
        tells this close apart from an order of the same bar (see exchange.hyperliquid.ids.cloid_for)."""
        state = self.client.user_state()
        held = self.held(state)
        if self._resting and held == 0.0:
            self._stops_fired()
        self.target = 0.0
        if held != 0.0:
            self._resize(0.0, bar_time, state, held, tag=tag)
        self.cancel_stops()

    def held(self, state: AccountState) -> float:
        """The account's position in the coin (signed coins)."""
        position = state.positions.get(self.coin)
        return position.size if position is not None else 0.0

    def equity(self, state: AccountState) -> float:
        """The candidate's equity (USD): capital plus the account's value change since the start."""
        return self.capital + state.account_value - self.start.account_value

    # ---- orders ----------------------------------------------------------------------------------------

    def _resize(self, target: float, bar_time: int, state: AccountState, held: float, *, tag: str = "") -> None:
        mid = self.client.mid(self.coin)
        size = target * self.equity(state) / mid - held
        closing = target == 0.0 and held != 0.0
        if closing:
            size = -held
        rules = self.client.rules[self.coin]
        if size == 0.0 or rules.round_size(abs(size)) == 0.0 or (not closing and abs(size) * mid < MIN_NOTIONAL_USD):
            self.skipped += 1
            return
        result = self._send(lambda: self.client.market_order(self.coin, size > 0, abs(size),
                                                             strategy_id=self.strategy_id, bar_time=bar_time,
                                                             tag=tag, reduce_only=closing))
        if result is None:
            return
        if result.avg_px is not None:
            self.slippage_bps.append((result.avg_px / mid - 1.0) * 1e4 * (1.0 if size > 0 else -1.0))
        after = held + (result.filled_size if size > 0 else -result.filled_size)
        self._follow(held, after, mid, bar_time)

    def _send(self, call: Callable[[], OrderResult]) -> OrderResult | None:
        """One order call, timed; None when the venue refused it (counted)."""
        self.orders += 1
        started = self._clock()
        try:
            return call()
        except OrderRejectedError as exc:
            self.rejected += 1
            log.info("%s: order refused: %s", self.strategy_id, exc)
            return None
        finally:
            self.latency_ms.append((self._clock() - started) * 1000.0)

    # ---- stops -----------------------------------------------------------------------------------------

    def _follow(self, before: float, after: float, entry: float, bar_time: int) -> None:
        """Keep the resting stops in step with a fill that moved the position from `before` to `after`."""
        if not (self.stop_loss or self.take_profit) or after == before:
            return
        if after == 0.0:
            self.cancel_stops()
            return
        grew = before == 0.0 or (after > 0.0) != (before > 0.0) or abs(after) > abs(before)
        levels = self._levels(entry, after > 0.0) if grew else {r.tpsl: r.trigger for r in self._resting}
        self.cancel_stops()
        for tpsl, trigger in levels.items():
            result = self._send(lambda tpsl=tpsl, trigger=trigger: self.client.trigger_order(
                self.coin, after < 0.0, abs(after), trigger, tpsl=tpsl, strategy_id=self.strategy_id,
                bar_time=bar_time, tag=tpsl))
            if result is not None:
                self._resting.append(_Resting(tpsl, cloid_for(self.strategy_id, bar_time, tpsl), trigger))

    def _levels(self, entry: float, long: bool) -> dict[Tpsl, float]:
        """Trigger prices of a position entered at `entry`, as exchange.replay.Broker.arm_stops sets them."""
        sign = 1.0 if long else -1.0
        levels: dict[Tpsl, float] = {}
        if self.stop_loss > 0.0:
            levels["sl"] = entry * (1.0 - sign * self.stop_loss)
        if self.take_profit > 0.0:
            levels["tp"] = entry * (1.0 + sign * self.take_profit)
        return levels

    def _stops_fired(self) -> None:
        """The position is gone while stops rested: count the one the venue filled, cancel the rest."""
        for r in self._resting:
            if self._status(r.cloid) == "filled":
                self.exits[_KINDS[r.tpsl]] += 1
                log.info("%s: the venue executed its %s at trigger %.6g", self.strategy_id, _KINDS[r.tpsl], r.trigger)
        self.cancel_stops()

    def _status(self, cloid: Cloid) -> str:
        answer: dict[str, Any] = self.client.order_status(cloid)
        return str(answer["order"]["status"]) if answer.get("status") == "order" else "unknown"

    def cancel_stops(self) -> None:
        """Cancel every stop still resting (one the venue already filled or cancelled is simply forgotten)."""
        for r in self._resting:
            try:
                self.client.cancel_by_cloid(self.coin, r.cloid)
            except OrderNotFoundError:
                pass
        self._resting = []

    def measures(self) -> dict[str, Any]:
        """gate3_* execution measures so far."""
        return {
            "gate3_orders": self.orders,
            "gate3_rejected": self.rejected,
            "gate3_skipped_orders": self.skipped,
            "gate3_slippage_bps": float(np.mean(np.abs(self.slippage_bps))) if self.slippage_bps else 0.0,
            "gate3_latency_ms_p95": float(np.percentile(self.latency_ms, 95)) if self.latency_ms else 0.0,
            "gate3_stop_loss_exits": self.exits["stop_loss"],
            "gate3_take_profit_exits": self.exits["take_profit"],
        }


def expected_exits(books: Books) -> dict[str, int]:
    """The stop exits the replay engine made (its trades' exit reasons), beside the venue's gate3_*_exits."""
    reasons = [t.exit_reason for t in books.trades]
    return {f"gate3_expected_{kind}_exits": reasons.count(kind) for kind in _KINDS.values()}


def gate3_scores(live_return: float, expected_return: float, measures: dict[str, Any], tolerance: float) -> dict:
    """Performance and execution scores in [0, 1] (tasks.validate.gate3_venue's docstring) from a session's returns
    (fractions) and `CandidateTrader.measures()`."""
    performance = max(0.0, 1.0 - abs(live_return - expected_return) / tolerance)
    execution = float(np.mean([max(0.0, 1.0 - measures["gate3_slippage_bps"] / SLIPPAGE_SCALE_BPS),
                               1.0 - measures["gate3_rejected"] / max(measures["gate3_orders"], 1),
                               max(0.0, 1.0 - measures["gate3_latency_ms_p95"] / LATENCY_SCALE_MS)]))
    return {"gate3_return": live_return, "gate3_expected_return": expected_return,
            "gate3_performance": performance, "gate3_execution": execution}
