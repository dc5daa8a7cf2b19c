"""VWAP reversion: z = (close - rolling VWAP) / volume-weighted deviation. Long below -z_entry, short above
+z_entry; a position is closed once |z| is back inside exit_fraction x z_entry on its side."""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.indicators import vwap_1d_nb

BOUNDS = (
    GeneSpec("window", 10, 200, KIND_INT),  # bars
    GeneSpec("z_entry", 0.5, 3.0, KIND_FLOAT),  # deviations
    GeneSpec("exit_fraction", 0.0, 1.0, KIND_FLOAT),  # exit band as a fraction of z_entry
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def vwap_reversion_1d_nb(genes: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                         close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    z_entry = param_nb(genes, _BOUNDS, 1)
    z_exit = param_nb(genes, _BOUNDS, 2) * z_entry
    n = len(close)
    vwap = np.empty(n)
    dev = np.empty(n)
    vwap_1d_nb(close, volume, int(param_nb(genes, _BOUNDS, 0)), vwap, dev)
    side = 0.0
    for t in range(n):
        if not dev[t] > 0.0:  # warm-up, no volume, or a flat window: no z-score
            side = 0.0
        else:
            z = (close[t] - vwap[t]) / dev[t]
            if z < -z_entry:
                side = 1.0
            elif z > z_entry:
                side = -1.0
            elif (side > 0.0 and z >= -z_exit) or (side < 0.0 and z <= z_exit):
                side = 0.0
        out[t] = side
