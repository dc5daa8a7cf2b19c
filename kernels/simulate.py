"""Fused single-pass portfolio simulator: target positions -> fills -> per-segment metrics.

    simulate_1d_nb(target, open, high, low, close, funding, bounds, stop_loss, take_profit,
                   fee, slippage, bars_per_year, out_metrics, out_returns) -> None
    simulate_signal_1d_nb(signal, low_clip, high_clip, leverage, open, ...)   (sized on the fly)

One pass over the bars, state in registers, no allocation: callable per genome from a `prange` loop.
The helpers are inlined (`inline='always'`) so the NamedTuple state never leaves registers; as plain
calls the loop ran ~2.5x slower. Quiet bars (no order, no stop, no ruin) run in two tight loops, flat
and held (see _run_segment_nb): ~220-350 M bar-evaluations/s on one core of this 2-core machine for
the benchmark's populations. Inputs must be finite, with low <= open, close <= high (the task layer
fills funding gaps with its stated assumption); only the target is checked, where it changes.

Rules (DESIGN.md "Simulation rules"); equity starts at 1.0 before bar bounds[0]:

- Orders. target[t] (a fraction of equity, times leverage; negative = short) is known at close t and
  filled at close[t]. An order is sent only when target[t] != target[t-1] (at bounds[0] the previous
  target counts as 0: flat before it); between changes the coin quantity is held, with no drift
  rebalancing. The order moves the position to target[t] * equity / close[t] coins, equity valued at
  close[t] before the fill: vectorbt `Portfolio.from_orders(size=target with NaN where unchanged,
  size_type="targetpercent", price=close, fees=fee, slippage=slippage, direction="both")` with
  unlimited margin. Leverage is not cash-limited (vectorbt's is; the tests lend it cash).
- Costs. Slippage moves the fill price against the order (buy close*(1+slippage), sell
  close*(1-slippage)); the fee is fee * |size| * fill price. Both as vectorbt.
- Funding. funding[t] is the rate for holding over bar t: the position held at the end of bar t (after
  any stop in bar t, before the close-t order) pays position * close[t] * funding[t] at close t. A long
  pays a positive rate, a short receives it; negative rates reverse. Align Hyperliquid's hourly payment
  at the end of hour t to bar t.
- Stops. stop_loss / take_profit are fractions of the entry price (0.0 = off). The entry price is the
  close at which the position was opened, flipped or last increased (kept when reduced): vectorbt's
  `stop_entry_price="close"`, `upon_stop_update="override"`. From the bar after that fill, a long's stop
  loss triggers when low <= entry * (1 - stop_loss), its take profit when high >= entry * (1 +
  take_profit) (mirrored for shorts; the stop loss wins when both are in one bar). It fills at that
  level, or at the open when the bar opens through it, with slippage and fee (vectorbt
  `stop_exit_price="stopmarket"`). Afterwards the position stays flat until the target changes. Unlike
  vectorbt's `from_signals` (one order per bar), a target change in the stop's bar still fills at close.
- Trades. A round trip runs from flat (or a flip) to flat (or the next flip); its PnL is the cash it
  made: fills, fees, slippage and funding (vectorbt's positions, plus funding).
- Ruin. If equity at the bar's adverse extreme (low for a long, high for a short) is <= 0, the position is
  liquidated at its bankruptcy price and equity is 0 from then on (returns -1 then 0); vectorbt would go
  on trading a negative balance.

Segments. `bounds` (int64[K+1], strictly increasing, within [0, N-1]) cuts the bars into K segments:
segment 0 is bars [bounds[0], bounds[1]], segment k > 0 is bars (bounds[k], bounds[k+1]]. The return of
bar t is the equity change from close t-1 to close t (after that close's fill); bar bounds[0]'s return
is the cost of the first fill, so no cost escapes the metrics. Positions carry across segments. A single
window of bars start..stop-1 is bounds=[start, stop-1] and equals vectorbt on close[start:stop].

Outputs: out_metrics float64[K, N_METRICS] (`kernels.metrics.METRIC_NAMES`), out_returns float64[N]
per-bar returns (0 outside [bounds[0], bounds[-1]]), or a length-0 array to skip it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from kernels.metrics import (N_METRICS, SegmentStats, stats_add_bar_nb, stats_add_fill_nb, stats_add_funding_nb,
                             stats_start_nb, write_metrics_nb)

__all__ = ["SimState", "simulate_1d_nb", "simulate_signal_1d_nb", "stop_band_nb", "stop_price_nb"]


class SimState(NamedTuple):
    """Account state between bars. Money in equity units (equity starts at 1.0)."""

    cash: float          # negative when borrowing for a long
    position: float      # coins; negative = short
    stop_low: float      # a stop triggers when the price reaches stop_low or below (-inf: none) ...
    stop_high: float     # ... or stop_high or above (+inf: none)
    trade_cash: float    # cash before the open round trip: its PnL (fills, fees, funding) = cash - trade_cash


@njit(cache=True, error_model="numpy", inline='always')
def stop_band_nb(position: float, entry_price: float, stop_loss: float,
                 take_profit: float) -> tuple[float, float]:
    """(low, high) stop levels of a position entered at `entry_price`; -inf / +inf where a stop is off.

    Levels are computed once per entry, as vectorbt does: entry * (1 - stop_loss) for a long's stop loss.
    """
    below, above = -np.inf, np.inf
    if position > 0.0:
        if stop_loss > 0.0:
            below = entry_price * (1.0 - stop_loss)
        if take_profit > 0.0:
            above = entry_price * (1.0 + take_profit)
    else:
        if take_profit > 0.0:
            below = entry_price * (1.0 - take_profit)
        if stop_loss > 0.0:
            above = entry_price * (1.0 + stop_loss)
    return below, above


@njit(cache=True, error_model="numpy", inline='always')
def _reach_nb(level: float, from_above: bool, open: float, high: float, low: float) -> float:
    """Fill price if the bar reaches `level` (from above or below): the open if it opens beyond it,
    else the level; NaN if the bar misses it."""
    if (open <= level) if from_above else (open >= level):
        return open
    if low <= level <= high:
        return level
    return np.nan


@njit(cache=True, error_model="numpy", inline='always')
def stop_price_nb(position: float, stop_low: float, stop_high: float, open: float, high: float,
                  low: float) -> float:
    """Fill price of the stop hit in this bar, or NaN if none; the stop loss wins when both are hit.

    Same decisions as vectorbt's `get_stop_price_nb`: fill at the level, or at the open when the bar
    opens beyond it.
    """
    fill_low = _reach_nb(stop_low, True, open, high, low)
    fill_high = _reach_nb(stop_high, False, open, high, low)
    if position > 0.0:  # the low level is the long's stop loss
        return fill_low if not np.isnan(fill_low) else fill_high
    return fill_high if not np.isnan(fill_high) else fill_low


@njit(cache=True, error_model="numpy", inline='always')
def _fill_nb(state: SimState, stats: SegmentStats, size: float, price: float, fee: float, slippage: float,
             stop_loss: float, take_profit: float) -> tuple[SimState, SegmentStats]:
    """Trade `size` coins (negative = sell) at `price` worsened by slippage; record it in `stats`.

    On a flip the closing part takes its share |position| / |size| of the cash flow and fee, as in
    vectorbt's trade records. Opening, flipping or growing the position re-bases its stops on `price`.
    """
    fill_price = price * (1.0 + slippage) if size > 0.0 else price * (1.0 - slippage)
    notional = abs(size) * fill_price
    fee_paid = notional * fee
    flow = -size * fill_price - fee_paid
    pos = state.position
    new_pos = pos + size
    flipped = new_pos != 0.0 and (new_pos > 0.0) != (pos > 0.0)
    closed_pnl = np.nan
    trade_cash = state.trade_cash
    if pos == 0.0:
        trade_cash = state.cash
    elif new_pos == 0.0 or flipped:
        close_cash = state.cash + (flow if new_pos == 0.0 else flow * (abs(pos) / abs(size)))
        closed_pnl = close_cash - state.trade_cash
        trade_cash = close_cash
    stop_low, stop_high = state.stop_low, state.stop_high
    if pos == 0.0 or flipped or abs(new_pos) > abs(pos):
        stop_low, stop_high = stop_band_nb(new_pos, price, stop_loss, take_profit)
    equity = state.cash + pos * price
    turnover = notional / equity if equity > 0.0 else 0.0  # equity <= 0: a gap through the stop, ruin next
    stats = stats_add_fill_nb(stats, turnover, fee_paid, closed_pnl)
    return SimState(state.cash + flow, new_pos, stop_low, stop_high, trade_cash), stats


@njit(cache=True, error_model="numpy", inline='always')
def _rebalance_nb(state: SimState, stats: SegmentStats, target: float, close: float, fee: float,
                  slippage: float, stop_loss: float, take_profit: float) -> tuple[SimState, SegmentStats]:
    """Move the position to `target` x equity at `close` (vectorbt targetpercent)."""
    value = state.cash + state.position * close
    size = target * value / close - state.position
    if size == 0.0:
        return state, stats
    return _fill_nb(state, stats, size, close, fee, slippage, stop_loss, take_profit)


@njit(cache=True, error_model="numpy", inline='always')
def _hold_bar_nb(state: SimState, stats: SegmentStats, open: float, high: float, low: float, close: float,
                 rate: float, fee: float, slippage: float) -> tuple[SimState, SegmentStats]:
    """Carry a non-zero position through one bar: stops, then ruin, then funding at the close."""
    if low <= state.stop_low or high >= state.stop_high:  # one test per bar; the exact rule only on a hit
        price = stop_price_nb(state.position, state.stop_low, state.stop_high, open, high, low)
        if not np.isnan(price):
            state, stats = _fill_nb(state, stats, -state.position, price, fee, slippage, 0.0, 0.0)  # to flat
    worst = low if state.position > 0.0 else high
    if state.cash + state.position * worst <= 0.0:
        # Equity reached 0 inside the bar: the position is closed at its bankruptcy price, equity stays 0
        # (the loss beyond the account is the exchange's). Not a traded fill: no fee, no turnover.
        if state.position != 0.0:
            stats = stats_add_fill_nb(stats, 0.0, 0.0, -state.trade_cash)
        return SimState(0.0, 0.0, -np.inf, np.inf, 0.0), stats
    paid = state.position * close * rate
    state = SimState(state.cash - paid, state.position, state.stop_low, state.stop_high, state.trade_cash)
    return state, stats_add_funding_nb(stats, paid)


@njit(cache=True, error_model="numpy")
def simulate_1d_nb(target: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                   close: np.ndarray, funding: np.ndarray, bounds: np.ndarray, stop_loss: float,
                   take_profit: float, fee: float, slippage: float, bars_per_year: float,
                   out_metrics: np.ndarray, out_returns: np.ndarray) -> None:
    """Simulate one target-position series and write per-segment metrics (rules: module docstring).

    Args:
        target: float64[N], finite target position per bar, fraction of equity (1.0 = 1x long).
        open, high, low, close: float64[N] bar prices; funding: float64[N] rate per bar (0.0001 = 1 bp).
        bounds: int64[K+1] segment bounds (bar indices). stop_loss, take_profit: fractions, 0.0 = off.
        fee: fraction of traded notional (0.00045 = 4.5 bp); slippage: fraction of price.
        bars_per_year: annualisation factor (8760 for hourly bars).
        out_metrics: float64[K, N_METRICS], written. out_returns: float64[N] or float64[0].
    """
    simulate_signal_1d_nb(target, -np.inf, np.inf, 1.0, open, high, low, close, funding, bounds, stop_loss,
                          take_profit, fee, slippage, bars_per_year, out_metrics, out_returns)


@njit(cache=True, error_model="numpy")
def simulate_signal_1d_nb(signal: np.ndarray, low_clip: float, high_clip: float, leverage: float,
                          open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                          funding: np.ndarray, bounds: np.ndarray, stop_loss: float, take_profit: float,
                          fee: float, slippage: float, bars_per_year: float, out_metrics: np.ndarray,
                          out_returns: np.ndarray) -> None:
    """simulate_1d_nb of the target min(max(signal, low_clip), high_clip) * leverage, sized on the fly.

    A genome's risk genes (long-only clip, leverage) are applied here, only at bars where the signal
    changes, instead of in a separate pass over the bars: a whole read-modify-write pass per genome
    was a tenth of the commonest family's cost. Same results, bit for bit, as sizing first.
    """
    _check_inputs_nb(signal, open, high, low, close, funding, bounds, stop_loss, take_profit, fee,
                     slippage, bars_per_year, out_metrics, out_returns)
    if not (low_clip <= high_clip and leverage > 0.0 and np.isfinite(leverage)):
        raise ValueError("need low_clip <= high_clip and a finite leverage > 0, got", low_clip, high_clip,
                         leverage)
    start = bounds[0]
    write_returns = out_returns.shape[0] > 0
    if write_returns:
        out_returns[:] = 0.0  # flat bars with no order are skipped, leaving their 0 return
    state = SimState(1.0, 0.0, -np.inf, np.inf, 0.0)
    eq = 1.0
    prev_signal = 0.0  # flat before bounds[0]
    first = start
    for k in range(bounds.shape[0] - 1):
        end = bounds[k + 1] + 1
        # Slices indexed from 0 let numba drop negative-index handling in the hot loop.
        returns = out_returns[first:end] if write_returns else out_returns
        stats = stats_start_nb(eq)
        state, stats, eq, prev_signal = _run_segment_nb(
            state, stats, eq, prev_signal, signal[first:end], low_clip, high_clip, leverage, open[first:end],
            high[first:end], low[first:end], close[first:end], funding[first:end], stop_loss, take_profit,
            fee, slippage, returns)
        write_metrics_nb(stats, end - first, eq, bars_per_year, out_metrics[k])
        first = end


@njit(cache=True, error_model="numpy", inline='always')
def _run_segment_nb(state: SimState, stats: SegmentStats, eq: float, prev_signal: float, signal: np.ndarray,
                    low_clip: float, high_clip: float, leverage: float, open: np.ndarray, high: np.ndarray,
                    low: np.ndarray, close: np.ndarray, funding: np.ndarray, stop_loss: float,
                    take_profit: float, fee: float, slippage: float,
                    out_returns: np.ndarray) -> tuple[SimState, SegmentStats, float, float]:
    """Simulate the bars of one segment; returns the state, stats, equity and signal after its last bar.

    Most bars are quiet: the signal is unchanged and, if a position is held, no stop or ruin level is
    reached. Runs of them go through two tight loops, flat (nothing changes, r = 0) and held (the
    arithmetic of _hold_bar_nb and of the bar's return, in the same order), and only the other bars
    through the full step. An order goes out when the sized target changes, which needs a change of the
    signal: the sizing runs only then. Measured on 1 thread: 0.7 ns per quiet flat bar (1.7 through the
    full step), 2.9-3.5 per quiet held bar (3.7-4.2).

    Written as one function on purpose: the same held loop as an inlined helper ran the mixed
    population's simulation ~45% slower. Bar indices are unsigned (numba then skips negative-index
    handling), and compared with unsigned bounds only: numba compares uint64 with int64 as floats.
    """
    write_returns = out_returns.shape[0] > 0
    prev_target = min(max(prev_signal, low_clip), high_clip) * leverage
    n, t, one = np.uint64(close.shape[0]), np.uint64(0), np.uint64(1)
    while t < n:
        if state.position == 0.0:
            while t < n and signal[t] == prev_signal:
                t += one
            if t == n:
                break
        else:
            cash, position, stop_low, stop_high = state.cash, state.position, state.stop_low, state.stop_high
            while t < n:
                lo, hi = low[t], high[t]
                if signal[t] != prev_signal or lo <= stop_low or hi >= stop_high:
                    break
                if cash + position * (lo if position > 0.0 else hi) <= 0.0:
                    break  # ruin: the full step liquidates
                c = close[t]
                paid = position * c * funding[t]
                cash -= paid
                stats = stats_add_funding_nb(stats, paid)
                new_eq = cash + position * c
                r = (new_eq - eq) / eq if eq > 0.0 else 0.0
                stats = stats_add_bar_nb(stats, r, new_eq, True)
                if write_returns:
                    out_returns[t] = r
                eq = new_eq
                t += one
            state = SimState(cash, position, stop_low, stop_high, state.trade_cash)
            if t == n:
                break
        exposed = state.position != 0.0  # the full step, for bar t
        if exposed:
            state, stats = _hold_bar_nb(state, stats, open[t], high[t], low[t], close[t], funding[t], fee,
                                        slippage)
        changed = False
        if signal[t] != prev_signal:
            if not np.isfinite(signal[t]):
                raise ValueError("target must be finite, got target =", signal[t])
            prev_signal = signal[t]
            target = min(max(prev_signal, low_clip), high_clip) * leverage
            changed = target != prev_target
            if changed:
                state, stats = _rebalance_nb(state, stats, target, close[t], fee, slippage, stop_loss,
                                             take_profit)
                prev_target = target
        if exposed or changed:
            new_eq = state.cash + state.position * close[t]
            r = (new_eq - eq) / eq if eq > 0.0 else 0.0  # eq == 0 only after ruin
            stats = stats_add_bar_nb(stats, r, new_eq, exposed)
            if write_returns:
                out_returns[t] = r
            eq = new_eq
        t += one
    return state, stats, eq, prev_signal


@njit(cache=True, error_model="numpy")
def _check_inputs_nb(target: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                     close: np.ndarray, funding: np.ndarray, bounds: np.ndarray, stop_loss: float,
                     take_profit: float, fee: float, slippage: float, bars_per_year: float,
                     out_metrics: np.ndarray, out_returns: np.ndarray) -> None:
    """Raise ValueError naming the first bad argument; O(K), nothing per bar."""
    n = close.shape[0]
    for length in (target.shape[0], open.shape[0], high.shape[0], low.shape[0], funding.shape[0]):
        if length != n:
            raise ValueError("target/open/high/low/funding must have len(close) =", n, "bars, got", length)
    if bounds.shape[0] < 2:
        raise ValueError("bounds needs at least 2 entries (one segment), got len(bounds) =", bounds.shape[0])
    if bounds[0] < 0 or bounds[-1] >= n:
        raise ValueError("bounds must lie in [0, len(close) - 1], got bounds[0], bounds[-1] =",
                         bounds[0], bounds[-1])
    for k in range(bounds.shape[0] - 1):
        if bounds[k + 1] <= bounds[k]:
            raise ValueError("bounds must be strictly increasing, got k, bounds[k], bounds[k+1] =",
                             k, bounds[k], bounds[k + 1])
    if out_metrics.shape[0] != bounds.shape[0] - 1 or out_metrics.shape[1] != N_METRICS:
        raise ValueError("out_metrics must have shape (len(bounds) - 1, N_METRICS), got rows, cols =",
                         out_metrics.shape[0], out_metrics.shape[1])
    if out_returns.shape[0] != 0 and out_returns.shape[0] != n:
        raise ValueError("out_returns must have length 0 or len(close), got", out_returns.shape[0])
    if not (0.0 <= stop_loss < 1.0):
        raise ValueError("stop_loss must be in [0, 1), got stop_loss =", stop_loss)
    if not (0.0 <= take_profit < np.inf):
        raise ValueError("take_profit must be finite and >= 0, got take_profit =", take_profit)
    if not (0.0 <= fee < 1.0):
        raise ValueError("fee must be in [0, 1), got fee =", fee)
    if not (0.0 <= slippage < 1.0):
        raise ValueError("slippage must be in [0, 1), got slippage =", slippage)
    if not (bars_per_year > 0.0 and np.isfinite(bars_per_year)):
        raise ValueError("bars_per_year must be finite and > 0, got bars_per_year =", bars_per_year)
