"""Funding-rate carry: short while funding has stayed above +threshold for `persistence` bars (longs are
paying: collect it), long while it has stayed below -threshold, flat otherwise. funding[t] is the rate
for holding over bar t (positive = longs pay), known at its close."""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.indicators import rolling_max_min_1d_nb

BOUNDS = (
    GeneSpec("threshold", 0.0, 1e-4, KIND_FLOAT),  # rate per bar (1e-5 = 0.001 % per hour)
    GeneSpec("persistence", 2, 48, KIND_INT),  # bars
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def funding_carry_1d_nb(genes: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                        close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    threshold = param_nb(genes, _BOUNDS, 0)
    n = len(funding)
    highest = np.empty(n)
    lowest = np.empty(n)
    rolling_max_min_1d_nb(funding, funding, int(param_nb(genes, _BOUNDS, 1)), highest, lowest)
    for t in range(n):
        if lowest[t] > threshold:  # NaN in warm-up: flat
            out[t] = -1.0
        elif highest[t] < -threshold:
            out[t] = 1.0
        else:
            out[t] = 0.0
