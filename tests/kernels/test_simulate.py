"""simulate_1d_nb against vectorbt (the oracle), hand-computed cases and edge cases.

vectorbt caps a long at the cash it holds; the simulator trades on margin. The oracle portfolios
therefore get a second, zero-cost column at a constant price of 1 that is shorted once at bar 0: it lends
BORROW cash at zero interest and adds nothing to the group's value, so vectorbt's targetpercent orders
fill in full at any leverage.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import vectorbt as vbt
from numba import njit, prange
from vectorbt.portfolio.enums import SizeType
from vectorbt.portfolio.nb import get_stop_price_nb

from kernels.metrics import METRIC_NAMES, N_METRICS
from kernels.simulate import simulate_1d_nb, simulate_signal_1d_nb, stop_band_nb, stop_price_nb

M = {name: i for i, name in enumerate(METRIC_NAMES)}
BPY = 8760.0
FEE, SLIP = 0.00045, 0.0001
BORROW = 1000.0
RTOL = 1e-9
RET_ATOL = 1e-12  # per-bar returns: a flat bar's return is 0 here and ~1e-16 in vectorbt's cash-shared sum


class Bars:
    """OHLC arrays of one market."""

    def __init__(self, open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray):
        self.open, self.high, self.low, self.close = open_, high, low, close
        self.n = close.shape[0]


def synthetic_bars(n: int, seed: int, vol: float = 0.01, gap: float = 0.003) -> Bars:
    """Random-walk bars with opening gaps (log-sd `gap`) and wicks (low <= open, close <= high)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0.0, gap, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, vol / 2, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, vol / 2, n)))
    return Bars(open_, high, low, close)


def btc_bars(shared_data, start: int, n: int) -> Bars:
    df = pd.read_parquet(shared_data / "candles-1h" / "BTC.parquet").iloc[start:start + n]
    return Bars(*(df[k].to_numpy(np.float64) for k in ("open", "high", "low", "close")))


def random_target(n: int, rng: np.random.Generator, levels: np.ndarray | None = None,
                  max_leverage: float = 3.0, hold: tuple[int, int] = (1, 30)) -> np.ndarray:
    """Piecewise-constant targets: random holds, ~20 % flat, long and short up to max_leverage."""
    out = np.empty(n)
    t = 0
    while t < n:
        length = int(rng.integers(*hold))
        if levels is not None:
            value = rng.choice(levels)
        else:
            value = 0.0 if rng.random() < 0.2 else rng.uniform(-max_leverage, max_leverage)
        out[t:t + length] = value
        t += length
    return out


def simulate(target, bars, bounds=None, stop_loss=0.0, take_profit=0.0, fee=FEE, slippage=SLIP,
             funding=None):
    """Our simulator: (metrics[K, N_METRICS], returns[N])."""
    bounds = np.array([0, bars.n - 1] if bounds is None else bounds, dtype=np.int64)
    funding = np.zeros(bars.n) if funding is None else funding
    metrics = np.full((bounds.shape[0] - 1, N_METRICS), np.nan)
    returns = np.full(bars.n, np.nan)
    simulate_1d_nb(target, bars.open, bars.high, bars.low, bars.close, funding, bounds, stop_loss,
                   take_profit, fee, slippage, BPY, metrics, returns)
    return metrics, returns


def _two_cols(dummy, asset):
    return np.column_stack([dummy, asset])


def vbt_from_orders(close, target, fee=FEE, slippage=SLIP):
    """vectorbt targetpercent portfolio, ordering only where the target changes."""
    n = close.shape[0]
    size = target.copy()
    size[1:][target[1:] == target[:-1]] = np.nan
    borrow = np.full(n, np.nan)
    borrow[0] = -BORROW
    return vbt.Portfolio.from_orders(
        _two_cols(np.ones(n), close), _two_cols(borrow, size),
        size_type=np.array([[SizeType.Amount, SizeType.TargetPercent]]),
        fees=np.array([[0.0, fee]]), slippage=np.array([[0.0, slippage]]),
        init_cash=1.0, cash_sharing=True, group_by=True, freq="1h")


