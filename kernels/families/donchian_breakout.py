"""Donchian breakout: long when the close breaks above the previous N bars' high by a threshold, short
below their low; optional volume confirmation (bar volume above a multiple of its previous-N mean).
A position is closed when the close crosses back through the channel's midpoint.

Extremes table: the channel is a rolling max / min, which evaluate() can read from one market-wide
sparse table (kernels.rolling_extremes.extremes_table_nb, shared with stochastic and ichimoku) instead of
computing it per genome (`donchian_breakout_from_table_1d_nb`, bit-identical to `donchian_breakout_1d_nb`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.rolling_extremes import rolling_max_min_1d_nb, table_max_min_1d_nb

__all__ = ["BOUNDS", "TABLE_LEVELS", "donchian_breakout_signal_1d_nb", "donchian_breakout_1d_nb",
           "donchian_breakout_from_table_1d_nb"]

BOUNDS = (
    GeneSpec("channel", 10, 100, KIND_INT),  # bars
    GeneSpec("threshold", 0.0, 0.02, KIND_FLOAT),  # fraction of the channel bound
    GeneSpec("volume_multiple", 0.0, 2.0, KIND_FLOAT),  # x previous mean volume; 0 = no confirmation
)
_BOUNDS = bounds_array(BOUNDS)
TABLE_LEVELS = 7  # extremes-table rows that cover every channel of BOUNDS (<= 100 < 2^7)


@njit(cache=True)
def donchian_breakout_signal_1d_nb(highest: np.ndarray, lowest: np.ndarray, close: np.ndarray, volume: np.ndarray,
                                   channel: int, threshold: float, volume_multiple: float, out: np.ndarray) -> None:
    """The signal from the rolling max of high / min of low over bars t-channel+1..t (`highest`, `lowest`).

    At bar t the channel is that of bars t-channel..t-1 (highest[t - 1]) and the volume mean their
    running sum / channel, summed in the order of kernels.indicators.sma_1d_nb (same value to the bit).
    The mean is divided out only on a breakout bar, the only bars whose side depends on it.
    """
    n = len(close)
    head = min(channel, n)
    out[:head] = 0.0  # channel of the previous bars not complete yet
    total = 0.0
    for t in range(head):
        total += volume[t]
    up, down = 1.0 + threshold, 1.0 - threshold
    # views aligned on i = t - channel (no index wraparound in the loop)
    close_t, volume_t, volume_out = close[head:], volume[head:], volume[:n - head]
    upper_t, lower_t, out_t = highest[head - 1:n - 1], lowest[head - 1:n - 1], out[head:]
    side = 0.0
    for i in range(n - head):
        upper, lower, price = upper_t[i], lower_t[i], close_t[i]
        above, below = price > upper * up, price < lower * down
        if (above or below) and volume_t[i] > volume_multiple * (total / channel):
            side = 1.0 if above else -1.0
        else:
            mid = 0.5 * (upper + lower)
            if (side > 0.0 and price < mid) or (side < 0.0 and price > mid):
                side = 0.0
        out_t[i] = side
        total += volume_t[i]
        total -= volume_out[i]


@njit(cache=True)
def donchian_breakout_1d_nb(genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                            close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    channel = int(param_nb(genes, _BOUNDS, 0))
    highest = np.empty(len(close))
    lowest = np.empty(len(close))
    rolling_max_min_1d_nb(high, low, channel, highest, lowest)
    donchian_breakout_signal_1d_nb(highest, lowest, close, volume, channel, param_nb(genes, _BOUNDS, 1),
                                   param_nb(genes, _BOUNDS, 2), out)


@njit(cache=True)
def donchian_breakout_from_table_1d_nb(genes: np.ndarray, close: np.ndarray, volume: np.ndarray,
                                       table_max: np.ndarray, table_min: np.ndarray, out: np.ndarray) -> None:
    """The signal from extremes_table_nb(high, low, >= TABLE_LEVELS rows)."""
    channel = int(param_nb(genes, _BOUNDS, 0))
    highest = np.empty(len(close))
    lowest = np.empty(len(close))
    table_max_min_1d_nb(table_max, table_min, channel, highest, lowest)
    donchian_breakout_signal_1d_nb(highest, lowest, close, volume, channel, param_nb(genes, _BOUNDS, 1),
                                   param_nb(genes, _BOUNDS, 2), out)
