"""The paper trader: every deployed strategy trades its own slice of one account, bar by bar, through the
exchange client; the book survives crashes and never sends an order twice.

Per completed hourly bar t (one transaction: nothing is saved until the bar is done):

1. Mark: each strategy pays funding on the position it held over the bar (position x close x the rates
   stamped in (open, close], as the venue charges them) and is marked at the close; its bar return
   feeds its Sharpe, drawdown and recent-returns statistics.
2. Stops: a strategy whose stop loss / take profit (fractions of its entry price, member a's genes)
   was touched by the bar's low / high is flattened at this close and stays flat until its target
   changes (the kernel's rule; stops are checked on completed bars, not resting on the venue).
3. Retirement (exchange.paper.rules): a strategy that broke a rule is retired and flattened.
4. Emergency: when the book's loss or drawdown breaks a rule, every strategy is flattened and the book
   is halted until `uce paper resume`.
5. Targets: each active strategy's target is computed with the kernels (kernels.evaluate.positions) on
   the coin's bars up to t only, times its risk multiplier. Only a changed target re-sizes the strategy
   (to target x equity / close coins); between changes the coin quantity is held.
6. Orders: per coin, the strategies' wanted changes are netted (exchange.paper.netting): opposite wishes
   cross internally at the close, the rest goes to the venue as one IOC order whose client order id is
   `cloid_for(book_id, t, coin)`. Its fills (price and fee from userFills) are shared back out.
7. Records: performance rows and attributed fills are appended (by key, so a re-run replaces them), then
   the state is committed atomically (exchange.paper.state) and the registry learns of retirements.

Crash safety: a bar interrupted anywhere is processed again from the last committed state. Its targets
and orders are the same (same bars, same state); an order the venue already has is recognised by its
cloid and read back instead of sent again, so positions, fills and PnL end as in an uninterrupted run.

Missed bars (the trader was down for several hours): every missed bar is marked and its rules applied,
but only the newest bar trades.

History: the kernels read the coin's bars from an anchor (`lookback_bars` before the book first saw the
coin) up to t, at most `max_history_bars` of them (the venue serves only its latest 5,000 candles);
both are fixed per bar, so a restarted trader computes the same targets.
"""
from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from exchange.client import HyperliquidClient
from exchange.errors import OrderRejectedError, TemporaryError
from exchange.ids import cloid_for
from exchange.limits import FEES, MIN_NOTIONAL_USD
from exchange.paper.feed import BAR_MS, BarData, MarketFeed
from exchange.paper.ledger import Ledger
from exchange.paper.netting import NetPlan, allocate, net_deltas
from exchange.paper.registry import Registry, StrategySpec
from exchange.paper.rules import (BARS_PER_DAY, PaperRules, breach_since, emergency_reason, retirement_reason,
                                  risk_adjustment)
from exchange.paper.state import BookState, PaperPaths, PaperStateError, StateStore, StrategyBook, file_lock
from exchange.retry import call_with_retries

__all__ = ["PaperSettings", "PaperTrader", "BarReport", "StopReport", "coins_to_trade"]

log = logging.getLogger(__name__)

_BARS_PER_YEAR = 8760.0
FUNDING_FAMILIES = frozenset({"funding_carry"})
"""Families whose kernels read the funding series (the others' targets do not depend on it)."""
_EPS = 1e-12
_UNSET = object()


def coins_to_trade(state: BookState | None, specs: Iterable[StrategySpec]) -> list[str]:
    """Coins the book must look at each bar: those of active registered strategies, and of strategies in
    the book (`state`, None before the first run) that are active or still hold a position. Empty means
    the trader has nothing to do."""
    coins = {spec.coin for spec in specs if spec.status == "active"}
    if state is not None:
        coins |= {s.coin for s in state.strategies.values() if s.status == "active" or s.position != 0.0}
    return sorted(coins)