def vbt_returns_metrics(returns: np.ndarray) -> dict[str, float]:
    """vectorbt's return statistics with our annualisation; max_drawdown with the start equity as a peak."""
    acc = pd.Series(returns).vbt.returns(freq="1h", year_freq=pd.Timedelta(hours=BPY))
    with_start = pd.Series(np.r_[0.0, returns]).vbt.returns(freq="1h")
    cagr = acc.annualized()
    max_dd = -with_start.max_drawdown()
    return {"total_return": acc.total(), "cagr": cagr, "sharpe": acc.sharpe_ratio(),
            "sortino": acc.sortino_ratio(), "max_drawdown": max_dd, "calmar": cagr / max_dd}


def vbt_positions(pf) -> tuple[int, float]:
    """(closed round trips, win rate) of the asset column: vectorbt positions, not exit trades."""
    rec = pf.positions.records
    closed = rec[(rec["col"] == 1) & (rec["status"] == 1)]
    return len(closed), float(np.mean(closed["pnl"] > 0.0)) if len(closed) else 0.0


def assert_matches_vbt(metrics_row, returns, pf):
    """Equity, returns, return statistics, round trips, fees and exposure equal vectorbt's."""
    vbt_returns = pf.returns().to_numpy()
    np.testing.assert_allclose(np.cumprod(1.0 + returns), pf.value().to_numpy(), rtol=RTOL, atol=0)
    np.testing.assert_allclose(returns, vbt_returns, rtol=RTOL, atol=RET_ATOL)
    for name, expected in vbt_returns_metrics(vbt_returns).items():
        assert metrics_row[M[name]] == pytest.approx(expected, rel=RTOL), name
    trades, win_rate = vbt_positions(pf)
    assert metrics_row[M["trades"]] == trades
    assert metrics_row[M["win_rate"]] == pytest.approx(win_rate, rel=RTOL)
    orders = pf.orders.records
    assert metrics_row[M["fees_paid"]] == pytest.approx(orders["fees"][orders["col"] == 1].sum(), rel=RTOL)
    held = pf.assets().to_numpy()[:-1, 1] != 0.0  # position held over bars 1..n-1 (flat over bar 0)
    assert metrics_row[M["exposure"]] == pytest.approx(np.sum(held) / len(returns), rel=1e-12)


# ---------------------------------------------------------------- vectorbt from_orders oracle

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_vectorbt_from_orders_synthetic(seed):
    bars = synthetic_bars(500, seed)
    target = random_target(bars.n, np.random.default_rng(seed))
    metrics, returns = simulate(target, bars)
    assert_matches_vbt(metrics[0], returns, vbt_from_orders(bars.close, target))


def test_matches_vectorbt_from_orders_with_repeated_levels_and_one_bar_holds():
    """Discrete levels revisit the same target and hold for single bars: order only on changes."""
    bars = synthetic_bars(400, 7)
    rng = np.random.default_rng(7)
    target = random_target(bars.n, rng, levels=np.array([-3.0, -1.0, 0.0, 0.5, 1.0, 3.0]), hold=(1, 4))
    metrics, returns = simulate(target, bars, fee=0.0015, slippage=0.002)
    assert_matches_vbt(metrics[0], returns, vbt_from_orders(bars.close, target, 0.0015, 0.002))


@pytest.mark.parametrize("start", [2000, 15000])
def test_matches_vectorbt_from_orders_on_btc(shared_data, start):
    bars = btc_bars(shared_data, start, 3000)
    target = random_target(bars.n, np.random.default_rng(start))
    metrics, returns = simulate(target, bars)
    assert metrics[0, M["trades"]] > 50
    assert_matches_vbt(metrics[0], returns, vbt_from_orders(bars.close, target))


def test_window_inside_longer_arrays_equals_vectorbt_on_the_slice(shared_data):
    """bounds=[start, stop-1] is vectorbt on close[start:stop]; earlier targets are ignored (flat)."""
    bars = btc_bars(shared_data, 5000, 1500)
    target = random_target(bars.n, np.random.default_rng(11))
    start, stop = 300, 1200
    target[start - 1] = target[start] = 1.7  # already "in position" before the window: entry at start
    metrics, returns = simulate(target, bars, bounds=[start, stop - 1])
    pf = vbt_from_orders(bars.close[start:stop], target[start:stop])
    assert_matches_vbt(metrics[0], returns[start:stop], pf)
    assert np.all(returns[:start] == 0.0) and np.all(returns[stop:] == 0.0)


# ---------------------------------------------------------------- stops vs vectorbt from_signals

