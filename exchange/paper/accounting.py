"""The paper book's accounting as plain functions of its state: which coins a bar needs, strategies
joining, marking at the close (funding, equity, return statistics), fills, dust, and the ledger rows.

Nothing here talks to the venue, reads a clock or touches a file; the functions change the `BookState`
or `StrategyBook` they are given in place (or return rows). Money in USD, positions in signed coin
units, returns as fractions (0.01 = 1 %), times epoch ms.

A fill of `qty` coins at `price` paying `fee`:

    cash -= qty x price + fee;  entry price = price when the fill opens or flips the position,
    the size-weighted mean when it grows it, unchanged when it reduces it, 0 when it closes it.

Example:
    >>> s = StrategyBook("s", "BTC", 100.0, 0, cash=100.0)
    >>> apply_fill(s, 0.5, 100.0, 0.02); apply_fill(s, 0.5, 110.0, 0.02)
    >>> round(s.cash, 2), s.position, s.entry_px
    (-5.04, 1.0, 105.0)
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from exchange.paper.feed import BARS_PER_YEAR
from exchange.paper.registry import StrategySpec
from exchange.paper.state import BookState, StrategyBook
from exchange.replay import Bar

__all__ = ["FUNDING_FAMILIES", "POSITION_EPS", "apply_fill", "coins_to_trade", "fill_row", "funding_coins", "join",
           "mark", "performance_rows", "sweep_dust"]

log = logging.getLogger(__name__)

FUNDING_FAMILIES = frozenset({"funding_carry"})
"""Families whose kernels read the funding series (the others' targets do not depend on it)."""
POSITION_EPS = 1e-12
"""Coins below which a position or a wanted change counts as zero."""


def coins_to_trade(state: BookState | None, specs: Iterable[StrategySpec]) -> list[str]:
    """Coins the book must look at each bar: those of active registered strategies, and of strategies in
    the book (`state`, None before the first run) that are active or still hold a position. Empty means
    the trader has nothing to do."""
    coins = {spec.coin for spec in specs if spec.status == "active"}
    if state is not None:
        coins |= {s.coin for s in state.strategies.values() if s.status == "active" or s.position != 0.0}
    return sorted(coins)


def funding_coins(state: BookState, specs: dict[str, StrategySpec]) -> list[str]:
    """Coins whose funding is needed at this bar: a position pays it, or a family reads it."""
    coins = {s.coin for s in state.strategies.values() if s.position != 0.0}
    coins |= {spec.coin for spec in specs.values() if spec.status == "active"
              and FUNDING_FAMILIES.intersection({spec.family, spec.family_b})}
    return sorted(coins)


def join(state: BookState, specs: dict[str, StrategySpec], t: int) -> None:
    """Add active registry strategies the book does not hold yet, each with its capital in cash; they
    trade from bar t."""
    for spec in specs.values():
        if spec.status == "active" and spec.strategy_id not in state.strategies:
            state.strategies[spec.strategy_id] = StrategyBook(
                spec.strategy_id, spec.coin, spec.capital, joined_ms=t, cash=spec.capital, equity=spec.capital,
                peak_equity=spec.capital)
            log.info("strategy %s joins the book on %s with %.2f USD", spec.strategy_id, spec.coin, spec.capital)


def mark(state: BookState, bars: dict[str, Bar | None], t: int, *, keep_returns: int) -> None:
    """Close of bar t for every strategy whose coin has a bar: funding on the position held over it
    (position x close x rate), equity at the close, its peak; for an active strategy that joined before
    t, the bar return enters its mean / M2 (Welford) and its last `keep_returns` returns."""
    for s in state.strategies.values():
        bar = bars.get(s.coin)
        if bar is None:
            continue
        if s.position != 0.0:
            paid = s.position * bar.close * bar.funding
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
            s.recent_returns = (s.recent_returns + [r])[-keep_returns:]
            s.last_return = r
        s.equity = equity
        s.peak_equity = max(s.peak_equity, equity)


def apply_fill(s: StrategyBook, qty: float, price: float, fee: float) -> None:
    """Book `qty` signed coins at `price` paying `fee` USD on strategy `s` (module docstring)."""
    before, after = s.position, s.position + qty
    if abs(after) < POSITION_EPS:
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


def fill_row(time_ms: int, s: StrategyBook, kind: str, tag: str, qty: float, price: float, fee: float,
             cloid: str, reason: str) -> dict:
    """One row of fills.parquet: `kind` is "internal" (crossed in the book), "venue" or "dust"."""
    return {"time": time_ms, "strategy_id": s.strategy_id, "coin": s.coin, "kind": kind, "tag": tag, "size": qty,
            "price": price, "fee": fee, "cloid": cloid, "reason": reason}


def sweep_dust(state: BookState, coin: str, price: float, lot: float, *, time_ms: int, tag: str) -> list[dict]:
    """A strategy that wants to be flat but holds less than one `lot` (its pro-rata share of lot-rounded
    fills) hands that dust to the coin's largest holder that wants a position, at the reference price,
    so that flat means 0. Without such a holder the dust stays (the venue holds it too). Returns the
    fill rows ("dust") of the transfers."""
    rows = []
    mine = [s for s in state.strategies.values() if s.coin == coin]
    for s in mine:
        if s.desired != 0.0 or s.position == 0.0 or abs(s.position) >= lot:
            continue
        holders = [o for o in mine if o is not s and o.desired != 0.0 and o.position != 0.0]
        if not holders:
            continue
        dust = s.position
        apply_fill(s, -dust, price, 0.0)
        holder = max(holders, key=lambda o: (abs(o.position), o.strategy_id))
        apply_fill(holder, dust, price, 0.0)
        for who, qty in ((s, -dust), (holder, dust)):
            rows.append(fill_row(time_ms, who, "dust", tag, qty, price, 0.0, "", "dust"))
    return rows


def performance_rows(state: BookState, strategies: list[StrategyBook], bars: dict[str, Bar | None],
                     close_ms: int) -> list[dict]:
    """Rows of performance.parquet for `strategies` at the close `close_ms` (Sharpe annualised with
    BARS_PER_YEAR; price NaN where the coin had no bar, target NaN before the first)."""
    rows = []
    for s in strategies:
        bar = bars.get(s.coin)
        rows.append({
            "time": close_ms, "strategy_id": s.strategy_id, "coin": s.coin, "status": s.status,
            "target": float("nan") if s.target is None else s.target, "risk_multiplier": s.risk_multiplier,
            "position": s.position, "price": float("nan") if bar is None else bar.close, "equity": s.equity,
            "pnl": s.pnl, "return": s.last_return, "drawdown": s.drawdown, "sharpe": s.sharpe(BARS_PER_YEAR),
            "fees": s.fees, "funding": s.funding, "fills": s.fills, "book_equity": state.equity,
        })
    return rows
