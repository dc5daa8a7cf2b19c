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

__all__ = ["MODE_SLOPE", "MODE_ENVELOPE", "BOUNDS", "nadaraya_watson_1d_nb"]

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
def _slope_signal_nb(estimate: np.ndarray, previous: np.ndarray, threshold: float, out: np.ndarray) -> None:
    """Mode slope over aligned views (estimate[t], estimate[t - 1], out[t]). estimate / previous - 1 >
    threshold is tested as estimate > previous x (1 + threshold) (the estimate of positive prices is
    positive): no division. The float side moves by a masked select, not a branch."""
    up, down = 1.0 + threshold, 1.0 - threshold
    side = 0.0
    for i in range(len(out)):
        rising, falling = estimate[i] > previous[i] * up, estimate[i] < previous[i] * down
        direction = (1.0 if rising else 0.0) - (1.0 if falling else 0.0)
        side = direction if direction != 0.0 else side
        side = side if previous[i] == previous[i] else 0.0  # NaN: warm-up
        out[i] = side


@njit(cache=True)
def _envelope_signal_nb(estimate: np.ndarray, previous: np.ndarray, close: np.ndarray, band: float,
                        out: np.ndarray) -> None:
    """Mode envelope over aligned views (estimate at t and t - 1, close and out at t): close / estimate - 1
    against +-band, tested as close against estimate x (1 +- band). An entry (if any) wins, else the side
    the close's crossing of the estimate closes is dropped."""
    up, down = 1.0 + band, 1.0 - band
    side = 0.0
    for t in range(len(out)):
        level, price = estimate[t], close[t]
        entry = (1.0 if price < level * down else 0.0) - (1.0 if price > level * up else 0.0)
        closing = (1.0 if price > level else 0.0) - (1.0 if price < level else 0.0)  # a long closes above
        kept = 0.0 if side == closing else side
        side = entry if entry != 0.0 else kept
        side = side if previous[t] == previous[t] else 0.0  # NaN: warm-up
        out[t] = side


@njit(cache=True)
def nadaraya_watson_1d_nb(genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                          close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring). Flat until the estimate at t - 1 exists."""
    n = len(close)
    estimate = np.empty(n)
    kernel_regression_1d_nb(close, param_nb(genes, _BOUNDS, 0), int(param_nb(genes, _BOUNDS, 1)), estimate)
    if n == 0:
        return
    out[0] = 0.0
    if int(param_nb(genes, _BOUNDS, 2)) == MODE_SLOPE:
        _slope_signal_nb(estimate[1:], estimate[:-1], param_nb(genes, _BOUNDS, 3), out[1:])
    else:
        _envelope_signal_nb(estimate[1:], estimate[:-1], close[1:], param_nb(genes, _BOUNDS, 4), out[1:])