def vbt_from_signals(bars, target, sizes, stop_loss, take_profit, fee=FEE, slippage=SLIP):
    """Stop portfolio: long/short entries and exits where `target` changes, entry `sizes` in coins."""
    n = bars.n
    prev = np.r_[0.0, target[:-1]]
    change = target != prev
    none = np.zeros(n, dtype=bool)
    borrow = none.copy()
    borrow[0] = True
    ones = np.ones(n)
    return vbt.Portfolio.from_signals(
        _two_cols(ones, bars.close),
        entries=_two_cols(none, change & (target > 0)),
        exits=_two_cols(none, change & (target == 0) & (prev > 0)),
        short_entries=_two_cols(borrow, change & (target < 0)),
        short_exits=_two_cols(none, change & (target == 0) & (prev < 0)),
        size=_two_cols(np.full(n, BORROW), sizes), size_type="amount",
        open=_two_cols(ones, bars.open), high=_two_cols(ones, bars.high), low=_two_cols(ones, bars.low),
        sl_stop=np.array([[np.nan, stop_loss or np.nan]]),
        tp_stop=np.array([[np.nan, take_profit or np.nan]]),
        stop_entry_price="close", stop_exit_price="stopmarket", upon_stop_update="override",
        fees=np.array([[0.0, fee]]), slippage=np.array([[0.0, slippage]]),
        init_cash=1.0, cash_sharing=True, group_by=True, freq="1h")


def stop_oracle(bars, target, stop_loss, take_profit, max_runs=40):
    """vectorbt from_signals portfolio equivalent to targetpercent orders with stops.

    from_signals takes sizes in coins, so each entry's size |target| * equity / close is solved against
    vectorbt's own equity before that entry (a fixed point: one run settles at least one more entry).
    vectorbt also drops a signal that falls on a stop's bar (one order per bar) where the simulator
    still fills it at the close; such target changes are moved one bar later, in both.
    Targets must keep one magnitude per side: from_signals cannot re-size a held position.
    Returns (portfolio, the target it simulates, number of stop fills).
    """
    target = target.copy()
    sizes = np.abs(target) / bars.close  # first guess: equity 1.0 at every entry
    for _ in range(max_runs):
        pf = vbt_from_signals(bars, target, sizes, stop_loss, take_profit)
        change = np.flatnonzero(target != np.r_[0.0, target[:-1]])
        orders = pf.orders.records
        orders = orders[orders["col"] == 1]
        at_close = np.isclose(orders["price"], bars.close[orders["idx"]] * (1 + SLIP), rtol=1e-12) | \
            np.isclose(orders["price"], bars.close[orders["idx"]] * (1 - SLIP), rtol=1e-12)
        clash = np.intersect1d(orders["idx"][~at_close], change)
        if clash.size:
            target[clash[0]] = target[clash[0] - 1]
            continue
        cash = pf.cash().to_numpy() - BORROW
        coins = pf.assets().to_numpy()[:, 1]
        entries = change[target[change] != 0.0]
        value = np.where(entries > 0, cash[entries - 1] + coins[entries - 1] * bars.close[entries], 1.0)
        new_sizes = sizes.copy()
        new_sizes[entries] = np.abs(target[entries]) * value / bars.close[entries]
        if np.allclose(new_sizes, sizes, rtol=1e-13, atol=0):
            return pf, target, int(np.sum(~at_close))
        sizes = new_sizes
    raise AssertionError("stop oracle did not converge")


@pytest.mark.parametrize("seed, stop_loss, take_profit, levels", [
    (0, 0.02, 0.0, [0.0, 1.0]),
    (1, 0.0, 0.03, [-1.0, 0.0]),
    (2, 0.015, 0.025, [-2.0, 0.0, 2.0]),
    (3, 0.03, 0.02, [-3.0, 0.0, 0.5]),
])
def test_stops_match_vectorbt_from_signals_synthetic(seed, stop_loss, take_profit, levels):
    bars = synthetic_bars(400, 100 + seed, gap=0.01)  # wide gaps: some stops fill at the open
    rng = np.random.default_rng(seed)
    target = random_target(bars.n, rng, levels=np.array(levels), hold=(3, 30))
    pf, target, stop_fills = stop_oracle(bars, target, stop_loss, take_profit)
    metrics, returns = simulate(target, bars, stop_loss=stop_loss, take_profit=take_profit)
    assert stop_fills >= 5
    assert_matches_vbt(metrics[0], returns, pf)


