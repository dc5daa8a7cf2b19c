"""Stochastic oscillator.

mode 0, cross: long while %K is above %D, short while below.
mode 1, zones: long when %K crosses above %D from below `oversold`, out above `overbought`; short when
%K crosses below %D from above `overbought`, out below `oversold`.

Extremes table: %K's highest high and lowest low can come from one market-wide sparse table
(kernels.rolling_extremes.extremes_table_nb, shared with donchian_breakout and ichimoku) instead of a rolling
max / min per genome (`stochastic_from_table_1d_nb`, bit-identical to `stochastic_1d_nb`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.rolling_extremes import percent_k_1d_nb, rolling_max_min_1d_nb, table_max_min_1d_nb

__all__ = ["MODE_CROSS", "MODE_ZONES", "BOUNDS", "TABLE_LEVELS", "stochastic_signal_1d_nb", "stochastic_1d_nb",
           "stochastic_from_table_1d_nb"]

MODE_CROSS = 0
MODE_ZONES = 1
BOUNDS = (
    GeneSpec("k_window", 5, 30, KIND_INT),  # bars
    GeneSpec("d_window", 2, 10, KIND_INT),  # bars
    GeneSpec("oversold", 10.0, 40.0, KIND_FLOAT),  # %K points
    GeneSpec("overbought", 60.0, 90.0, KIND_FLOAT),  # %K points
    GeneSpec("mode", 0, 1, KIND_INT),
)
_BOUNDS = bounds_array(BOUNDS)
TABLE_LEVELS = 5  # extremes-table rows that cover every k_window of BOUNDS (<= 30 < 2^5)


@njit(cache=True)
def _cross_step_nb(side: float, k: float, d: float) -> float:
    """Mode cross. A masked select on a float side, not a branch: %K and %D cross every few bars,
    which a branch would mispredict."""
    direction = (1.0 if k > d else 0.0) - (1.0 if k < d else 0.0)
    return direction if direction != 0.0 else side


@njit(cache=True, error_model="numpy")
def _cross_signal_nb(k: np.ndarray, d_window: int, first: int, out: np.ndarray) -> None:
    """Mode cross, from %K (defined from bar `first`). %D is the running sum of the last d_window %K
    in the order of kernels.indicators.sma_1d_nb, divided by d_window (same %D to the bit)."""
    n = len(k)
    d_first = first + d_window - 1  # first bar with a %D
    out[:min(d_first, n)] = 0.0
    if d_first >= n:
        return
    total = 0.0
    for t in range(first, d_first + 1):
        total += k[t]
    side = _cross_step_nb(0.0, k[d_first], total / d_window)
    out[d_first] = side
    entering, leaving, out_t = k[d_first + 1:], k[first:n - d_window], out[d_first + 1:]  # aligned views
    for i in range(n - d_first - 1):
        total += entering[i]
        total -= leaving[i]
        side = _cross_step_nb(side, entering[i], total / d_window)
        out_t[i] = side


@njit(cache=True, error_model="numpy")
def _zones_signal_nb(k: np.ndarray, d_window: int, first: int, oversold: float, overbought: float,
                     out: np.ndarray) -> None:
    """Mode zones, from %K (defined from bar `first`; %D as in _cross_signal_nb).

    An entry (a cross out of a zone) wins, else the side the bar's level closes is dropped (longs above
    `overbought`, shorts below `oversold`): selects on a float side, no branch.
    """
    n = len(k)
    d_first = min(first + d_window, n)  # first bar with a %D at t - 1
    out[:d_first] = 0.0
    total = 0.0  # sum of %K over the window ending at bar d_first - 1
    for t in range(first, d_first):
        total += k[t]
    entering, leaving, out_t = k[d_first:], k[first:n - d_window], out[d_first:]  # aligned views
    k_prev = k[d_first - 1] if d_first > 0 else np.nan
    d_prev = total / d_window
    side = 0.0
    for i in range(n - d_first):
        total += entering[i]
        total -= leaving[i]
        k_now, d_now = entering[i], total / d_window
        up = (k_prev <= d_prev) & (k_now > d_now) & (k_prev < oversold)
        down = (k_prev >= d_prev) & (k_now < d_now) & (k_prev > overbought)
        entry = (1.0 if up else 0.0) - (1.0 if down else 0.0)
        closing = (1.0 if k_now > overbought else 0.0) - (1.0 if k_now < oversold else 0.0)
        kept = 0.0 if side == closing else side
        side = entry if entry != 0.0 else kept
        out_t[i] = side
        k_prev, d_prev = k_now, d_now


@njit(cache=True)
def stochastic_signal_1d_nb(genes: np.ndarray, close: np.ndarray, highest: np.ndarray, lowest: np.ndarray,
                            out: np.ndarray) -> None:
    """The signal from the rolling high / low over k_window bars (`lowest` may be `out`)."""
    k_window, d_window = int(param_nb(genes, _BOUNDS, 0)), int(param_nb(genes, _BOUNDS, 1))
    n = len(close)
    k = np.empty(n)
    percent_k_1d_nb(highest, lowest, close, k)  # into a distinct array: the divisions vectorise
    first = min(k_window - 1, n)  # first bar with a %K
    if int(param_nb(genes, _BOUNDS, 4)) == MODE_ZONES:
        _zones_signal_nb(k, d_window, first, param_nb(genes, _BOUNDS, 2), param_nb(genes, _BOUNDS, 3), out)
    else:
        _cross_signal_nb(k, d_window, first, out)


@njit(cache=True)
def stochastic_1d_nb(genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                     close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    highest = np.empty(len(close))
    rolling_max_min_1d_nb(high, low, int(param_nb(genes, _BOUNDS, 0)), highest, out)  # out: the rolling low
    stochastic_signal_1d_nb(genes, close, highest, out, out)


@njit(cache=True)
def stochastic_from_table_1d_nb(genes: np.ndarray, close: np.ndarray, table_max: np.ndarray, table_min: np.ndarray,
                                out: np.ndarray) -> None:
    """The signal from extremes_table_nb(high, low, >= TABLE_LEVELS rows)."""
    highest = np.empty(len(close))
    table_max_min_1d_nb(table_max, table_min, int(param_nb(genes, _BOUNDS, 0)), highest, out)
    stochastic_signal_1d_nb(genes, close, highest, out, out)
