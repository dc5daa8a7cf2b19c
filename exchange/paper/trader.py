"""The paper trader: every deployed strategy trades its own slice of one account, bar by bar, through the
exchange client; the book survives crashes and never sends an order twice.

Per completed hourly bar t (one transaction: nothing is saved until the bar is done):

1. Mark (exchange.paper.accounting): each strategy pays funding on the position it held over the bar
   (position x close x the rates stamped in (open, close], as the venue charges them) and is marked at
   the close; its bar return feeds its Sharpe, drawdown and recent-returns statistics.
2. Stops (exchange.paper.rules): a strategy whose stop loss / take profit (fractions of its entry price,
   member a's genes) was touched by the bar's low / high is flattened at this close and stays flat until
   its target changes (the kernel's levels; stops are checked on completed bars, not resting on the venue).
3. Retirement (exchange.paper.rules): a strategy that broke a rule is retired and flattened.
4. Emergency: when the book's loss or drawdown breaks a rule, every strategy is flattened and the book
   is halted until `uce paper resume`.
5. Targets (exchange.paper.targets): each active strategy's target is computed with the kernels
   (kernels.evaluate.positions) on the coin's bars up to t only, times its risk multiplier. Only a
   changed target re-sizes the strategy (to target x equity / close coins); between changes the coin
   quantity is held.
6. Orders (exchange.paper.execution): per coin, the strategies' wanted changes are netted
   (exchange.paper.netting): opposite wishes cross internally at the close, the rest goes to the venue as
   one IOC order whose client order id is `cloid_for(book_id, t, coin)`. Its fills (price and fee from
   userFills) are shared back out.
7. Records: performance rows and attributed fills are appended (by key, so a re-run replaces them), then
   the state is committed atomically (exchange.paper.state) and the registry learns of retirements.

`PaperTrader` coordinates these steps, the locks and the commits; the steps themselves live in the
modules named above.

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
import time
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from exchange.errors import TemporaryError
from exchange.hyperliquid.client import HyperliquidClient
from exchange.paper.accounting import coins_to_trade, funding_coins, join, mark, performance_rows
from exchange.paper.execution import Executor
from exchange.paper.feed import BAR_MS, BARS_PER_YEAR, MarketFeed
from exchange.paper.ledger import Ledger
from exchange.paper.registry import Registry, StrategySpec
from exchange.paper.rules import PaperRules, apply_emergency, apply_retirement, apply_stops
from exchange.paper.state import BookState, PaperPaths, PaperStateError, StateStore, StrategyBook, file_lock
from exchange.paper.targets import update_targets

__all__ = ["PaperSettings", "PaperTrader", "BarReport", "StopReport"]

log = logging.getLogger(__name__)

_UNSET = object()


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


class PaperTrader:
    """The book of one wallet on one venue (see the module docstring).

    Args:
        paths: the paper folder (state, registry, ledgers, locks).
        client: the exchange client of the book's wallet.
        rules: retirement, emergency and risk rules (tasks/deploy/decision.py loads them from the rules file).
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
        self.endpoint: str = client.settings.url
        """Base URL of the venue the book trades on."""
        self.feed = MarketFeed(client.info, client.settings.retry_policy(),
                               assumed_funding_rate=settings.assumed_funding_rate)
        self.execution = Executor(client, ioc_slippage=settings.ioc_slippage)
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
                coins = coins_to_trade(state, specs.values())
                if not coins:
                    return reports
                new = coins if not refreshed else [c for c in coins if self.feed.first(c) is None]
                funding = [c for c in funding_coins(state, specs) if c not in funded]
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
        join(state, specs, t)
        for coin in coins:
            state.anchor_ms.setdefault(coin, t - self.settings.lookback_bars * BAR_MS)
        bars = {coin: self.feed.bar(coin, t) for coin in coins}
        was_active = [s for s in state.strategies.values() if s.status == "active"]
        mark(state, bars, t, keep_returns=self.rules.risk.correlation_bars)
        reasons = apply_stops(state, specs, bars)
        changed = apply_retirement(state, close_ms, reasons, self.rules.retirement, bars_per_year=BARS_PER_YEAR)
        emergency = apply_emergency(state, close_ms, reasons, self.rules.emergency)
        if state.halted is None:
            update_targets(state, specs, bars, t, feed=self.feed, max_history_bars=self.settings.max_history_bars,
                           risk=self.rules.risk)
        fills: list[dict] = []
        orders = rejected = 0
        if live or not fresh:  # a missed bar redone from an older state picks up the orders it had sent
            orders, rejected = self.execution.trade(state, {c: b.close for c, b in bars.items() if b is not None},
                                                    t, tag="", reasons=reasons, fresh=fresh, fills=fills, send=live)
        state.last_bar_ms = t
        state.pending.setdefault("fills", []).extend(fills)
        state.pending.setdefault("performance", []).extend(performance_rows(state, was_active, bars, close_ms))
        if live and (not fresh or self._flush_due(state)):
            self.execution.reconcile(state)  # after a restart, and whenever the ledgers are appended
        self._flush(state, force=False)
        self._commit(state, changed)
        retired = [(s.strategy_id, s.reason) for s in changed]
        for sid, why in retired:
            log.warning("retired %s: %s", sid, why)
        if emergency:
            log.error("emergency: %s; the book is flat and halted", emergency)
        return BarReport(t, live, orders, rejected, retired, emergency, state.equity)

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
            orders, rejected = self.execution.trade(state, prices, state.last_bar_ms or 0,
                                                    tag=f"|stop{state.stop_seq}",
                                                    reasons={s.strategy_id: "stopped" for s in chosen},
                                                    fresh=False, fills=fills, only={s.strategy_id for s in chosen})
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
