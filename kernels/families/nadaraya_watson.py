"""Nadaraya-Watson kernel regression of the close (causal, one-sided kernel).

mode 0, slope: long while the estimate rises by more than `slope_threshold` per bar, short while it
falls by more, keeps its side in between.
mode 1, envelope reversion: long when the close is more than `band` below the estimate, short when more
than `band` above, out when the close crosses the estimate.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.indicators import nadaraya_watson_1d_nb as kernel_regression_1d_nb

MODE_SLOPE = 0
MODE_ENVELOPE = 1
BOUNDS = (
    GeneSpec("bandwidth", 5.0, 60.0, KIND_FLOAT),  # bars
    GeneSpec("kernel", 0, 1, KIND_INT),  # 0 Gaussian, 1 Epanechnikov (kernels.indicators.KERNEL_*)
    GeneSpec("mode", 0, 1, KIND_INT),
    GeneSpec("slope_threshold", 0.0, 0.002, KIND_FLOAT),  # relative change per bar, mode 0
    GeneSpec("band", 0.0, 0.03, KIND_FLOAT),  # fraction of the estimate, mode 1
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def nadaraya_watson_1d_nb(genes: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                          close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    mode = int(param_nb(genes, _BOUNDS, 2))
    slope_threshold, band = param_nb(genes, _BOUNDS, 3), param_nb(genes, _BOUNDS, 4)
    estimate = np.empty(len(close))
    kernel_regression_1d_nb(close, param_nb(genes, _BOUNDS, 0), int(param_nb(genes, _BOUNDS, 1)), estimate)
    side = 0.0
    for t in range(len(close)):
        if t == 0 or np.isnan(estimate[t - 1]):
            side = 0.0
        elif mode == MODE_SLOPE:
            slope = estimate[t] / estimate[t - 1] - 1.0
            side = 1.0 if slope > slope_threshold else (-1.0 if slope < -slope_threshold else side)
        else:
            gap = close[t] / estimate[t] - 1.0
            if gap < -band:
                side = 1.0
            elif gap > band:
                side = -1.0
            elif side * gap > 0.0:
                side = 0.0  # crossed the estimate
        out[t] = side
