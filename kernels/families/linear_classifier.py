"""Walk-forward ridge regression on the learning features (kernels.families.learning).

Every `refit` bars (at t % refit == 0) the model is refitted in closed form on the usable samples of the
last `lookback` bars, whose labels are all known at t: w = (X'X / n + ridge D)^-1 X'y / n with X the
features plus an intercept column and D the identity except the (unpenalised) intercept. The window's
X'X and X'y come from the moment bank in O(F^2), so a refit costs one 9 x 9 Cholesky solve. Between
refits the last model predicts the next bar's vol-normalised return; the position is its sign when
it clears +-threshold.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.families.learning import (LABEL, N_FEATURES, learning_bank_nb, signal_from_score_nb, solve_spd_nb,
                                        window_moments_nb)
from kernels.genome import KIND_FLOAT, KIND_INT, KIND_LOG, GeneSpec, bounds_array, param_nb

BOUNDS = (
    GeneSpec("lookback", 50, 500, KIND_INT),  # bars of training samples
    GeneSpec("refit", 24, 168, KIND_INT),  # bars between refits
    GeneSpec("ridge", 1e-3, 10.0, KIND_LOG),  # penalty on the (unit-scale) feature weights
    GeneSpec("threshold", 0.0, 0.2, KIND_FLOAT),  # predicted return, in units of the 24-bar vol
)
_BOUNDS = bounds_array(BOUNDS)
MIN_SAMPLES = 2 * (N_FEATURES + 1)


@njit(cache=True)
def fit_ridge_nb(moments: np.ndarray, ridge: float, out_w: np.ndarray) -> bool:
    """out_w = (intercept, weights) from window moments (E x E, see learning.py). False if singular
    or too few samples (out_w then keeps the previous model)."""
    count = moments[0, 0]
    if count < MIN_SAMPLES:
        return False
    d = N_FEATURES + 1
    a = moments[:d, :d] / count
    b = moments[:d, LABEL] / count
    for j in range(1, d):
        a[j, j] += ridge
    return solve_spd_nb(a, b, out_w)


@njit(cache=True)
def linear_classifier_from_bank_1d_nb(genes: np.ndarray, x: np.ndarray, cum: np.ndarray, out: np.ndarray) -> None:
    """The signal from a prebuilt learning bank (features x, cumulative moments cum)."""
    lookback, refit = int(param_nb(genes, _BOUNDS, 0)), int(param_nb(genes, _BOUNDS, 1))
    ridge, threshold = param_nb(genes, _BOUNDS, 2), param_nb(genes, _BOUNDS, 3)
    w = np.zeros(N_FEATURES + 1)
    fitted = False
    for t in range(len(out)):
        if t % refit == 0 and fit_ridge_nb(window_moments_nb(cum, t, lookback), ridge, w):
            fitted = True
        score = w[0]
        for j in range(N_FEATURES):
            score += w[j + 1] * x[j, t]
        out[t] = signal_from_score_nb(score, threshold) if fitted else 0.0  # NaN features: NaN score -> flat


@njit(cache=True)
def linear_classifier_1d_nb(genes: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                            close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    x, _, _, cum = learning_bank_nb(high, low, close, volume)
    linear_classifier_from_bank_1d_nb(genes, x, cum, out)