def test_stops_match_vectorbt_from_signals_on_btc(shared_data):
    bars = btc_bars(shared_data, 9000, 1000)
    target = random_target(bars.n, np.random.default_rng(5), levels=np.array([-2.0, 0.0, 2.0]),
                           hold=(20, 80))
    pf, target, stop_fills = stop_oracle(bars, target, 0.01, 0.02)
    metrics, returns = simulate(target, bars, stop_loss=0.01, take_profit=0.02)
    assert stop_fills >= 5
    assert_matches_vbt(metrics[0], returns, pf)


# ---------------------------------------------------------------- stops by hand

def bars_from(rows):
    """Bars from (open, high, low, close) rows."""
    a = np.array(rows, dtype=np.float64)
    return Bars(a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy(), a[:, 3].copy())


@pytest.mark.parametrize("side, stop_loss, take_profit, bar, fill", [
    (1.0, 0.05, 0.0, (99.0, 101.0, 94.0, 96.0), 95.0),    # long stop loss inside the bar
    (1.0, 0.05, 0.0, (93.0, 97.0, 90.0, 96.0), 93.0),     # long gaps through the stop: open
    (1.0, 0.0, 0.10, (101.0, 111.0, 100.0, 105.0), 110.0),  # long take profit
    (1.0, 0.0, 0.10, (112.0, 115.0, 104.0, 105.0), 112.0),  # long gaps through the take profit
    (1.0, 0.05, 0.10, (100.0, 111.0, 94.0, 100.0), 95.0),   # both in one bar: the stop loss wins
    (-1.0, 0.05, 0.0, (101.0, 106.0, 100.0, 104.0), 105.0),  # short stop loss
    (-1.0, 0.05, 0.0, (107.0, 108.0, 100.0, 104.0), 107.0),  # short gaps through the stop
    (-1.0, 0.0, 0.10, (99.0, 100.0, 89.0, 95.0), 90.0),     # short take profit
    (-1.0, 0.0, 0.10, (88.0, 92.0, 85.0, 90.0), 88.0),      # short gaps through the take profit
])
def test_stop_fills_at_level_or_gap_open_then_stays_flat(side, stop_loss, take_profit, bar, fill):
    bars = bars_from([(100, 100, 100, 100), bar, (90, 130, 80, 120), (120, 120, 120, 100)])
    target = np.array([side, side, side, side])  # unchanged target: no re-entry after the stop
    fee, slip = 0.001, 0.002
    metrics, returns = simulate(target, bars, stop_loss=stop_loss, take_profit=take_profit, fee=fee,
                                slippage=slip)
    coins = side / 100  # sized on equity at the close; bought (sold) at the slipped price
    entry_px = 100 * (1 + side * slip)
    cash0 = 1.0 - coins * entry_px - abs(coins) * entry_px * fee
    exit_px = fill * (1 - side * slip)
    cash1 = cash0 + coins * exit_px - abs(coins) * exit_px * fee
    eq0 = cash0 + coins * 100
    np.testing.assert_allclose(returns, [eq0 - 1, cash1 / eq0 - 1, 0.0, 0.0], rtol=1e-12, atol=1e-15)
    assert metrics[0, M["trades"]] == 1
    assert metrics[0, M["win_rate"]] == float(cash1 > 1.0)
    assert metrics[0, M["exposure"]] == 0.25


def test_stop_price_equals_vectorbt_get_stop_price_on_random_bars():
    rng = np.random.default_rng(8)
    for _ in range(3000):
        position = rng.choice([-2.0, 0.5])
        stop_loss, take_profit = rng.choice([0.0, 0.01, 0.03], size=2)
        open_, close = 100 * np.exp(rng.normal(0, 0.02, 2))
        high = max(open_, close) * np.exp(abs(rng.normal(0, 0.01)))
        low = min(open_, close) * np.exp(-abs(rng.normal(0, 0.01)))
        expected = np.nan
        if stop_loss > 0:
            expected = get_stop_price_nb(position, 100.0, stop_loss, open_, low, high, True)
        if np.isnan(expected) and take_profit > 0:
            expected = get_stop_price_nb(position, 100.0, take_profit, open_, low, high, False)
        stop_low, stop_high = stop_band_nb(position, 100.0, stop_loss, take_profit)
        ours = stop_price_nb(position, stop_low, stop_high, open_, high, low)
        assert ours == expected or (np.isnan(ours) and np.isnan(expected))


