"""Bollinger bands (SMA +- width x std) through %B.

mode 0, breakout: long above the upper band (%B > 1), short below the lower, out at the middle band.
mode 1, reversion: long below the lower band (%B < 0), short above the upper, out at the middle band.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.indicators import bollinger_1d_nb as bollinger_bands_1d_nb

MODE_BREAKOUT = 0
MODE_REVERSION = 1
BOUNDS = (
    GeneSpec("window", 10, 60, KIND_INT),  # bars
    GeneSpec("width", 1.0, 3.0, KIND_FLOAT),  # standard deviations
    GeneSpec("mode", 0, 1, KIND_INT),
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def bollinger_1d_nb(genes: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                    close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    mode = int(param_nb(genes, _BOUNDS, 2))
    n = len(close)
    middle, upper, lower, percent_b = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    bollinger_bands_1d_nb(close, int(param_nb(genes, _BOUNDS, 0)), param_nb(genes, _BOUNDS, 1),
                          middle, upper, lower, percent_b)
    flip = 1.0 if mode == MODE_BREAKOUT else -1.0  # reversion trades against the band it crossed
    side = 0.0
    for t in range(n):
        b = percent_b[t]
        if np.isnan(b):
            side = 0.0
        elif b > 1.0:
            side = flip
        elif b < 0.0:
            side = -flip
        elif (side * flip > 0.0 and b < 0.5) or (side * flip < 0.0 and b > 0.5):
            side = 0.0  # breakout: back under the middle; reversion: back to the middle
        out[t] = side
