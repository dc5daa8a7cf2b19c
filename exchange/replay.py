"""Event-driven replay of a strategy, one bar at a time: the strategy names a target, a broker fills, books keep score.

Written apart from the vectorised kernel (kernels/simulate.py) so that each checks the other: the
validate stage replays a window with both and requires the same trades (gate 2, tasks/validate/gate2_replay.py),
and gate 3 takes the engine's books over a venue session as what the venue's books should be
(tasks/validate/gate3_venue.py, tasks/validate/gate3_testnet.py). The paper trader does not use the engine: it keeps its
own books per strategy (exchange.paper) and trades through the exchange client; it shares `Bar`.

Per bar, in event order (DESIGN.md "Simulation rules"):

1. The bar's prices arrive. Resting stop orders trigger on its low/high (the stop loss before the take
   profit) and fill at their trigger price, or at the open when the bar opens through it; the other one
   is cancelled. If the account's equity at the bar's adverse extreme is <= 0, the broker liquidates at
   the bankruptcy price (no fee) and the account stays at 0.
2. Funding for holding over the bar is charged at its close: position x close x rate (a long pays a
   positive rate, a short receives it).
3. At the close the strategy names a target: a fraction of equity (times leverage; negative = short). Only
   a *changed* target sends an order; between changes the coin quantity is held (no drift rebalancing),
   and after a stop the account stays flat until the target changes. The order moves the position to
   target x equity / close coins (equity marked at the close) and fills at the close worsened by the
   slippage fraction, paying the fee on the filled notional. A flip is two fills: close, then open.
4. When a fill opens, flips or grows the position, stops are re-armed from that close (the entry
   price): stop loss at entry x (1 - stop_loss) for a long, take profit at entry x (1 + take_profit),
   mirrored for a short; a reduction keeps them, a close cancels them.

A trade is one round trip from flat to flat (or to a flip); its PnL is the cash it ended with minus the
cash it started with: fills, fees and funding.

Example:
    >>> engine = Engine(TargetSeries(np.array([0.0, 1.0, 1.0, 0.0])), Broker(fee=0.0, slippage=0.0))
    >>> for i, close in enumerate([100.0, 100.0, 110.0, 121.0]):
    ...     engine.on_bar(Bar(i, i * 3_600_000, close, close, close, close))
    >>> [round(t.pnl, 6) for t in engine.books.trades], round(engine.books.equity, 6)
    ([0.21], 1.21)
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

__all__ = [
    "Bar", "Books", "Broker", "Engine", "Fill", "ReplaySummary", "StopOrder", "Strategy", "TargetSeries", "Trade",
]


class Bar(NamedTuple):
    """One completed bar, the one bar record of the replay engine and the paper trader's feed.

    `index` numbers bars in their source series (the paper feed: hours since the epoch); `time` is the
    bar's open (epoch ms); prices in USD, volume in coins; funding is the rate charged for holding over
    the bar, on the position at the close price (fraction of notional, positive = longs pay)."""

    index: int
    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    funding: float = 0.0


class Fill(NamedTuple):
    """One execution: signed coin size (negative = sell) at the fill price (slippage included)."""

    bar: int
    time: int
    size: float
    price: float
    fee: float
    reason: str  # "target", "stop_loss", "take_profit" or "liquidation"


class Trade(NamedTuple):
    """A closed round trip (or the open one: exit fields None). side: 1 long, -1 short. pnl in account
    currency (cash out minus cash in: fills, fees, funding); return_ = pnl / equity when it opened."""

    side: int
    entry_bar: int
    entry_time: int
    entry_price: float
    exit_bar: int | None
    exit_time: int | None
    exit_price: float | None
    pnl: float
    return_: float
    exit_reason: str | None


class StopOrder(NamedTuple):
    """A resting reduce-only order that closes the whole position when the price reaches `trigger`."""

    kind: str  # "stop_loss" or "take_profit"
    trigger: float
    closes_long: bool


Strategy = Callable[[Bar], float]
"""Called at each bar's close with that bar; returns the target position as a fraction of equity."""


@dataclass
class _OpenTrade:
    side: int
    entry_bar: int
    entry_time: int
    entry_price: float
    cash_before: float
    equity_before: float


