"""Shared learning helpers (kernels.learn.features, kernels.learn.linalg) and the linear classifier against numpy
references."""
from __future__ import annotations

import numpy as np
import pytest
from market_fixtures import synthetic_market

from kernels.families.linear_classifier import (_BOUNDS, MIN_SAMPLES, _predict_segment_nb,
                                                linear_classifier_from_bank_1d_nb)
from kernels.genome import param_nb
from kernels.learn.features import (N_FEATURES, N_MOMENTS, affine_row_nb, learning_bank_nb, signal_from_score_nb,
                                    window_moments_nb)
from kernels.learn.linalg import solve_spd_nb


@pytest.fixture(scope="module")
def bank():
    market = synthetic_market(3000, seed=4)
    return learning_bank_nb(market.high, market.low, market.close, market.volume)


def _dot(weights: np.ndarray, bias: float, features: np.ndarray) -> float:
    """bias + weights @ features summed in feature order, as a per-bar loop would."""
    total = bias
    for w, f in zip(weights, features):
        total += w * f
    return total


def test_affine_row_equals_a_per_bar_dot_product_bit_for_bit(bank):
    x = bank[0]
    rng = np.random.default_rng(0)
    weights, bias = rng.normal(size=(3, N_FEATURES)), rng.normal(size=3)
    out = np.full((3, 700), 7.0)
    affine_row_nb(x, 150, 800, weights, bias, 1, out)  # includes warm-up bars (NaN features)
    expected = [_dot(weights[1], bias[1], x[:, t]) for t in range(150, 800)]
    np.testing.assert_array_equal(out[1, :650], expected)
    assert (out[[0, 2]] == 7.0).all() and (out[1, 650:] == 7.0).all()


@pytest.mark.parametrize("t, lookback", [(900, 300), (250, 500), (3000, 50)])
def test_window_moments_lower_triangle_equals_direct_sums(bank, t, lookback):
    x, y, usable, cum = bank
    out = np.full((N_MOMENTS, N_MOMENTS), np.nan)
    window_moments_nb(cum, t, lookback, out)
    bars = np.arange(max(t - lookback, 0), t)[usable[max(t - lookback, 0):t]]
    e = np.vstack([np.ones(len(bars)), x[:, bars], y[bars]])
    lower = np.tril(np.ones((N_MOMENTS, N_MOMENTS), dtype=bool))
    np.testing.assert_allclose(out[lower], (e @ e.T)[lower], rtol=1e-9, atol=1e-8)


def test_solve_spd_reads_only_the_lower_triangle_of_the_leading_block():
    rng = np.random.default_rng(1)
    for d in (1, 3, 9):
        b = rng.normal(size=(d, 3 * d))
        spd = b @ b.T + 0.1 * np.eye(d)
        rhs = rng.normal(size=d)
        a = rng.normal(size=(d + 2, d + 2))  # garbage outside the lower triangle of the d x d block
        a[:d, :d][np.tril_indices(d)] = spd[np.tril_indices(d)]
        out = np.empty(d)
        assert solve_spd_nb(a, rhs, out)
        np.testing.assert_allclose(out, np.linalg.solve(spd, rhs), rtol=1e-9)


def test_signal_is_flat_inside_the_threshold_and_for_nan():
    assert [signal_from_score_nb(s, 0.1) for s in (0.2, -0.2, 0.1, -0.1, 0.0, np.nan)] == [1, -1, 0, 0, 0, 0]


def test_linear_segment_prediction_equals_per_bar_signals(bank):
    x = bank[0]
    w = np.random.default_rng(2).normal(size=N_FEATURES + 1)
    out = np.full(x.shape[1], 7.0)
    _predict_segment_nb(x, w[1:].reshape((1, N_FEATURES)), w[:1], 0.05, 100, 400, np.empty((1, 300)), out)
    expected = [signal_from_score_nb(_dot(w[1:], w[0], x[:, t]), 0.05) for t in range(100, 400)]
    np.testing.assert_array_equal(out[100:400], expected)
    assert (out[:100] == 7.0).all() and (out[400:] == 7.0).all()


def _reference_linear(genes: np.ndarray, x: np.ndarray, y: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """The linear classifier from its definition: numpy ridge on the window's samples, a per-bar signal."""
    lookback, refit = int(param_nb(genes, _BOUNDS, 0)), int(param_nb(genes, _BOUNDS, 1))
    ridge, threshold = param_nb(genes, _BOUNDS, 2), param_nb(genes, _BOUNDS, 3)
    out, w = np.zeros(x.shape[1]), None
    for t in range(x.shape[1]):
        if t % refit == 0:
            bars = np.arange(max(t - lookback, 0), t)[usable[max(t - lookback, 0):t]]
            if len(bars) >= MIN_SAMPLES:
                a = np.vstack([np.ones(len(bars)), x[:, bars]]).T
                penalty = ridge * np.diag(np.r_[0.0, np.ones(N_FEATURES)])
                w = np.linalg.solve(a.T @ a / len(bars) + penalty, a.T @ y[bars] / len(bars))
        if w is not None:
            out[t] = signal_from_score_nb(w[0] + w[1:] @ x[:, t], threshold)
    return out


def test_linear_family_matches_its_reference(bank):
    x, y, usable, cum = bank
    for genes in np.random.default_rng(3).uniform(size=(6, 12)):
        out = np.empty(x.shape[1])
        linear_classifier_from_bank_1d_nb(genes, x, cum, out)
        expected = _reference_linear(genes, x, y, usable)
        assert (expected != 0.0).any()
        assert np.mean(out != expected) < 1e-3  # a score within rounding of the threshold may flip, nothing more
