"""The paper book's accounting (exchange.paper.accounting) by hand: fills and entry prices, marking with
funding and return statistics, and dust handed to a holder."""
from __future__ import annotations

import pytest

from exchange.paper.accounting import apply_fill, mark, sweep_dust
from exchange.paper.state import BookState, StrategyBook
from exchange.replay import Bar


def _book(joined_ms: int = 0) -> StrategyBook:
    return StrategyBook("s", "BTC", 1_000.0, joined_ms, cash=1_000.0, equity=1_000.0, peak_equity=1_000.0)


def test_fills_move_cash_and_the_entry_price() -> None:
    s = _book()
    apply_fill(s, 2.0, 100.0, 0.1)  # open
    assert (s.cash, s.position, s.entry_px, s.fees, s.fills) == (799.9, 2.0, 100.0, 0.1, 1)
    apply_fill(s, 2.0, 110.0, 0.1)  # grow: size-weighted entry
    assert s.entry_px == pytest.approx(105.0) and s.position == 4.0
    apply_fill(s, -1.0, 120.0, 0.0)  # reduce: entry kept
    assert s.entry_px == pytest.approx(105.0) and s.position == 3.0
    apply_fill(s, -5.0, 90.0, 0.0)  # flip: entry is the fill price
    assert (s.position, s.entry_px) == (-2.0, 90.0)
    apply_fill(s, 2.0 + 1e-13, 80.0, 0.0)  # close; a residue under 1e-12 coins is zero
    assert (s.position, s.entry_px) == (0.0, 0.0)
    assert s.traded_notional == pytest.approx(200 + 220 + 120 + 450 + 160)
    assert s.cash == pytest.approx(1_000 - 200.1 - 220.1 + 120 + 450 - 160)


def test_mark_charges_funding_at_the_close_and_records_the_return() -> None:
    state = BookState("b", "http://x", "0xabc", 0, strategies={"s": _book(joined_ms=0)})
    s = state.strategies["s"]
    apply_fill(s, 1.0, 100.0, 0.0)
    bar = Bar(1, 3_600_000, 100.0, 112.0, 99.0, 110.0, 5.0, 0.001)
    mark(state, {"BTC": bar, "ETH": None}, 3_600_000, keep_returns=2)
    assert s.funding == pytest.approx(0.11) and s.equity == pytest.approx(1_010.0 - 0.11)
    assert s.last_return == pytest.approx(s.equity / 1_000.0 - 1)
    assert s.bars == 1 and s.recent_returns == [s.last_return]
    assert s.peak_equity == s.equity
    mark(state, {"BTC": bar._replace(funding=0.0, close=100.0)}, 7_200_000, keep_returns=2)
    mark(state, {"BTC": bar._replace(funding=0.0, close=100.0)}, 10_800_000, keep_returns=2)
    assert s.bars == 3 and len(s.recent_returns) == 2 and s.recent_returns[-1] == 0.0
    assert s.drawdown == pytest.approx(1 - s.equity / s.peak_equity) and s.peak_equity > s.equity


def test_a_strategy_joining_at_t_is_marked_without_a_return() -> None:
    state = BookState("b", "http://x", "0xabc", 0, strategies={"s": _book(joined_ms=3_600_000)})
    mark(state, {"BTC": Bar(1, 3_600_000, 1.0, 1.0, 1.0, 1.0)}, 3_600_000, keep_returns=5)
    assert state.strategies["s"].bars == 0 and state.strategies["s"].recent_returns == []


def test_dust_goes_to_the_largest_holder_that_wants_a_position() -> None:
    flat = StrategyBook("a", "BTC", 1.0, 0, position=0.00004, desired=0.0)
    small = StrategyBook("b", "BTC", 1.0, 0, position=0.5, desired=0.5)
    large = StrategyBook("c", "BTC", 1.0, 0, position=-0.9, desired=-0.9)
    state = BookState("b", "http://x", "0xabc", 0, strategies={s.strategy_id: s for s in (flat, small, large)})
    rows = sweep_dust(state, "BTC", 100.0, 0.0001, time_ms=7, tag="BTC")
    assert flat.position == 0.0 and large.position == pytest.approx(-0.9 + 0.00004) and small.position == 0.5
    assert [(r["strategy_id"], r["size"], r["kind"], r["reason"], r["time"]) for r in rows] == [
        ("a", -0.00004, "dust", "dust", 7), ("c", 0.00004, "dust", "dust", 7)]
    assert sweep_dust(state, "BTC", 100.0, 0.0001, time_ms=8, tag="BTC") == []  # nothing left to sweep
