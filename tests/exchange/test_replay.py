"""The event-driven replay engine: hand-computed books, stop and funding rules, and agreement with the
fused kernel (kernels/simulate.py) on random target series, fill for fill and bar for bar."""
from __future__ import annotations

import numpy as np
import pytest

from exchange.replay import Bar, Books, Broker, Engine, Fill, TargetSeries
from kernels.metrics import METRIC_NAMES, N_METRICS
from kernels.simulate import simulate_1d_nb
from tasks.validate.gate2_trades import KernelTrade, first_trade_mismatch, kernel_trades, per_bar_bounds

M = {name: i for i, name in enumerate(METRIC_NAMES)}
FEE, SLIP, BPY = 0.00045, 0.0001, 8760.0


def bars_of(open_, high, low, close, funding=None, start=0):
    funding = np.zeros(len(close)) if funding is None else funding
    return [Bar(i, i * 3_600_000, open_[i], high[i], low[i], close[i], 1.0, funding[i])
            for i in range(start, len(close))]


def flat_bars(closes, spread=0.0):
    c = np.asarray(closes, dtype=float)
    return c, c * (1 + spread), c * (1 - spread), c


def run(targets, ohlc, *, fee=0.0, slippage=0.0, stop_loss=0.0, take_profit=0.0, funding=None) -> Engine:
    engine = Engine(TargetSeries(np.asarray(targets, float)), Broker(fee=fee, slippage=slippage),
                    stop_loss=stop_loss, take_profit=take_profit)
    engine.run(bars_of(*ohlc, funding))
    return engine


def test_long_round_trip_by_hand():
    """Buy 1x at 100 (fill 100.01 with 1 bp slippage, fee 4.5 bp), sell at 110 (fill 109.989)."""
    e = run([1.0, 1.0, 0.0], flat_bars([100.0, 105.0, 110.0]), fee=FEE, slippage=SLIP)
    size = 1.0 / 100.0
    buy, sell = 100.0 * (1 + SLIP), 110.0 * (1 - SLIP)
    cash = 1.0 - size * buy - size * buy * FEE + size * sell - size * sell * FEE
    assert e.books.position == 0.0 and e.books.cash == pytest.approx(cash, rel=1e-14)
    (trade,) = e.books.trades
    assert (trade.side, trade.entry_bar, trade.exit_bar, trade.exit_reason) == (1, 0, 2, "target")
    assert trade.entry_price == buy and trade.exit_price == sell
    assert trade.pnl == pytest.approx(cash - 1.0, rel=1e-12)
    assert [f.reason for f in e.books.fills] == ["target", "target"]
    assert e.books.fees_paid == pytest.approx(size * (buy + sell) * FEE)


def test_unchanged_target_holds_coins_without_rebalancing():
    e = run([1.0, 1.0, 1.0], flat_bars([100.0, 200.0, 50.0]))
    assert len(e.books.fills) == 1 and e.books.position == pytest.approx(0.01)
    assert e.books.returns == pytest.approx([0.0, 1.0, -0.75])


def test_flip_is_a_close_then_an_open():
    e = run([1.0, -0.5, -0.5], flat_bars([100.0, 100.0, 90.0]), fee=FEE)
    sizes = [f.size for f in e.books.fills]
    assert len(sizes) == 3 and sizes[1] == pytest.approx(-0.01) and sizes[2] < 0
    assert [(t.side, t.entry_bar, t.exit_bar) for t in e.books.trades] == [(1, 0, 1)]
    assert e.books.open_trade_record().side == -1 and e.books.open_trade_record().entry_bar == 1
    with pytest.raises(ValueError, match="flip"):
        Books(1.0, position=1.0).apply_fill(Fill(0, 0, -2.0, 1.0, 0.0, "target"))


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_stop_loss_fills_at_the_level_or_the_gap_open(side):
    entry = 100.0
    # Bar 1 touches the 5 % stop; bar 1' opens through it.
    touch_low, touch_high = (94.0, 101.0) if side > 0 else (99.0, 106.0)
    e = run([side, side, side], ([entry, 100.0, 100.0], [entry, touch_high, 100.0], [entry, touch_low, 100.0],
                                 [entry, 100.0, 100.0]), stop_loss=0.05)
    level = entry * (1 - 0.05 * side)
    (trade,) = e.books.trades
    assert trade.exit_reason == "stop_loss" and trade.exit_price == pytest.approx(level) and trade.exit_bar == 1
    assert e.books.position == 0.0 and len(e.books.fills) == 2  # flat until the target changes
    gap_open = 90.0 if side > 0 else 110.0
    e = run([side, side], ([entry, gap_open], [entry, max(gap_open, 100.0)], [entry, min(gap_open, 100.0)],
                           [entry, 100.0]), stop_loss=0.05)
    assert e.books.trades[0].exit_price == gap_open