def test_after_a_stop_a_target_change_reenters():
    bars = bars_from([(100, 100, 100, 100), (99, 100, 90, 92), (92, 93, 91, 92), (92, 101, 92, 100)])
    target = np.array([1.0, 1.0, 0.5, 0.5])
    _, returns = simulate(target, bars, stop_loss=0.05, fee=0.0, slippage=0.0)
    eq1 = 1.0 - 0.05  # stopped at 95
    assert returns[1] == pytest.approx(-0.05, rel=1e-12)
    assert returns[2] == 0.0  # re-entered at the close of bar 2: no move held yet
    assert returns[3] == pytest.approx(0.5 * eq1 / 92 * 8 / eq1, rel=1e-12)


def test_stop_reference_resets_when_the_position_grows_and_stays_when_it_shrinks():
    rows = [(100, 100, 100, 100), (100, 110, 100, 110), (110, 110, 104, 105), (105, 106, 99, 100)]
    bars = bars_from(rows)
    # Grown at 110: the 5 % stop sits at 104.5 and is hit in bar 2 (low 104).
    _, grown = simulate(np.array([1.0, 2.0, 2.0, 2.0]), bars, stop_loss=0.05, fee=0.0, slippage=0.0)
    assert grown[3] == 0.0
    # Shrunk at 110: the stop stays at 95 (entry 100), not hit until bar 3 (low 99 > 95): still held.
    _, shrunk = simulate(np.array([1.0, 0.5, 0.5, 0.5]), bars, stop_loss=0.05, fee=0.0, slippage=0.0)
    assert shrunk[2] != 0.0 and shrunk[3] != 0.0


# ---------------------------------------------------------------- funding by hand

@pytest.mark.parametrize("side", [1.0, -1.0])
def test_funding_long_pays_short_receives(side):
    close = np.array([100.0, 110.0, 99.0, 99.0, 120.0])
    rate = np.array([0.5, 0.001, -0.002, 0.003, -0.001])  # bar 0's rate is not charged: flat over it
    bars = Bars(np.r_[100.0, close[:-1]], close * 1.1, close * 0.9, close)
    target = np.array([side, side, side, -side, -side])
    metrics, returns = simulate(target, bars, fee=0.0, slippage=0.0, funding=rate)
    coins = side / 100.0
    cash = 1.0 - coins * 100.0
    eq = [1.0]
    paid_total = 0.0
    for t in (1, 2, 3, 4):
        paid = coins * close[t] * rate[t]  # position held over bar t, notional at close t
        cash -= paid
        paid_total += paid
        value = cash + coins * close[t]
        if t == 3:  # flip at close 3, sized on equity after bar 3's funding
            new_coins = -side * value / close[t]
            cash -= (new_coins - coins) * close[t]
            coins = new_coins
        eq.append(cash + coins * close[t])
    expected = np.diff(np.r_[1.0, eq]) / np.r_[1.0, eq[:-1]]
    np.testing.assert_allclose(returns, expected, rtol=1e-12, atol=1e-15)
    assert metrics[0, M["funding_paid"]] == pytest.approx(paid_total, rel=1e-12)


# ---------------------------------------------------------------- segments

def test_segments_carry_positions_and_split_metrics(shared_data):
    bars = btc_bars(shared_data, 20000, 2000)
    target = random_target(bars.n, np.random.default_rng(3))
    funding = np.full(bars.n, 1.25e-5)
    a, b, c = 100, 900, 1999
    split, split_returns = simulate(target, bars, bounds=[a, b, c], stop_loss=0.03, funding=funding)
    whole, whole_returns = simulate(target, bars, bounds=[a, c], stop_loss=0.03, funding=funding)
    first, first_returns = simulate(target, bars, bounds=[a, b], stop_loss=0.03, funding=funding)
    # Same path: positions carry across the boundary.
    np.testing.assert_array_equal(split_returns, whole_returns)
    # Segment 0 is exactly the single window [a, b].
    np.testing.assert_allclose(split[0], first[0], rtol=1e-12, atol=1e-15)
    # Segment 1 is bars (b, c]: its return statistics are those of that slice of returns.
    for name, expected in vbt_returns_metrics(whole_returns[b + 1:c + 1]).items():
        assert split[1, M[name]] == pytest.approx(expected, rel=RTOL), name
    # Money and counts add up across segments.
    assert (1 + split[0, M["total_return"]]) * (1 + split[1, M["total_return"]]) == pytest.approx(
        1 + whole[0, M["total_return"]], rel=1e-12)
    assert split[:, M["trades"]].sum() == whole[0, M["trades"]]
    n0, n1 = b - a + 1, c - b
    assert (split[0, M["exposure"]] * n0 + split[1, M["exposure"]] * n1) / (n0 + n1) == pytest.approx(
        whole[0, M["exposure"]], rel=1e-12)
    eq_b = np.prod(1 + whole_returns[a:b + 1])
    for name in ("fees_paid", "funding_paid"):
        assert split[0, M[name]] + split[1, M[name]] * eq_b == pytest.approx(whole[0, M[name]], rel=1e-9)


