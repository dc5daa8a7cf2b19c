"""Walk-forward ridge regression on the learning features (kernels.learn.features).

Every `refit` bars (at t % refit == 0) the model is refitted in closed form on the usable samples of the
last `lookback` bars, whose labels are all known at t: w = (X'X / n + ridge D)^-1 X'y / n with X the
features plus an intercept column and D the identity except the (unpenalised) intercept. The window's
X'X and X'y come from the moment bank in O(F^2), so a refit costs one 9 x 9 Cholesky solve. Between
refits the last model predicts the next bar's vol-normalised return; the position is its sign when
it clears +-threshold.

Cost: a refit allocates nothing (its buffers live as long as the genome's pass), and the bars up to the
next refit are scored in one vectorised pass (kernels.learn.features.affine_row_nb) then turned into
signals branch-free, so the per-bar work is a few SIMD operations.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, KIND_LOG, GeneSpec, bounds_array, param_nb
from kernels.learn.features import (LABEL, N_FEATURES, N_MOMENTS, affine_row_nb, learning_bank_nb, signal_from_score_nb,
                                    window_moments_nb)
from kernels.learn.linalg import solve_spd_nb

__all__ = ["BOUNDS", "MIN_SAMPLES", "fit_ridge_nb", "linear_classifier_from_bank_1d_nb", "linear_classifier_1d_nb"]

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
    """out_w = (intercept, weights) from window moments (E x E, see kernels.learn.features; the lower triangle is read
    and overwritten: the normal equations are formed and solved in place). False if singular or too few
    samples (out_w then keeps the previous model)."""
    count = moments[0, 0]
    if count < MIN_SAMPLES:
        return False
    d, inv_count = N_FEATURES + 1, 1.0 / count
    for i in range(d):  # the lower triangle (all that window_moments_nb writes and solve_spd_nb reads)
        for j in range(i + 1):
            moments[i, j] *= inv_count
        moments[LABEL, i] *= inv_count
    for j in range(1, d):
        moments[j, j] += ridge
    return solve_spd_nb(moments, moments[LABEL, :d], out_w)  # a C-contiguous a indexes faster than a block view


@njit(cache=True, inline="always")
def _predict_segment_nb(x: np.ndarray, weights: np.ndarray, bias: np.ndarray, threshold: float, start: int,
                        stop: int, scores: np.ndarray, out: np.ndarray) -> None:
    """out[start:stop] = signals of the model (weights[0] @ x + bias[0]) on those bars (NaN features: NaN
    score -> flat); both passes vectorise (0-based and unsigned indices, no array views)."""
    affine_row_nb(x, start, stop, weights, bias, 0, scores)
    first = np.uint64(start)
    for i in range(stop - start):
        out[first + np.uint64(i)] = signal_from_score_nb(scores[0, i], threshold)


@njit(cache=True)
def linear_classifier_from_bank_1d_nb(genes: np.ndarray, x: np.ndarray, cum: np.ndarray, out: np.ndarray) -> None:
    """The signal from a prebuilt learning bank (features x, cumulative moments cum)."""
    lookback, refit = int(param_nb(genes, _BOUNDS, 0)), int(param_nb(genes, _BOUNDS, 1))
    ridge, threshold = param_nb(genes, _BOUNDS, 2), param_nb(genes, _BOUNDS, 3)
    moments, scores = np.empty((N_MOMENTS, N_MOMENTS)), np.empty((1, refit))
    w = np.zeros(N_FEATURES + 1)  # (intercept, weights), seen by affine_row_nb as one row:
    weights, bias = w[1:].reshape((1, N_FEATURES)), w[:1]
    fitted = False
    for start in range(0, len(out), refit):  # refits at t % refit == 0; the model serves until the next
        stop = min(start + refit, len(out))
        if fit_ridge_nb(window_moments_nb(cum, start, lookback, moments), ridge, w):
            fitted = True
        if fitted:
            _predict_segment_nb(x, weights, bias, threshold, start, stop, scores, out)
        else:
            out[start:stop] = 0.0


@njit(cache=True)
def linear_classifier_1d_nb(genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                            close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    x, _, _, cum = learning_bank_nb(high, low, close, volume)
    linear_classifier_from_bank_1d_nb(genes, x, cum, out)
