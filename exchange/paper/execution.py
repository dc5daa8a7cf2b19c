"""The paper book's orders, through the exchange client: netted per coin, sent at most once, shared back out.

Per coin, the strategies' wanted changes (desired - position coins) are netted (exchange.paper.netting):
opposite wishes cross internally at the reference price, the rest goes to the venue as one IOC order,
lot-rounded, priced `ioc_slippage` beyond the reference, reduce-only when it only reduces the book's
position, skipped when under the $10 minimum. Its client order id is `cloid_for(book_id, bar, coin +
tag)`, so a bar processed again finds its order by cloid and reads it back instead of sending it twice.
The fill's price and fee come from the account's userFills and are shared out pro rata (netting.allocate,
booked with accounting.apply_fill); dust below one lot is then swept to a holder (accounting.sweep_dust).

`reconcile` compares the venue's positions with the sum of the strategies'.
"""
from __future__ import annotations

import logging
import math
from typing import NamedTuple

from exchange.errors import OrderRejectedError
from exchange.hyperliquid.client import HyperliquidClient
from exchange.hyperliquid.ids import cloid_for
from exchange.hyperliquid.limits import FEES, MIN_NOTIONAL_USD
from exchange.hyperliquid.retry import call_with_retries
from exchange.paper.accounting import POSITION_EPS, apply_fill, fill_row, sweep_dust
from exchange.paper.feed import BAR_MS
from exchange.paper.netting import NetPlan, allocate, net_deltas
from exchange.paper.state import BookState

__all__ = ["Executor"]

log = logging.getLogger(__name__)


class _Execution(NamedTuple):
    """The venue's answer to one net order: unsigned coins filled, average price and fee (USD)."""

    cloid: str
    filled: float
    price: float
    fee: float


