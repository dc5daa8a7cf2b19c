"""Bollinger bands (SMA +- width x std) through %B.

mode 0, breakout: long above the upper band (%B > 1), short below the lower, out at the middle band.
mode 1, reversion: long below the lower band (%B < 0), short above the upper, out at the middle band.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb

__all__ = ["MODE_BREAKOUT", "MODE_REVERSION", "BOUNDS", "ANCHOR_BLOCK", "bollinger_1d_nb"]

MODE_BREAKOUT = 0
MODE_REVERSION = 1
BOUNDS = (
    GeneSpec("window", 10, 60, KIND_INT),  # bars
    GeneSpec("width", 1.0, 3.0, KIND_FLOAT),  # standard deviations
    GeneSpec("mode", 0, 1, KIND_INT),
)
_BOUNDS = bounds_array(BOUNDS)
ANCHOR_BLOCK = 64  # bars at least between re-anchorings of the band sums (amortises the re-sum of short windows)


@njit(cache=True)
def _band_step_nb(side: int, gap: float, band2: float, flip: int) -> int:
    """New side from gap = window (close - middle) and band2 = (window x width x std)^2 (= NaN %B if 0).

    gap^2 > band2 is %B > 1 (gap > 0) or %B < 0 (gap < 0); the sign of gap is %B against 0.5. The side
    is an int and the step is selects, not branches: the previous side only meets one compare and
    three conditional moves (a branch mispredicts whenever the close crosses the middle).
    """
    above = (gap > 0.0) - (gap < 0.0)  # sign of gap, as an int without a branch
    kept = 0 if side == -flip * above else side  # breakout: back under the middle; reversion: back to it
    side = flip * above if gap * gap > band2 else kept
    return side if band2 > 0.0 else 0  # warm-up or collapsed bands: no %B


@njit(cache=True)
def bollinger_1d_nb(genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                    close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring).

    One pass, no division or square root per bar. With s1, s2 the sums of (x - a) and (x - a)^2 over
    the window around an anchor price a (one add per bar each), gap = window (close - middle) =
    window (close - a) - s1 and band2 = width^2 window^2 var = width^2 (window s2 - s1^2), and the bands
    are tested on squares (_band_step_nb). Prices far from zero would make window s2 - s1^2 cancel, so
    every max(window, ANCHOR_BLOCK) bars the anchor is re-set to the close starting the block and the
    sums re-taken from scratch: the variance stays within ~1e-12 relative of a two-pass sum on real
    prices, with no drift (a running update of the variance itself drifted to ~1e-7 over 28k bars).
    """
    window = int(param_nb(genes, _BOUNDS, 0))
    width2 = param_nb(genes, _BOUNDS, 1) ** 2
    flip = 1 if int(param_nb(genes, _BOUNDS, 2)) == MODE_BREAKOUT else -1  # reversion trades against the band
    n = len(close)
    out[:min(window - 1, n)] = 0.0
    side = 0
    block = max(window, ANCHOR_BLOCK)
    for start in range(window - 1, n, block):
        anchor = close[start]
        s1, s2 = 0.0, 0.0
        for t in range(start - window + 1, start + 1):
            s1 += close[t] - anchor
            s2 += (close[t] - anchor) ** 2
        side = _band_step_nb(side, -s1, width2 * (window * s2 - s1 * s1), flip)
        out[start] = side
        stop = min(start + block, n)
        # views aligned on the bars after `start` (no index wraparound in the loop)
        entering, leaving, out_t = close[start + 1:stop], close[start + 1 - window:stop - window], out[start + 1:stop]
        for i in range(stop - start - 1):
            p, q = entering[i] - anchor, leaving[i] - anchor
            s1 += p - q
            s2 += p * p - q * q
            side = _band_step_nb(side, window * p - s1, width2 * (window * s2 - s1 * s1), flip)
            out_t[i] = side
