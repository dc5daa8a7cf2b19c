"""Regimes: causal labels that find planted trends and volatility bursts, per-regime Sharpe, family weights."""
from __future__ import annotations

import numpy as np
import pytest

from kernels.regimes import (N_REGIMES, REGIME_NAMES, efficiency_ratio_1d_nb, family_weights, label_regimes_1d_nb,
                             recent_regime, regime_sharpe_1d_nb, regime_sharpe_nb)


def _labels(close: np.ndarray, trend_window: int = 48, vol_window: int = 24, baseline_window: int = 600,
            threshold: float = 0.3) -> np.ndarray:
    out = np.empty(close.size, np.int64)
    label_regimes_1d_nb(close, trend_window, vol_window, baseline_window, threshold, out)
    return out


def _market(seed: int = 0) -> np.ndarray:
    """1,000 calm random-walk bars, 500 calm trending bars, 500 wild random-walk bars."""
    rng = np.random.default_rng(seed)
    r = np.concatenate([rng.normal(0, 0.005, 1000), 0.004 + rng.normal(0, 0.003, 500), rng.normal(0, 0.02, 500)])
    return 100.0 * np.exp(np.cumsum(r))


def test_efficiency_ratio_matches_a_slow_loop() -> None:
    close = _market()[:300]
    out = np.empty(300)
    efficiency_ratio_1d_nb(close, 10, out)
    assert np.all(np.isnan(out[:10]))
    for t in range(10, 300):
        path = np.abs(np.diff(close[t - 10:t + 1])).sum()
        assert out[t] == pytest.approx(abs(close[t] - close[t - 10]) / path, rel=1e-9)
    flat = np.empty(20)
    efficiency_ratio_1d_nb(np.ones(20), 5, flat)
    assert np.all(flat[5:] == 0.0)


def test_labels_find_the_planted_regimes() -> None:
    labels = _labels(_market())
    assert np.all(labels[:623] == -1) and np.all(labels[623:] >= 0)  # warm-up 24 + 600 - 1
    names = np.array(REGIME_NAMES)
    share = lambda lo, hi, *regimes: np.isin(names[labels[lo:hi]], regimes).mean()  # noqa: E731
    assert share(623, 1000, "range_low_vol", "range_high_vol") > 0.8
    assert share(1100, 1500, "trend_low_vol", "trend_high_vol") > 0.8
    assert share(1600, 2000, "trend_high_vol", "range_high_vol") > 0.9


def test_labels_are_causal() -> None:
    close = _market(1)
    full = _labels(close)
    for cut in (250, 777, 1499, 1800):
        np.testing.assert_array_equal(_labels(close[:cut + 1]), full[:cut + 1])


def test_regime_sharpe_matches_numpy_with_one_bar_attribution_lag() -> None:
    rng = np.random.default_rng(3)
    returns = rng.normal(0.0005, 0.01, size=(2, 400))
    labels = rng.integers(-1, N_REGIMES, size=400)
    got = regime_sharpe_nb(returns, labels, 8760.0)
    for s in range(2):
        for r in range(N_REGIMES):
            x = returns[s, 1:][labels[:-1] == r]
            assert got[s, r] == pytest.approx(x.mean() / x.std(ddof=1) * np.sqrt(8760.0), rel=1e-9)
    out = np.empty(N_REGIMES)
    regime_sharpe_1d_nb(np.zeros(10), np.zeros(10, np.int64), 8760.0, out)
    assert out.tolist() == [0.0] * N_REGIMES


def test_recent_regime_and_family_weights() -> None:
    labels = np.array([-1, 0, 0, 3, 3, 3, 1])
    assert recent_regime(labels, 4) == 3 and recent_regime(labels, 1) == 1 and recent_regime(labels[:1], 5) == -1
    families = np.array([0, 0, 1, 2])
    scores = np.zeros((4, N_REGIMES))
    scores[:, 3] = [2.0, 1.0, -1.0, 0.0]
    w = family_weights(families, scores, 3, n_families=5, temperature=0.5, floor=0.25)
    assert w.sum() == pytest.approx(1.0) and np.all(w >= 0.25 / 5)
    assert w[0] > w[3] > w[2] > w[1] and w[3] == pytest.approx(w[4])  # 3 and 4 unsampled: all samples' mean 0.5
    np.testing.assert_allclose(family_weights(families, scores, -1, n_families=5), np.full(5, 0.2))
    with pytest.raises(ValueError, match="floor"):
        family_weights(families, scores, 3, n_families=5, floor=2.0)