class PaperSettings(BaseModel):
    """How the trader reads history and prices its orders."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lookback_bars: int = Field(2000, ge=50, description="history before the first bar the kernels read")
    max_history_bars: int = Field(4800, ge=100, le=5000, description="most bars the kernels read")
    ioc_slippage: float = Field(0.05, gt=0, lt=0.5, description="IOC limit price beyond the close, fraction")
    assumed_funding_rate: float = Field(0.0000125, ge=-0.01, le=0.01,
                                        description="kernel funding per hour where the venue has none")
    lock_wait_s: float = Field(60.0, gt=0, description="how long to wait for another process's bar or stop")
    flush_bars: int = Field(24, ge=1, description="bars of ledger rows kept in the state before a Parquet append")


class BarReport(NamedTuple):
    """What one bar did: `live` is False for a missed bar (marked, not traded)."""

    bar_ms: int
    live: bool
    orders: int
    rejected: int
    retired: list[tuple[str, str]]
    emergency: str | None
    equity: float


class StopReport(NamedTuple):
    """What the kill switch did: the strategies stopped and the orders sent to flatten them."""

    stopped: list[str]
    orders: int
    rejected: int
    halted: bool


class _Execution(NamedTuple):
    """The venue's answer to one net order: unsigned coins filled, average price and fee (USD)."""

    cloid: str
    filled: float
    price: float
    fee: float