def test_stop_loss_wins_over_take_profit_and_rearms_on_a_new_target():
    # Bar 1 spans both the 2 % stop and the 2 % take profit: the stop is taken.
    e = run([1.0, 1.0, 0.5, 0.5], ([100.0, 100.0, 100.0, 100.0], [100.0, 103.0, 100.0, 103.0],
                                   [100.0, 97.0, 100.0, 100.0], [100.0, 100.0, 100.0, 100.0]),
            stop_loss=0.02, take_profit=0.02)
    assert [t.exit_reason for t in e.books.trades] == ["stop_loss", "take_profit"]
    assert e.books.trades[1].entry_bar == 2 and e.books.trades[1].exit_price == pytest.approx(102.0)


def test_funding_long_pays_short_receives():
    rate = np.full(3, 0.001)
    long = run([1.0, 1.0, 1.0], flat_bars([100.0] * 3), funding=rate)
    short = run([-1.0, -1.0, -1.0], flat_bars([100.0] * 3), funding=rate)
    assert long.books.funding_paid == pytest.approx(2 * 0.001)  # bars 1 and 2 are held
    assert short.books.funding_paid == pytest.approx(-2 * 0.001)
    assert long.books.equity == pytest.approx(1.0 - 0.002) and short.books.equity == pytest.approx(1.002)


def test_ruin_liquidates_at_the_bankruptcy_price():
    e = run([3.0, 3.0, 3.0, -1.0], ([100.0, 100.0, 50.0, 50.0], [100.0, 100.0, 60.0, 50.0],
                                    [100.0, 60.0, 40.0, 50.0], [100.0, 70.0, 50.0, 50.0]))
    assert e.books.equity == 0.0 and e.books.trades[-1].exit_reason == "liquidation"
    assert e.books.returns[-1] == 0.0 and len(e.books.fills) == 2  # a ruined account trades no more


def test_bad_arguments_name_the_field():
    with pytest.raises(ValueError, match="fee="):
        Broker(fee=-0.1, slippage=0.0)
    with pytest.raises(ValueError, match="stop_loss="):
        Engine(TargetSeries(np.zeros(1)), Broker(fee=0.0, slippage=0.0), stop_loss=1.5)
    engine = Engine(lambda bar: float("nan"), Broker(fee=0.0, slippage=0.0))
    with pytest.raises(ValueError, match="target=nan"):
        engine.on_bar(Bar(0, 0, 1.0, 1.0, 1.0, 1.0))


def random_walk(n: int, seed: int, vol: float = 0.01):
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0.0, vol / 3, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, vol / 2, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, vol / 2, n)))
    return open_, high, low, close


def random_targets(n: int, rng: np.random.Generator) -> np.ndarray:
    out, t = np.empty(n), 0
    while t < n:
        length = int(rng.integers(1, 30))
        out[t:t + length] = 0.0 if rng.random() < 0.2 else rng.uniform(-3.0, 3.0)
        t += length
    return out


@pytest.mark.parametrize("seed", range(40))
def test_engine_equals_the_kernel_trade_for_trade(seed):
    rng = np.random.default_rng(seed)
    n, start = 500, 40
    o, h, l, c = random_walk(n, seed, vol=0.02 if seed % 5 == 0 else 0.01)
    funding = rng.normal(1e-5, 1e-4, n)
    target = random_targets(n, rng)
    stop_loss, take_profit = rng.choice([0.0, 0.01, 0.03]), rng.choice([0.0, 0.02, 0.05])
    metrics, returns = np.empty((1, N_METRICS)), np.zeros(n)
    simulate_1d_nb(target, o, h, l, c, funding, np.array([start, n - 1]), stop_loss, take_profit, FEE, SLIP, BPY,
                   metrics, returns)
    bounds = per_bar_bounds(start, n)
    per_bar = np.empty((len(bounds) - 1, N_METRICS))
    simulate_1d_nb(target, o, h, l, c, funding, bounds, stop_loss, take_profit, FEE, SLIP, BPY, per_bar, np.empty(0))

    engine = Engine(TargetSeries(target), Broker(fee=FEE, slippage=SLIP), stop_loss=stop_loss, take_profit=take_profit)
    books = engine.run(bars_of(o, h, l, c, funding, start=start))
    replayed = books.trades + ([books.open_trade_record()] if books.open_trade else [])
    assert first_trade_mismatch(replayed, kernel_trades(per_bar, target, start), 1.0) is None
    np.testing.assert_allclose(books.returns, returns[start:], rtol=0, atol=1e-9)
    s, k = engine.summary(BPY), metrics[0]
    assert s.trades == k[M["trades"]] and s.win_rate == pytest.approx(k[M["win_rate"]], abs=1e-12)
    for name in ("total_return", "sharpe", "max_drawdown", "exposure", "fees_paid", "funding_paid"):
        assert getattr(s, name) == pytest.approx(k[M[name]], rel=1e-8, abs=1e-10), name


def test_mismatch_names_the_first_differing_trade():
    e = run([1.0, 1.0, 0.0, -1.0, 0.0], flat_bars([100.0, 101.0, 102.0, 101.0, 100.0]))
    kernel = [KernelTrade(1, 0, 2, True), KernelTrade(-1, 3, 5, True)]
    message = first_trade_mismatch(e.books.trades, kernel, 1.0, lambda i: f"bar {i}")
    assert message == ("trade #2 differs: replay short entered bar 3, exited bar 4 (win) vs kernel short entered "
                       "bar 3, exited bar 5 (win)")
