"""Stochastic oscillator.

mode 0, cross: long while %K is above %D, short while below.
mode 1, zones: long when %K crosses above %D from below `oversold`, out above `overbought`; short when
%K crosses below %D from above `overbought`, out below `oversold`.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.indicators import stochastic_1d_nb as stochastic_k_d_1d_nb

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


@njit(cache=True)
def _zones_step_nb(side: float, k_prev: float, d_prev: float, k: float, d: float, oversold: float,
                   overbought: float) -> float:
    if k_prev <= d_prev and k > d and k_prev < oversold:
        return 1.0
    if k_prev >= d_prev and k < d and k_prev > overbought:
        return -1.0
    if (side > 0.0 and k > overbought) or (side < 0.0 and k < oversold):
        return 0.0
    return side


@njit(cache=True)
def stochastic_1d_nb(genes: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                     close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    oversold, overbought = param_nb(genes, _BOUNDS, 2), param_nb(genes, _BOUNDS, 3)
    mode = int(param_nb(genes, _BOUNDS, 4))
    n = len(close)
    k = np.empty(n)
    d = np.empty(n)
    stochastic_k_d_1d_nb(high, low, close, int(param_nb(genes, _BOUNDS, 0)), int(param_nb(genes, _BOUNDS, 1)), k, d)
    side = 0.0
    for t in range(n):
        if np.isnan(d[t]) or (mode == MODE_ZONES and (t == 0 or np.isnan(d[t - 1]))):
            side = 0.0
        elif mode == MODE_CROSS:
            side = 1.0 if k[t] > d[t] else (-1.0 if k[t] < d[t] else side)
        else:
            side = _zones_step_nb(side, k[t - 1], d[t - 1], k[t], d[t], oversold, overbought)
        out[t] = side