class Executor:
    """Sends the book's net orders through `client` and books what they filled (module docstring).

    Args:
        client: the exchange client of the book's wallet (its rules, its retry policy).
        ioc_slippage: how far beyond the reference price an IOC order's limit lies (fraction).
    """

    def __init__(self, client: HyperliquidClient, *, ioc_slippage: float) -> None:
        self.client = client
        self.ioc_slippage = ioc_slippage
        self._retry = client.settings.retry_policy()

    def trade(self, state: BookState, prices: dict[str, float], bar_ms: int, *, tag: str,
              reasons: dict[str, str], fresh: bool, fills: list[dict], only: set[str] | None = None,
              send: bool = True) -> tuple[int, int]:
        """Net and send every coin's wanted changes (cloid tag = coin + `tag`; only the strategies in
        `only` when given), share the fills out (rows appended to `fills`); returns (orders sent, orders
        refused). With `send` False, only orders the venue already knows by their cloids are taken into
        the books. When not `fresh` (the bar may have been processed before), a known cloid is read back,
        never re-sent."""
        plans: dict[str, NetPlan] = {}
        executions: dict[str, _Execution] = {}
        sent: dict[str, tuple[str, float]] = {}
        orders = rejected = 0
        for coin in sorted(prices):
            deltas = {s.strategy_id: s.desired - s.position for s in state.strategies.values()
                      if s.coin == coin and abs(s.desired - s.position) > POSITION_EPS
                      and (only is None or s.strategy_id in only)}
            if not deltas:
                continue
            plan = plans[coin] = net_deltas(deltas)
            order_tag = coin + tag
            net = sum(s.position for s in state.strategies.values() if s.coin == coin)
            spec = self._order_spec(coin, net, plan.venue_size, prices[coin])
            if spec is None:
                continue
            size, reduce_only = spec
            cloid = str(cloid_for(state.book_id, bar_ms, order_tag))
            try:
                done = self._send(state.book_id, coin, plan.venue_size > 0, size, prices[coin], bar_ms, order_tag,
                                  reduce_only, fresh=fresh, send=send)
            except OrderRejectedError as exc:
                orders, rejected = orders + 1, rejected + 1
                state.orders, state.rejected = state.orders + 1, state.rejected + 1
                log.warning("order %s %+.6g %s refused: %s", cloid, plan.venue_size, coin, exc)
                continue
            if done is None:
                continue
            orders += 1
            state.orders += 1
            sent[coin] = (cloid, done)
        if sent:
            executions = self._executions(sent, prices)
        close_ms = bar_ms + BAR_MS
        for coin, plan in plans.items():
            ex = executions.get(coin)
            filled, px, fee, cloid = (ex.filled, ex.price, ex.fee, ex.cloid) if ex else (0.0, 0.0, 0.0, "")
            for a in allocate(plan, filled, px, fee):
                s = state.strategies[a.strategy_id]
                reason = reasons.get(a.strategy_id, "target")
                for kind, qty, price, share_fee in (("internal", a.internal, prices[coin], 0.0),
                                                    ("venue", a.external, a.external_px, a.fee)):
                    if qty == 0.0:
                        continue
                    apply_fill(s, qty, price, share_fee)
                    fills.append(fill_row(close_ms, s, kind, coin + tag, qty, price, share_fee,
                                          cloid if kind == "venue" else "", reason))
            lot = 10.0 ** -self.client.rules[coin].sz_decimals
            fills.extend(sweep_dust(state, coin, prices[coin], lot, time_ms=close_ms, tag=coin + tag))
        return orders, rejected

    def _order_spec(self, coin: str, net: float, size: float, price: float) -> tuple[float, bool] | None:
        """(unsigned lot-rounded size, reduce_only) of the venue order for a wanted net change, or None
        when there is nothing the venue would accept (zero after rounding, under $10 and not reducing)."""
        rules = self.client.rules[coin]
        sz = rules.round_size(abs(size))
        if sz == 0.0:
            return None
        after = net + math.copysign(sz, size)
        reduces = net != 0.0 and abs(after) <= abs(net) and (after == 0.0 or (after > 0) == (net > 0))
        if not reduces and net != 0.0 and abs(after) < 0.5 * 10 ** -rules.sz_decimals:
            reduces, sz = True, rules.round_size(abs(net))  # rounding would leave a dust position the other way
        if not reduces and sz * price < MIN_NOTIONAL_USD:
            log.debug("skip %s order of %.6g coins: under the $%g minimum", coin, sz, MIN_NOTIONAL_USD)
            return None
        return sz, reduces

    def _send(self, book_id: str, coin: str, is_buy: bool, size: float, price: float, bar_ms: int, tag: str,
              reduce_only: bool, *, fresh: bool, send: bool) -> float | None:
        """Place the IOC order once; returns the coins it filled (None: nothing sent). When the bar may
        have been processed before (not `fresh`), an order the venue already knows by its cloid is read
        back, never re-sent (not even one the venue refused); with `send` False nothing new is sent."""
        if not fresh:
            cloid = cloid_for(book_id, bar_ms, tag)
            known = self.client.order_status(cloid)
            if known.get("status") == "order":
                status, order = known["order"]["status"], known["order"]["order"]
                if status.lower().endswith("rejected"):
                    raise OrderRejectedError(f"order {cloid} was refused by the venue: {status}")
                return float(order["origSz"]) - float(order["sz"])
        if not send:
            return None
        limit = price * (1 + self.ioc_slippage if is_buy else 1 - self.ioc_slippage)
        result = self.client.place_order(coin, is_buy, size, limit, strategy_id=book_id, bar_time=bar_ms,
                                         tag=tag, tif="Ioc", reduce_only=reduce_only)
        return result.filled_size

    def _executions(self, sent: dict[str, tuple[str, float]], prices: dict[str, float]) -> dict[str, _Execution]:
        """Price and fee of each sent order from the account's fills (userFills, matched by cloid)."""
        rows = call_with_retries(lambda: self.client.info.user_fills(self.client.address), self._retry)
        out = {}
        for coin, (cloid, filled) in sent.items():
            mine = [r for r in rows if str(r.get("cloid", "")).lower() == cloid.lower()]
            if mine:
                sz = sum(float(r["sz"]) for r in mine)
                px = sum(float(r["sz"]) * float(r["px"]) for r in mine) / sz
                out[coin] = _Execution(cloid, sz, px, sum(float(r["fee"]) for r in mine))
            elif filled > 0:
                log.warning("no fills listed for %s: assuming the close and the taker fee", cloid)
                out[coin] = _Execution(cloid, filled, prices[coin], filled * prices[coin] * FEES.taker)
        return out

    def reconcile(self, state: BookState) -> None:
        """Record coins where the venue's position differs from the strategies' sum by half a lot or more."""
        venue = self.client.user_state().positions
        out = {}
        for coin in sorted({s.coin for s in state.strategies.values()} | set(venue)):
            book = sum(s.position for s in state.strategies.values() if s.coin == coin)
            held = venue[coin].size if coin in venue else 0.0
            lot = 10 ** -self.client.rules[coin].sz_decimals if coin in self.client.rules else 0.0
            if abs(held - book) >= 0.5 * lot:
                out[coin] = {"venue": held, "book": book}
        if out != state.reconciliation and out:
            log.warning("venue positions differ from the book: %s", out)
        state.reconciliation = out