@dataclass
class Books:
    """The account: cash and coin position, every fill and trade, and equity at each bar's close."""

    cash: float
    position: float = 0.0
    fills: list[Fill] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    equity_curve: list[float] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)
    exposed_bars: int = 0
    fees_paid: float = 0.0
    funding_paid: float = 0.0
    open_trade: _OpenTrade | None = None

    def __post_init__(self) -> None:
        self.initial = self.cash
        self.equity = self.cash  # marked at the last close

    def value(self, price: float) -> float:
        """Equity if the position were marked at `price`."""
        return self.cash + self.position * price

    def apply_fill(self, fill: Fill) -> None:
        """Book an execution that opens, grows, reduces or closes the position (a flip is two fills)."""
        before = self.position
        after = before + fill.size
        if before != 0.0 and after != 0.0 and (after > 0.0) != (before > 0.0):
            raise ValueError(f"fill of {fill.size} coins would flip the position {before}: send a close and an open")
        if before == 0.0:
            self.open_trade = _OpenTrade(1 if fill.size > 0 else -1, fill.bar, fill.time, fill.price, self.cash,
                                         self.value(fill.price))
        self.cash -= fill.size * fill.price + fill.fee
        self.position = after
        self.fees_paid += fill.fee
        self.fills.append(fill)
        if before != 0.0 and after == 0.0:
            self._close_trade(fill.bar, fill.time, fill.price, fill.reason)

    def charge_funding(self, amount: float) -> None:
        self.cash -= amount
        self.funding_paid += amount

    def liquidate(self, bar: Bar) -> None:
        """Close at the bankruptcy price (where equity is 0, no fee); the account stays at 0."""
        if self.position != 0.0:
            price = -self.cash / self.position
            self.fills.append(Fill(bar.index, bar.time, -self.position, price, 0.0, "liquidation"))
            self.cash, self.position = 0.0, 0.0
            self._close_trade(bar.index, bar.time, price, "liquidation")
        self.cash = 0.0

    def mark(self, close: float, exposed: bool) -> None:
        """End of bar: record equity and the bar's return."""
        equity = self.value(close)
        self.returns.append((equity - self.equity) / self.equity if self.equity > 0.0 else 0.0)
        self.equity_curve.append(equity)
        self.exposed_bars += exposed
        self.equity = equity

    def open_trade_record(self) -> Trade | None:
        """The open round trip as a Trade (exit fields None; pnl marked at the last close)."""
        t = self.open_trade
        if t is None:
            return None
        pnl = self.equity - t.cash_before
        return Trade(t.side, t.entry_bar, t.entry_time, t.entry_price, None, None, None, pnl,
                     pnl / t.equity_before, None)

    def _close_trade(self, bar: int, time: int, price: float, reason: str) -> None:
        t = self.open_trade
        pnl = self.cash - t.cash_before
        self.trades.append(Trade(t.side, t.entry_bar, t.entry_time, t.entry_price, bar, time, price, pnl,
                                 pnl / t.equity_before, reason))
        self.open_trade = None


class Broker:
    """Simulated execution: market orders at a reference price with slippage and a taker fee, resting
    stop orders triggered by bar ranges, liquidation at the bankruptcy price.

    fee: fraction of filled notional (0.00045 = 4.5 bp); slippage: fraction of price (buys fill at
    price x (1 + slippage), sells at price x (1 - slippage)).
    """

    def __init__(self, *, fee: float, slippage: float) -> None:
        if not 0.0 <= fee < 1.0:
            raise ValueError(f"fee={fee!r} must be a fraction in [0, 1)")
        if not 0.0 <= slippage < 1.0:
            raise ValueError(f"slippage={slippage!r} must be a fraction in [0, 1)")
        self.fee = fee
        self.slippage = slippage
        self.stops: list[StopOrder] = []

    def market_order(self, books: Books, size: float, price: float, bar: Bar, reason: str = "target") -> None:
        """Fill `size` coins (negative = sell) at `price` worsened by slippage; a flip fills in two parts."""
        if size == 0.0:
            return
        position = books.position
        if position != 0.0 and (position + size) != 0.0 and ((position + size) > 0.0) != (position > 0.0):
            self._fill(books, -position, price, bar, reason)
            size += position
        self._fill(books, size, price, bar, reason)

    def arm_stops(self, entry_price: float, long: bool, stop_loss: float, take_profit: float) -> None:
        """Replace the resting stops with ones for a position entered at `entry_price` (0.0 = off)."""
        self.stops = []
        sign = 1.0 if long else -1.0
        if stop_loss > 0.0:
            self.stops.append(StopOrder("stop_loss", entry_price * (1.0 - sign * stop_loss), long))
        if take_profit > 0.0:
            self.stops.append(StopOrder("take_profit", entry_price * (1.0 + sign * take_profit), long))

    def cancel_stops(self) -> None:
        self.stops = []

    def process_bar(self, books: Books, bar: Bar) -> None:
        """Trigger resting stops in the bar (first in order wins, the rest are cancelled), then liquidate
        if the account's equity at the bar's adverse extreme is <= 0."""
        for stop in self.stops:
            price = self._trigger_price(stop, bar)
            if price is not None:
                self._fill(books, -books.position, price, bar, stop.kind)
                self.stops = []
                break
        worst = bar.low if books.position > 0.0 else bar.high
        if books.value(worst) <= 0.0:
            books.liquidate(bar)
            self.stops = []

    @staticmethod
    def _trigger_price(stop: StopOrder, bar: Bar) -> float | None:
        """Fill price if `stop` triggers in `bar`: the trigger, or the open when the bar opens beyond it."""
        # A sell stop (closing a long) below the price, or a sell limit-style take profit above it.
        selling_below = stop.closes_long == (stop.kind == "stop_loss")
        if selling_below:
            if bar.open <= stop.trigger:
                return bar.open
            return stop.trigger if bar.low <= stop.trigger else None
        if bar.open >= stop.trigger:
            return bar.open
        return stop.trigger if bar.high >= stop.trigger else None

    def _fill(self, books: Books, size: float, price: float, bar: Bar, reason: str) -> None:
        fill_price = price * (1.0 + self.slippage) if size > 0.0 else price * (1.0 - self.slippage)
        books.apply_fill(Fill(bar.index, bar.time, size, fill_price, abs(size) * fill_price * self.fee, reason))