# ---------------------------------------------------------------- edge cases

def test_all_zero_target_gives_zero_metrics():
    bars = synthetic_bars(100, 0)
    metrics, returns = simulate(np.zeros(bars.n), bars, bounds=[0, 50, 99])
    assert np.all(metrics == 0.0) and np.all(returns == 0.0)


def test_target_at_first_bar_and_change_at_last_bar():
    bars = synthetic_bars(50, 1)
    target = np.full(bars.n, 2.0)
    target[-1] = -1.0  # flips at the last close: the cost is the last bar's return, the long closes
    metrics, returns = simulate(target, bars, fee=0.001, slippage=0.0)
    pf = vbt_from_orders(bars.close, target, 0.001, 0.0)
    assert_matches_vbt(metrics[0], returns, pf)
    assert returns[0] == pytest.approx(-2.0 * 0.001, rel=1e-12)  # entry fee on 2x notional
    assert metrics[0, M["trades"]] == 1  # the short opened at the last close stays open: not counted


def test_constant_price_gives_finite_metrics():
    close = np.full(30, 50.0)
    bars = Bars(close, close, close, close)
    target = np.where(np.arange(30) % 10 < 5, 1.0, 0.0)
    free, free_returns = simulate(target, bars, fee=0.0, slippage=0.0)
    assert np.all(free_returns == 0.0)
    for name in ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "calmar", "fees_paid"):
        assert free[0, M[name]] == 0.0, name
    assert free[0, M["trades"]] == 3 and free[0, M["exposure"]] == 0.5
    costly, _ = simulate(target, bars)
    assert np.all(np.isfinite(costly))
    assert costly[0, M["total_return"]] < 0.0 and costly[0, M["win_rate"]] == 0.0


def test_ruin_liquidates_and_stays_at_zero():
    rows = [(100, 100, 100, 100), (100, 101, 60, 95), (95, 96, 94, 95), (95, 130, 95, 120)]
    bars = bars_from(rows)
    metrics, returns = simulate(np.full(4, 3.0), bars, bounds=[0, 2, 3], fee=0.0, slippage=0.0)
    np.testing.assert_array_equal(returns, [0.0, -1.0, 0.0, 0.0])  # 3x long through a 40 % wick
    assert metrics[0, M["total_return"]] == -1.0 and metrics[0, M["max_drawdown"]] == 1.0
    assert metrics[0, M["trades"]] == 1 and metrics[0, M["win_rate"]] == 0.0
    assert metrics[1, M["total_return"]] == -1.0 and np.all(np.isfinite(metrics))


def test_returns_output_is_optional():
    bars = synthetic_bars(60, 2)
    target = random_target(bars.n, np.random.default_rng(2))
    with_returns, _ = simulate(target, bars)
    without = np.zeros((1, N_METRICS))
    simulate_1d_nb(target, bars.open, bars.high, bars.low, bars.close, np.zeros(bars.n),
                   np.array([0, bars.n - 1]), 0.0, 0.0, FEE, SLIP, BPY, without, np.empty(0))
    np.testing.assert_array_equal(with_returns, without)


