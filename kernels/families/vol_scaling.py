"""Volatility scaling: the sign of the trend (close vs close `trend_window` bars ago) sized by
min(target_vol / realised vol, 1), so the position's expected volatility stays near the target."""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_INT, KIND_LOG, GeneSpec, bounds_array, param_nb
from kernels.indicators import realized_vol_1d_nb

BOUNDS = (
    GeneSpec("vol_window", 10, 60, KIND_INT),  # bars
    GeneSpec("target_vol", 0.002, 0.03, KIND_LOG),  # per bar (0.005 per hour ~ 47 % a year)
    GeneSpec("trend_window", 20, 200, KIND_INT),  # bars
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def vol_scaling_1d_nb(genes: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                      close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    target_vol = param_nb(genes, _BOUNDS, 1)
    trend_window = int(param_nb(genes, _BOUNDS, 2))
    vol = np.empty(len(close))
    realized_vol_1d_nb(close, int(param_nb(genes, _BOUNDS, 0)), vol)
    for t in range(len(close)):
        if t < trend_window or np.isnan(vol[t]):
            out[t] = 0.0
            continue
        size = min(target_vol / vol[t], 1.0) if vol[t] > 0.0 else 1.0
        out[t] = np.sign(close[t] - close[t - trend_window]) * size
