"""VWAP reversion: z = (close - rolling VWAP) / volume-weighted deviation. Long below -z_entry, short above
+z_entry; a position is closed once |z| is back inside exit_fraction x z_entry on its side."""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.indicators import vwap_sums_1d_nb

__all__ = ["BOUNDS", "vwap_reversion_1d_nb"]

BOUNDS = (
    GeneSpec("window", 10, 200, KIND_INT),  # bars
    GeneSpec("z_entry", 0.5, 3.0, KIND_FLOAT),  # deviations
    GeneSpec("exit_fraction", 0.0, 1.0, KIND_FLOAT),  # exit band as a fraction of z_entry
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def _reversion_step_nb(side: float, gap: float, spread: float, entry2: float, exit2: float) -> float:
    """New side from z = gap / sqrt(spread) (kernels.indicators.vwap_sums_1d_nb), tested on squares:
    |z| > z_entry is gap^2 > z_entry^2 spread, no division or root.

    Selects, not branches, on a float side (z wanders around the bands; a branch would mispredict): the
    entry side (if any) wins, else the side survives only if z is still beyond the exit band on it
    (z < -z_exit for a long, z > z_exit for a short)."""
    below = 1.0 if gap < 0.0 else -1.0  # the long side when the close is below the vwap
    survivor = below if gap * gap > exit2 * spread else 0.0
    kept = side if side == survivor else 0.0
    side = below if gap * gap > entry2 * spread else kept
    return side if spread > 0.0 else 0.0  # warm-up, no volume, or a flat window: no z-score


@njit(cache=True)
def vwap_reversion_1d_nb(genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                         close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    z_entry = param_nb(genes, _BOUNDS, 1)
    z_exit = param_nb(genes, _BOUNDS, 2) * z_entry
    n = len(close)
    gap = np.empty(n)
    spread = np.empty(n)
    vwap_sums_1d_nb(close, volume, int(param_nb(genes, _BOUNDS, 0)), out, gap, spread)  # out: scratch weights
    side = 0.0
    for t in range(n):
        side = _reversion_step_nb(side, gap[t], spread[t], z_entry * z_entry, z_exit * z_exit)
        out[t] = side
