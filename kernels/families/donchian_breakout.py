"""Donchian breakout: long when the close breaks above the previous N bars' high by a threshold, short
below their low; optional volume confirmation (bar volume above a multiple of its previous-N mean).
A position is closed when the close crosses back through the channel's midpoint."""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.indicators import donchian_1d_nb, sma_1d_nb

BOUNDS = (
    GeneSpec("channel", 10, 100, KIND_INT),  # bars
    GeneSpec("threshold", 0.0, 0.02, KIND_FLOAT),  # fraction of the channel bound
    GeneSpec("volume_multiple", 0.0, 2.0, KIND_FLOAT),  # x previous mean volume; 0 = no confirmation
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def donchian_breakout_1d_nb(genes: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                            close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    channel = int(param_nb(genes, _BOUNDS, 0))
    threshold = param_nb(genes, _BOUNDS, 1)
    volume_multiple = param_nb(genes, _BOUNDS, 2)
    n = len(close)
    upper = np.empty(n)
    lower = np.empty(n)
    mean_volume = np.empty(n)
    donchian_1d_nb(high, low, channel, upper, lower)
    sma_1d_nb(volume, channel, mean_volume)
    side = 0.0
    for t in range(n):
        if t < channel:  # channel of the previous bars not complete yet
            out[t] = 0.0
            continue
        confirmed = volume[t] > volume_multiple * mean_volume[t - 1]  # mean of bars t-channel..t-1
        mid = 0.5 * (upper[t] + lower[t])
        if confirmed and close[t] > upper[t] * (1.0 + threshold):
            side = 1.0
        elif confirmed and close[t] < lower[t] * (1.0 - threshold):
            side = -1.0
        elif (side > 0.0 and close[t] < mid) or (side < 0.0 and close[t] > mid):
            side = 0.0
        out[t] = side
