"""Funding-rate carry: short while funding has stayed above +threshold for `persistence` bars (longs are
paying: collect it), long while it has stayed below -threshold, flat otherwise. funding[t] is the rate
for holding over bar t (positive = longs pay), known at its close."""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb

__all__ = ["BOUNDS", "funding_carry_1d_nb"]

BOUNDS = (
    GeneSpec("threshold", 0.0, 1e-4, KIND_FLOAT),  # rate per bar (1e-5 = 0.001 % per hour)
    GeneSpec("persistence", 2, 48, KIND_INT),  # bars
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def funding_carry_1d_nb(genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                        close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring).

    "Stayed above for `persistence` bars" is "the last `persistence` rates are all above": a run length
    of consecutive bars above (below) reaches `persistence`. Same test as the rolling min (max) of the
    window > threshold (< -threshold), exactly, for two integer counters per bar.
    """
    threshold = param_nb(genes, _BOUNDS, 0)
    persistence = int(param_nb(genes, _BOUNDS, 1))
    above, below = 0, 0  # bars in a row with funding > threshold / < -threshold
    for t in range(len(funding)):
        above = above + 1 if funding[t] > threshold else 0
        below = below + 1 if funding[t] < -threshold else 0
        out[t] = -1.0 if above >= persistence else (1.0 if below >= persistence else 0.0)