@pytest.mark.parametrize("change, message", [
    (dict(bounds=np.array([5, 5])), "strictly increasing"),
    (dict(bounds=np.array([0, 60])), "bounds must lie"),
    (dict(bounds=np.array([3])), "at least 2"),
    (dict(fee=-0.1), "fee"),
    (dict(slippage=1.5), "slippage"),
    (dict(stop_loss=1.0), "stop_loss"),
    (dict(bars_per_year=0.0), "bars_per_year"),
    (dict(funding=np.zeros(3)), "len(close)"),
    (dict(out_metrics=np.zeros((2, N_METRICS))), "out_metrics"),
    (dict(out_returns=np.zeros(7)), "out_returns"),
    (dict(target=np.r_[np.zeros(10), np.nan, np.zeros(39)]), "target must be finite"),
])
def test_bad_input_raises_value_error_naming_the_field(change, message):
    bars = synthetic_bars(50, 3)
    args = dict(target=np.ones(50), open=bars.open, high=bars.high, low=bars.low, close=bars.close,
                funding=np.zeros(50), bounds=np.array([0, 49]), stop_loss=0.0, take_profit=0.0, fee=FEE,
                slippage=SLIP, bars_per_year=BPY, out_metrics=np.zeros((1, N_METRICS)),
                out_returns=np.empty(0))
    args.update(change)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        simulate_1d_nb(*args.values())


@njit(parallel=True, cache=True)
def _simulate_many(targets, open_, high, low, close, funding, bounds, out):
    for i in prange(targets.shape[0]):
        simulate_1d_nb(targets[i], open_, high, low, close, funding, bounds, 0.02, 0.05, FEE, SLIP, BPY,
                       out[i], np.empty(0))


def test_callable_from_a_prange_loop():
    bars = synthetic_bars(300, 4)
    rng = np.random.default_rng(4)
    targets = np.stack([random_target(bars.n, rng) for _ in range(6)])
    bounds = np.array([10, 150, 299])
    out = np.zeros((6, 2, N_METRICS))
    _simulate_many(targets, bars.open, bars.high, bars.low, bars.close, np.zeros(bars.n), bounds, out)
    for i in range(6):
        expected, _ = simulate(targets[i], bars, bounds=bounds, stop_loss=0.02, take_profit=0.05)
        np.testing.assert_array_equal(out[i], expected)


@pytest.mark.parametrize("low_clip, high_clip, leverage", [(0.0, 1.0, 2.5), (-1.0, 1.0, 0.4), (-1.0, 1.0, 1.0)])
def test_sizing_on_the_fly_equals_sizing_first(low_clip, high_clip, leverage):
    """simulate_signal_1d_nb sizes the signal only where it changes; the result is simulate_1d_nb's on the
    sized target, bit for bit (signal moves inside the clip leave the target, and so the orders, alone)."""
    bars = synthetic_bars(400, 5)
    rng = np.random.default_rng(5)
    signal = random_target(bars.n, rng, levels=np.array([-1.5, -1.0, -0.3, 0.0, 0.6, 1.0, 2.0]))
    target = np.minimum(np.maximum(signal, low_clip), high_clip) * leverage
    funding = rng.normal(1e-5, 1e-5, bars.n)
    bounds = np.array([3, 120, 399])
    expected_metrics, expected_returns = np.zeros((2, N_METRICS)), np.zeros(bars.n)
    simulate_1d_nb(target, bars.open, bars.high, bars.low, bars.close, funding, bounds, 0.03, 0.06, FEE, SLIP, BPY,
                   expected_metrics, expected_returns)
    metrics, returns = np.zeros((2, N_METRICS)), np.full(bars.n, np.nan)
    simulate_signal_1d_nb(signal, low_clip, high_clip, leverage, bars.open, bars.high, bars.low, bars.close,
                          funding, bounds, 0.03, 0.06, FEE, SLIP, BPY, metrics, returns)
    np.testing.assert_array_equal(metrics, expected_metrics)
    np.testing.assert_array_equal(returns, expected_returns)
    assert metrics[:, M["trades"]].sum() > 5


@pytest.mark.parametrize("sizing", [(1.0, 0.0, 1.0), (0.0, 1.0, 0.0), (0.0, 1.0, np.inf)])
def test_bad_sizing_raises(sizing):
    bars = synthetic_bars(20, 6)
    with pytest.raises(ValueError, match="low_clip <= high_clip"):
        simulate_signal_1d_nb(np.ones(20), *sizing, bars.open, bars.high, bars.low, bars.close, np.zeros(20),
                              np.array([0, 19]), 0.0, 0.0, FEE, SLIP, BPY, np.zeros((1, N_METRICS)), np.empty(0))