class ReplaySummary(NamedTuple):
    """Performance of a replay. Fractions (0.12 = 12 %); sharpe annualised with bars_per_year."""

    bars: int
    total_return: float
    sharpe: float
    max_drawdown: float
    trades: int
    win_rate: float
    exposure: float
    fees_paid: float
    funding_paid: float


class Engine:
    """Drives one strategy bar by bar: broker events, funding, the strategy's target, orders, stops, books.

    stop_loss / take_profit: fractions of the entry price (0.0 = off). capital: starting equity.
    """

    def __init__(self, strategy: Strategy, broker: Broker, *, capital: float = 1.0, stop_loss: float = 0.0,
                 take_profit: float = 0.0) -> None:
        if not capital > 0.0:
            raise ValueError(f"capital={capital!r} must be > 0")
        if not 0.0 <= stop_loss < 1.0:
            raise ValueError(f"stop_loss={stop_loss!r} must be a fraction in [0, 1)")
        if not 0.0 <= take_profit < math.inf:
            raise ValueError(f"take_profit={take_profit!r} must be a finite fraction >= 0")
        self.strategy = strategy
        self.broker = broker
        self.books = Books(capital)
        self.stop_loss = stop_loss
        self.take_profit = take_profit
        self.target = 0.0  # the last target acted on (flat before the first bar)

    def on_bar(self, bar: Bar) -> None:
        """Process one completed bar (module docstring, steps 1-4)."""
        books = self.books
        exposed = books.position != 0.0
        if exposed:
            self.broker.process_bar(books, bar)
            books.charge_funding(books.position * bar.close * bar.funding)
        target = float(self.strategy(bar))
        if not math.isfinite(target):
            raise ValueError(f"strategy returned target={target!r} at bar {bar.index}; expected a finite fraction")
        if target != self.target:
            self.target = target
            self._rebalance(target, bar)
        books.mark(bar.close, exposed)

    def run(self, bars: Iterable[Bar]) -> Books:
        """Process `bars` in order as fast as they come; returns the books."""
        for bar in bars:
            self.on_bar(bar)
        return self.books

    def summary(self, bars_per_year: float) -> ReplaySummary:
        """Performance of the bars processed so far (see ReplaySummary)."""
        books = self.books
        r = np.asarray(books.returns)
        n = len(r)
        sd = r.std(ddof=1) if n > 1 else 0.0
        curve = np.r_[books.initial, books.equity_curve]
        peaks = np.maximum.accumulate(curve)
        drawdown = float(np.max(1.0 - curve / peaks)) if books.equity > 0.0 else 1.0
        wins = sum(t.pnl > 0.0 for t in books.trades)
        return ReplaySummary(
            bars=n,
            total_return=books.equity / books.initial - 1.0,
            sharpe=float(r.mean() / sd * math.sqrt(bars_per_year)) if sd > 0.0 else 0.0,
            max_drawdown=drawdown,
            trades=len(books.trades),
            win_rate=wins / len(books.trades) if books.trades else 0.0,
            exposure=books.exposed_bars / n if n else 0.0,
            fees_paid=books.fees_paid / books.initial,
            funding_paid=books.funding_paid / books.initial,
        )

    def _rebalance(self, target: float, bar: Bar) -> None:
        books = self.books
        equity = books.value(bar.close)
        if equity <= 0.0:  # a ruined account trades no more
            return
        before = books.position
        self.broker.market_order(books, target * equity / bar.close - before, bar.close, bar)
        after = books.position
        if after == 0.0:
            self.broker.cancel_stops()
        elif before == 0.0 or (after > 0.0) != (before > 0.0) or abs(after) > abs(before):
            self.broker.arm_stops(bar.close, after > 0.0, self.stop_loss, self.take_profit)


class TargetSeries:
    """A strategy replaying targets computed beforehand: target = targets[bar.index]."""

    def __init__(self, targets: np.ndarray) -> None:
        self.targets = np.asarray(targets, dtype=np.float64)

    def __call__(self, bar: Bar) -> float:
        return float(self.targets[bar.index])
