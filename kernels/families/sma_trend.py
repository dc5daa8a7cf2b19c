"""SMA trend filter: long while the fast SMA is above the slow SMA by more than `strength`, short while
below by more than it, flat when the trend is weaker (no position in a range-bound market)."""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.indicators import sma_1d_nb

BOUNDS = (
    GeneSpec("fast_window", 20, 100, KIND_INT),  # bars
    GeneSpec("slow_window", 100, 300, KIND_INT),  # bars
    GeneSpec("strength", 0.0, 0.05, KIND_FLOAT),  # min |fast / slow - 1|
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def sma_trend_1d_nb(genes: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                    close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    strength = param_nb(genes, _BOUNDS, 2)
    n = len(close)
    fast = np.empty(n)
    slow = np.empty(n)
    sma_1d_nb(close, int(param_nb(genes, _BOUNDS, 0)), fast)
    sma_1d_nb(close, int(param_nb(genes, _BOUNDS, 1)), slow)
    for t in range(n):
        gap = fast[t] / slow[t] - 1.0  # NaN in warm-up: both comparisons false -> flat
        out[t] = 1.0 if gap > strength else (-1.0 if gap < -strength else 0.0)