class PaperTrader:
    """The book of one wallet on one venue (see the module docstring).

    Args:
        paths: the paper folder (state, registry, ledgers, locks).
        client: the exchange client of the book's wallet.
        rules: retirement, emergency and risk rules (tasks/decision.py loads them from the rules file).
        settings: history and order pricing.
        wall_ms: the wall clock (status timestamps of stops).

    Example:
        trader = PaperTrader(PaperPaths(data_dir / "paper"), HyperliquidClient(load_wallet(), settings), rules)
        trader.step()   # process every bar completed since the last call
    """

    def __init__(self, paths: PaperPaths, client: HyperliquidClient, rules: PaperRules = PaperRules(),
                 settings: PaperSettings = PaperSettings(), *,
                 wall_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.paths = paths
        self.client = client
        self.rules = rules
        self.settings = settings
        self.store = StateStore(paths)
        self.registry = Registry(paths.registry)
        self.performance = Ledger(paths.performance, ("time", "strategy_id"))
        self.fills = Ledger(paths.fills, ("time", "strategy_id", "kind", "tag"))
        self.endpoint: str = client._settings.url  # noqa: SLF001 - the client has no public settings
        """Base URL of the venue the book trades on."""
        self._retry = client._settings.retry_policy()  # noqa: SLF001 - the client's own retry policy
        self.feed = MarketFeed(client.info, self._retry, assumed_funding_rate=settings.assumed_funding_rate)
        self._wall_ms = wall_ms
        self._committed: object = _UNSET
        self._attempted: set[int] = set()
        self.halted: dict[str, Any] | None = None
        """The book's halt as of the last `step` (None while it trades)."""

    # ---- state ---------------------------------------------------------------------------------------

    def _load(self, *, create: bool = True) -> BookState:
        """The saved state (checked against this venue and wallet), or a new one saved at once so its
        book id (part of every cloid) outlives a crash before the first bar."""
        first = self._committed is _UNSET
        if first:
            self.store.remove_stale_temporaries()
        state = self.store.load_cached()
        url, address = self.endpoint, self.client.address.lower()
        if state is None and not create:
            raise PaperStateError(f"there is no paper book in {self.paths.root} yet")
        if state is None:
            state = BookState(book_id=uuid.uuid4().hex, endpoint=url, address=address, created_ms=self._wall_ms())
            self.store.save(state)
            self._committed = state.last_bar_ms
            return state
        if state.endpoint != url:
            raise PaperStateError(f"the paper book in {self.paths.root} trades on {state.endpoint}, not {url}: "
                                  f"pass --url {state.endpoint} or use another --data-dir")
        if state.address != address:
            raise PaperStateError(f"the paper book in {self.paths.root} belongs to wallet {state.address}, not "
                                  f"{address}: load that wallet's key or use another --data-dir")
        if first:
            self._sync_registry(state)
        return state

    def _sync_registry(self, state: BookState) -> None:
        """Record in the registry the retirements and stops the state holds (a crash between a bar's
        commit and its registry update leaves the registry behind; the state is the authority)."""
        registered = {s.strategy_id: s for s in self.registry.all()}
        for s in state.strategies.values():
            spec = registered.get(s.strategy_id)
            if s.status != "active" and spec is not None and spec.status != s.status:
                self.registry.set_status(s.strategy_id, s.status, s.reason, s.status_ms or 0)

    def _commit(self, state: BookState, changed: list[StrategyBook]) -> None:
        self.store.save(state)
        self._committed = state.last_bar_ms
        for s in changed:
            self.registry.set_status(s.strategy_id, s.status, s.reason, s.status_ms or 0)

    def _flush(self, state: BookState, *, force: bool) -> None:
        """Append the state's pending ledger rows to their Parquet tables when `flush_bars` bars have
        gathered (or `force`); the caller then saves the state, which forgets them."""
        if not (force and state.pending) and not self._flush_due(state):
            return
        perf, fills = state.pending.get("performance", []), state.pending.get("fills", [])
        self.fills.append(fills)
        self.performance.append(perf)
        state.pending = {}

    def _flush_due(self, state: BookState) -> bool:
        """Whether `flush_bars` bars of ledger rows are pending."""
        perf = state.pending.get("performance", [])
        return len({r["time"] for r in perf}) >= self.settings.flush_bars

    def flush(self) -> None:
        """Append every pending ledger row to performance.parquet and fills.parquet now."""
        with file_lock(self.paths.book_lock, wait_s=self.settings.lock_wait_s, what="the paper book"):
            state = self.store.load()
            if state is not None and state.pending:
                self._flush(state, force=True)
                self.store.save(state)

    def _join(self, state: BookState, specs: dict[str, StrategySpec], t: int) -> None:
        """Add active registry strategies the book does not hold yet; they trade from bar t."""
        for spec in specs.values():
            if spec.status == "active" and spec.strategy_id not in state.strategies:
                state.strategies[spec.strategy_id] = StrategyBook(
                    spec.strategy_id, spec.coin, spec.capital, joined_ms=t, cash=spec.capital, equity=spec.capital,
                    peak_equity=spec.capital)
                log.info("strategy %s joins the book on %s with %.2f USD", spec.strategy_id, spec.coin, spec.capital)

    @staticmethod
    def _funding_coins(state: BookState, specs: dict[str, StrategySpec]) -> list[str]:
        """Coins whose funding is needed at this bar: a position pays it, or a family reads it."""
        coins = {s.coin for s in state.strategies.values() if s.position != 0.0}
        coins |= {spec.coin for spec in specs.values() if spec.status == "active"
                  and FUNDING_FAMILIES.intersection({spec.family, spec.family_b})}
        return sorted(coins)

    @staticmethod
    def _coins(state: BookState, specs: dict[str, StrategySpec]) -> list[str]:
        return coins_to_trade(state, specs.values())

    # ---- the bar loop --------------------------------------------------------------------------------

    def step(self) -> list[BarReport]:
        """Process every bar completed since the last processed one (the newest trades; see the module
        docstring); returns one report per bar, none when nothing new has completed."""
        reports: list[BarReport] = []
        refreshed, funded = False, set()
        while True:
            with file_lock(self.paths.book_lock, wait_s=self.settings.lock_wait_s, what="the paper book"):
                state = self._load()
                self.halted = state.halted
                specs = {s.strategy_id: s for s in self.registry.all()}
                coins = self._coins(state, specs)
                if not coins:
                    return reports
                new = coins if not refreshed else [c for c in coins if self.feed.first(c) is None]
                funding = [c for c in self._funding_coins(state, specs) if c not in funded]
                self.feed.refresh(new, funding)
                refreshed = True
                funded.update(funding)
                latest = self.feed.latest(coins)
                if latest is None:
                    return reports
                t = latest if state.last_bar_ms is None else state.last_bar_ms + BAR_MS
                if t > latest:
                    return reports
                try:
                    reports.append(self._process_bar(state, specs, coins, t, live=t == latest))
                except BaseException:
                    self.store.forget()  # the bar changed the state in memory and was not saved
                    raise
                self.halted = state.halted

    def _process_bar(self, state: BookState, specs: dict[str, StrategySpec], coins: list[str], t: int, *,
                     live: bool) -> BarReport:
        fresh = self._committed is not _UNSET and self._committed == state.last_bar_ms and t not in self._attempted
        self._attempted.add(t)
        close_ms = t + BAR_MS
        self._join(state, specs, t)
        for coin in coins:
            state.anchor_ms.setdefault(coin, t - self.settings.lookback_bars * BAR_MS)
        bars = {coin: self.feed.bar(coin, t) for coin in coins}
        was_active = [s for s in state.strategies.values() if s.status == "active"]
        self._mark(state, bars, t)
        reasons = self._stops(state, specs, bars)
        changed = self._retire(state, close_ms, reasons)
        emergency = self._emergency(state, close_ms, reasons)
        if state.halted is None:
            self._targets(state, specs, bars, t)
        fills: list[dict] = []
        orders = rejected = 0
        if live or not fresh:  # a missed bar redone from an older state picks up the orders it had sent
            orders, rejected = self._trade(state, {c: b.close for c, b in bars.items() if b is not None}, t,
                                           tag="", reasons=reasons, fresh=fresh, fills=fills, send=live)
        state.last_bar_ms = t
        state.pending.setdefault("fills", []).extend(fills)
        state.pending.setdefault("performance", []).extend(self._performance_rows(state, was_active, bars, close_ms))
        if live and (not fresh or self._flush_due(state)):
            self._reconcile(state)  # after a restart, and whenever the ledgers are appended
        self._flush(state, force=False)
        self._commit(state, changed)
        retired = [(s.strategy_id, s.reason) for s in changed]
        for sid, why in retired:
            log.warning("retired %s: %s", sid, why)
        if emergency:
            log.error("emergency: %s; the book is flat and halted", emergency)
        return BarReport(t, live, orders, rejected, retired, emergency, state.equity)

    def _mark(self, state: BookState, bars: dict[str, BarData | None], t: int) -> None:
        keep = self.rules.risk.correlation_bars
        for s in state.strategies.values():
            bar = bars.get(s.coin)
            if bar is None:
                continue
            if s.position != 0.0:
                paid = s.position * bar.close * bar.funding_charged
                s.cash -= paid
                s.funding += paid
            equity = s.cash + s.position * bar.close
            s.last_return = 0.0
            if s.status == "active" and s.joined_ms < t:
                r = equity / s.equity - 1.0 if s.equity > 0 else 0.0
                s.bars += 1
                delta = r - s.mean_return
                s.mean_return += delta / s.bars
                s.m2_return += delta * (r - s.mean_return)
                s.recent_returns = (s.recent_returns + [r])[-keep:]
                s.last_return = r
            s.equity = equity
            s.peak_equity = max(s.peak_equity, equity)

    def _stops(self, state: BookState, specs: dict[str, StrategySpec],
               bars: dict[str, BarData | None]) -> dict[str, str]:
        """Flatten strategies whose stop loss or take profit the bar touched; their trade reasons."""
        reasons: dict[str, str] = {}
        for s in state.strategies.values():
            bar = bars.get(s.coin)
            if s.status != "active" or s.position == 0.0 or bar is None or s.entry_px <= 0:
                continue
            stop_loss, take_profit = specs[s.strategy_id].stops()
            long = s.position > 0
            lost = stop_loss > 0 and (bar.low <= s.entry_px * (1 - stop_loss) if long
                                      else bar.high >= s.entry_px * (1 + stop_loss))
            won = take_profit > 0 and (bar.high >= s.entry_px * (1 + take_profit) if long
                                       else bar.low <= s.entry_px * (1 - take_profit))
            if lost or won:
                s.desired, s.stopped_out = 0.0, True
                reasons[s.strategy_id] = "stop_loss" if lost else "take_profit"
        return reasons

    def _retire(self, state: BookState, now_ms: int, reasons: dict[str, str]) -> list[StrategyBook]:
        rules = self.rules.retirement
        retired = []
        for s in state.strategies.values():
            if s.status != "active":
                continue
            sharpe = s.sharpe(_BARS_PER_YEAR)
            s.negative_sharpe_since = breach_since(s.negative_sharpe_since, s.bars >= rules.min_bars and sharpe < 0,
                                                   now_ms)
            s.drawdown_since = breach_since(s.drawdown_since, s.drawdown > rules.max_drawdown, now_ms)
            why = retirement_reason(sharpe=sharpe, bars=s.bars, drawdown=s.drawdown,
                                    negative_since_ms=s.negative_sharpe_since, drawdown_since_ms=s.drawdown_since,
                                    now_ms=now_ms, rules=rules)
            if why is not None:
                s.status, s.reason, s.status_ms, s.desired = "retired", why, now_ms, 0.0
                reasons[s.strategy_id] = "retired"
                retired.append(s)
        return retired

    def _emergency(self, state: BookState, now_ms: int, reasons: dict[str, str]) -> str | None:
        equity = state.equity
        state.equity_history = (state.equity_history + [equity])[-(7 * BARS_PER_DAY + 1):]
        state.peak_equity = max(state.peak_equity, equity)
        if state.halted is not None:
            return None
        why = emergency_reason(state.equity_history, state.peak_equity, self.rules.emergency)
        if why is None:
            return None
        state.halted = {"reason": f"emergency: {why}", "at_ms": now_ms, "by": "emergency"}
        for s in state.strategies.values():
            if s.position != 0.0 or s.desired != 0.0:
                s.desired = 0.0
                reasons[s.strategy_id] = "emergency"
        return why

    def _targets(self, state: BookState, specs: dict[str, StrategySpec], bars: dict[str, BarData | None],
                 t: int) -> None:
        active = [s for s in state.strategies.values() if s.status == "active" and bars.get(s.coin) is not None]
        markets = {}
        max_bars = self.settings.max_history_bars
        for s in active:
            bar = bars[s.coin]
            if s.coin not in markets:
                start = max(state.anchor_ms[s.coin], t - (max_bars - 1) * BAR_MS)
                markets[s.coin] = self.feed.market(s.coin, start, t)
            market = markets[s.coin]
            others = [o.recent_returns for o in active if o is not s and o.recent_returns]
            n = min((len(o) for o in others), default=0)
            book = np.mean([o[-n:] for o in others], axis=0) if n else np.empty(0)
            adjustment = risk_adjustment(market.close, market.volume, np.asarray(s.recent_returns), book,
                                         self.rules.risk)
            s.risk_multiplier, s.risk_reason = adjustment
            target = specs[s.strategy_id].target(market) * adjustment.multiplier
            if target != s.target:
                s.target, s.stopped_out = target, False
                s.desired = target * s.equity / bar.close if s.equity > 0 else 0.0

    # ---- orders --------------------------------------------------------------------------------------

    def _trade(self, state: BookState, prices: dict[str, float], bar_ms: int, *, tag: str,
               reasons: dict[str, str], fresh: bool, fills: list[dict], only: set[str] | None = None,
               send: bool = True) -> tuple[int, int]:
        """Net and send every coin's wanted changes (cloid tag = coin + `tag`; only the strategies in
        `only` when given), share the fills out; returns (orders sent, orders refused). With `send`
        False, only orders the venue already knows by their cloids are taken into the books."""
        plans: dict[str, NetPlan] = {}
        executions: dict[str, _Execution | None] = {}
        sent: dict[str, tuple[str, float]] = {}
        orders = rejected = 0
        for coin in sorted(prices):
            deltas = {s.strategy_id: s.desired - s.position for s in state.strategies.values()
                      if s.coin == coin and abs(s.desired - s.position) > _EPS
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
                    self._apply(s, qty, price, share_fee)
                    fills.append({"time": bar_ms + BAR_MS,
                                  "strategy_id": s.strategy_id, "coin": coin, "kind": kind, "tag": coin + tag,
                                  "size": qty, "price": price, "fee": share_fee,
                                  "cloid": cloid if kind == "venue" else "", "reason": reason})
            self._sweep_dust(state, coin, prices[coin], bar_ms, tag, fills)
        return orders, rejected

    def _sweep_dust(self, state: BookState, coin: str, price: float, bar_ms: int, tag: str,
                    fills: list[dict]) -> None:
        """A strategy that wants to be flat but holds less than one lot (its pro-rata share of lot-rounded
        fills) hands that dust to the coin's largest holder that wants a position, at the reference
        price, so that flat means 0. Without such a holder the dust stays (the venue holds it too)."""
        lot = 10.0 ** -self.client.rules[coin].sz_decimals
        mine = [s for s in state.strategies.values() if s.coin == coin]
        for s in mine:
            if s.desired != 0.0 or s.position == 0.0 or abs(s.position) >= lot:
                continue
            holders = [o for o in mine if o is not s and o.desired != 0.0 and o.position != 0.0]
            if not holders:
                continue
            dust = s.position
            self._apply(s, -dust, price, 0.0)
            holder = max(holders, key=lambda o: (abs(o.position), o.strategy_id))
            self._apply(holder, dust, price, 0.0)
            for sid, qty in ((s.strategy_id, -dust), (holder.strategy_id, dust)):
                fills.append({"time": bar_ms + BAR_MS, "strategy_id": sid, "coin": coin, "kind": "dust",
                              "tag": coin + tag, "size": qty, "price": price, "fee": 0.0, "cloid": "",
                              "reason": "dust"})

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
        limit = price * (1 + self.settings.ioc_slippage if is_buy else 1 - self.settings.ioc_slippage)
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

    @staticmethod
    def _apply(s: StrategyBook, qty: float, price: float, fee: float) -> None:
        before, after = s.position, s.position + qty
        if abs(after) < _EPS:
            after = 0.0
        s.cash -= qty * price + fee
        s.fees += fee
        s.fills += 1
        s.traded_notional += abs(qty) * price
        if after == 0.0:
            s.entry_px = 0.0
        elif before == 0.0 or (after > 0) != (before > 0):
            s.entry_px = price
        elif abs(after) > abs(before):
            s.entry_px = (abs(before) * s.entry_px + abs(qty) * price) / abs(after)
        s.position = after

    def _reconcile(self, state: BookState) -> None:
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

    # ---- records -------------------------------------------------------------------------------------

    def _performance_rows(self, state: BookState, strategies: list[StrategyBook],
                          bars: dict[str, BarData | None], close_ms: int) -> list[dict]:
        rows = []
        for s in strategies:
            bar = bars.get(s.coin)
            rows.append({
                "time": close_ms, "strategy_id": s.strategy_id, "coin": s.coin, "status": s.status,
                "target": float("nan") if s.target is None else s.target, "risk_multiplier": s.risk_multiplier,
                "position": s.position, "price": float("nan") if bar is None else bar.close, "equity": s.equity,
                "pnl": s.pnl, "return": s.last_return, "drawdown": s.drawdown, "sharpe": s.sharpe(_BARS_PER_YEAR),
                "fees": s.fees, "funding": s.funding, "fills": s.fills, "book_equity": state.equity,
            })
        return rows

    # ---- the operator's commands ---------------------------------------------------------------------

    def stop(self, strategy_ids: list[str] | None, *, reason: str = "stopped by the operator") -> StopReport:
        """The kill switch: flatten the given strategies (every one, and halt the book, when None) at the
        venue's current mid, now. Safe to repeat after a crash: the flattening orders carry cloids of
        the book's stop counter, which only moves on once the stop is committed."""
        with file_lock(self.paths.book_lock, wait_s=self.settings.lock_wait_s, what="the paper book"):
            state = self._load(create=False)
            if strategy_ids is not None:
                unknown = [sid for sid in strategy_ids if sid not in state.strategies]
                if unknown:
                    raise PaperStateError(f"no strategy {', '.join(unknown)} in the paper book; `uce paper status` "
                                          "lists them")
            chosen = [s for s in state.strategies.values() if strategy_ids is None or s.strategy_id in strategy_ids]
            now = self._wall_ms()
            changed = []
            for s in chosen:
                s.desired = 0.0
                if s.status == "active":
                    s.status, s.reason, s.status_ms = "stopped", reason, now
                    changed.append(s)
            if strategy_ids is None:
                state.halted = {"reason": reason, "at_ms": now, "by": "operator"}
            coins = sorted({s.coin for s in chosen if s.position != 0.0})
            prices = {coin: self.client.mid(coin) for coin in coins}
            fills: list[dict] = []
            orders, rejected = self._trade(state, prices, state.last_bar_ms or 0, tag=f"|stop{state.stop_seq}",
                                           reasons={s.strategy_id: "stopped" for s in chosen}, fresh=False,
                                           fills=fills, only={s.strategy_id for s in chosen})
            state.stop_seq += 1
            state.pending.setdefault("fills", []).extend(fills)
            self._flush(state, force=True)
            self.store.save(state)
            for s in changed:
                self.registry.set_status(s.strategy_id, s.status, s.reason, now)
        return StopReport([s.strategy_id for s in changed], orders, rejected, strategy_ids is None)

    def resume(self) -> str | None:
        """Lift the book's halt (after an emergency or `stop --all`); returns the halt's reason, None when
        the book was not halted. Active strategies take their current targets at the next bar."""
        with file_lock(self.paths.book_lock, wait_s=self.settings.lock_wait_s, what="the paper book"):
            state = self._load(create=False)
            halted, state.halted = state.halted, None
            for s in state.strategies.values():
                if s.status == "active":
                    s.target = None
            self.store.save(state)
        return None if halted is None else str(halted["reason"])

    def run(self, *, once: bool = False, advance: Callable[[], bool] | None = None, poll_s: float = 30.0,
            sleep: Callable[[float], None] = time.sleep) -> str:
        """Trade bar after bar until stopped; returns why it ended.

        once: process what has completed and return (the hourly Prefect deployment).
        advance: after each pass, ask the venue for the next bar (the loopback venue's replay clock); the
            loop ends when it returns False (the replay reached its end). Without it, poll every `poll_s`.
        The loop also ends when the book is halted. Ledger rows reach their Parquet files after every
        bar when polling, every `flush_bars` bars when advancing, and whenever the loop ends. One runner
        per book: a second one fails at once with PaperStateError (`stop` and `status` still work).
        """
        busy = "the runner lock (another `uce paper run` is trading this book)"
        with file_lock(self.paths.runner_lock, wait_s=0.0, what=busy):
            return self._loop(once=once, advance=advance, poll_s=poll_s, sleep=sleep)

    def _loop(self, *, once: bool, advance: Callable[[], bool] | None, poll_s: float,
              sleep: Callable[[float], None]) -> str:
        while True:
            try:
                self.step()
            except TemporaryError as exc:
                if once:
                    raise
                log.warning("the venue is not answering (%s); trying again in %g s", exc, poll_s)
                sleep(poll_s)
                continue
            if self.halted is not None:
                why = f"the book is halted: {self.halted['reason']}"
                break
            if once:
                why = "processed every completed bar"
                break
            if advance is None:
                self.flush()
                sleep(poll_s)
            elif not advance():
                why = "the venue's replay reached its end"
                break
        self.flush()
        return why
