"""kernels.stats against the papers' worked examples, scipy as the oracle, and properties of CSCV."""
from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest
from scipy import stats

from kernels.stats import (EULER_GAMMA, cluster_labels_nb, correlation_distance, deflated_sharpe_nb, effective_trials,
                           expected_max_sharpe_nb, norm_cdf_nb, norm_ppf_nb, pbo_cscv, psr_nb, sharpe_moments_1d_nb)


@pytest.mark.parametrize("p", [1e-300, 1e-12, 1e-5, 0.001, 0.02, 0.02425, 0.1, 0.3, 0.5, 0.7, 0.97575, 0.99,
                               1 - 1e-10])
def test_norm_ppf_matches_scipy(p):
    assert norm_ppf_nb(p) == pytest.approx(stats.norm.ppf(p), rel=1e-14, abs=1e-14)


def test_norm_ppf_edges_and_cdf_round_trip():
    assert norm_ppf_nb(0.0) == -np.inf and norm_ppf_nb(1.0) == np.inf and np.isnan(norm_ppf_nb(1.5))
    for x in np.linspace(-8, 8, 33):
        assert norm_cdf_nb(x) == pytest.approx(stats.norm.cdf(x), rel=1e-12, abs=1e-300)
    for x in np.linspace(-8, 5, 27):  # above ~5, Φ(x) rounds to a double too close to 1 to invert
        assert norm_ppf_nb(norm_cdf_nb(x)) == pytest.approx(x, abs=1e-9)


def test_dsr_worked_example_of_bailey_lopez_de_prado_2014():
    """Their numerical example: 100 trials with annualised Sharpe variance 1/2, the best annualised Sharpe
    2.5 over 1,250 daily returns (5 years) with skew -3 and kurtosis 10: SR0 = 0.1132 per day, DSR = 0.9004."""
    sr, variance = 2.5 / math.sqrt(250), 0.5 / 250
    assert expected_max_sharpe_nb(100.0, variance) == pytest.approx(0.1132, abs=5e-5)
    assert deflated_sharpe_nb(sr, 1250, -3.0, 10.0, 100.0, variance) == pytest.approx(0.9004, abs=5e-4)


def test_psr_is_the_normal_z_test_under_normal_returns():
    sr, n = 0.05, 1000
    z = sr * math.sqrt(n - 1) / math.sqrt(1 + 0.5 * sr * sr)
    assert psr_nb(sr, 0.0, n, 0.0, 3.0) == pytest.approx(stats.norm.cdf(z), rel=1e-12)
    # One trial deflates nothing; negative skew and fat tails lower the confidence.
    assert deflated_sharpe_nb(sr, n, 0.0, 3.0, 1.0, 1e-3) == psr_nb(sr, 0.0, n, 0.0, 3.0)
    assert psr_nb(sr, 0.0, n, -2.0, 9.0) < psr_nb(sr, 0.0, n, 0.0, 3.0)


def test_expected_max_sharpe_tracks_the_maximum_of_independent_normals():
    rng = np.random.default_rng(1)
    for n in (10, 100, 1000):
        simulated = rng.standard_normal((2000, n)).max(axis=1).mean()
        assert expected_max_sharpe_nb(float(n), 1.0) == pytest.approx(simulated, rel=0.03)
    assert EULER_GAMMA == pytest.approx(0.5772156649, abs=1e-10)
    assert expected_max_sharpe_nb(1000.0, 4.0) == pytest.approx(2 * expected_max_sharpe_nb(1000.0, 1.0))


def test_sharpe_moments_match_scipy_and_degenerate_series():
    r = np.random.default_rng(2).standard_t(5, 3000) * 0.01 + 0.001
    sr, skew, kurt = sharpe_moments_1d_nb(r)
    assert sr == pytest.approx(r.mean() / r.std(ddof=1), rel=1e-12)
    assert skew == pytest.approx(stats.skew(r), rel=1e-10)
    assert kurt == pytest.approx(stats.kurtosis(r, fisher=False), rel=1e-10)
    assert sharpe_moments_1d_nb(np.zeros(10)) == (0.0, 0.0, 3.0)


def test_clusters_merge_correlated_candidates_only():
    rng = np.random.default_rng(3)
    base = rng.normal(0, 0.01, (1500, 1))
    clones = base + rng.normal(0, 0.002, (1500, 6))
    independent = rng.normal(0, 0.01, (1500, 4))
    idle = np.zeros((1500, 2))  # never trade: one "do nothing" strategy
    r = np.hstack([clones, independent, idle])
    labels = cluster_labels_nb(correlation_distance(r), 0.5)
    assert len(set(labels[:6])) == 1 and len(set(labels[6:10])) == 4 and len(set(labels[10:])) == 1
    assert labels.max() + 1 == 6
    n_eff, clusters = effective_trials(1200, r)
    assert clusters == 6 and n_eff == pytest.approx(1200 * 6 / 12)
    assert effective_trials(12, r)[0] == 6.0  # never fewer than the clusters
    with pytest.raises(ValueError, match="n_trials=5"):
        effective_trials(5, r)


def test_pbo_hand_computed_two_trials_two_blocks():
    """S = 2: each half is IS once. A wins block 0, B wins block 1: the IS-best is the OOS-worst both times."""
    noise = np.random.default_rng(4).normal(0, 0.01, (100, 2))
    r = noise.copy()
    r[:50, 0] += 0.02
    r[50:, 1] += 0.02
    result = pbo_cscv(r, 2)
    assert result.pbo == 1.0
    assert np.allclose(result.logits, math.log((1 / 3) / (2 / 3)))
    r = noise.copy()
    r[:, 0] += 0.02  # A wins everywhere: rank 2 of 2, ω = 2/3
    assert pbo_cscv(r, 2).pbo == 0.0


def test_pbo_is_about_half_for_noise_and_zero_for_a_dominant_trial():
    values = []
    for seed in range(20):
        r = np.random.default_rng(seed).normal(0, 0.01, (800, 20))
        values.append(pbo_cscv(r, 8).pbo)
        r[:, 3] += 0.004
        assert pbo_cscv(r, 8).pbo == 0.0
    assert np.mean(values) == pytest.approx(0.5, abs=0.1)


def _reversing_trials(n_splits: int, block: int, drift: float = 0.01, wiggle: float = 0.01) -> np.ndarray:
    """returns[n_splits * block, C(n_splits, n_splits / 2)]: one trial per half of the blocks, earning +drift per
    bar on the blocks of its half and -drift on the others, plus the same zero-mean wiggle (+-wiggle, alternating)
    in every block. Whatever half CSCV takes in sample, the trial of that half has the best in-sample Sharpe
    (all its blocks +drift, no spread between block means) and, all its out-of-sample blocks being -drift, the
    worst out-of-sample Sharpe; every other trial has some -drift blocks in sample and some +drift ones out."""
    halves = list(combinations(range(n_splits), n_splits // 2))
    noise = wiggle * (-1.0) ** np.arange(block)
    r = np.empty((n_splits * block, len(halves)))
    for j, half in enumerate(halves):
        for b in range(n_splits):
            r[b * block:(b + 1) * block, j] = (drift if b in half else -drift) + noise
    return r


def test_pbo_is_one_when_the_in_sample_best_is_always_the_out_of_sample_worst():
    r = _reversing_trials(6, 10)  # 20 trials, 20 combinations
    result = pbo_cscv(r, 6)
    assert r.shape == (60, 20) and len(result.logits) == 20 and result.bars_used == 60
    assert result.pbo == 1.0
    # The IS-best ranks 1 of N = 20 out of sample in every combination: ω = 1 / (N + 1), λ = ln(1 / N).
    np.testing.assert_allclose(result.logits, math.log(1 / 20), rtol=1e-12)


def test_pbo_is_zero_when_one_trial_dominates_every_split():
    r = _reversing_trials(6, 10)
    dominant = 0.02 + 0.01 * (-1.0) ** np.arange(60)  # twice the drift in every block, the same wiggle
    result = pbo_cscv(np.column_stack([r, dominant]), 6)
    assert result.pbo == 0.0
    # The dominant trial is IS-best and ranks N = 21 of 21 out of sample: ω = N / (N + 1), λ = ln(N).
    np.testing.assert_allclose(result.logits, math.log(21), rtol=1e-12)


def test_pbo_bad_input():
    r = np.zeros((100, 3))
    with pytest.raises(ValueError, match="n_splits=3"):
        pbo_cscv(r, 3)
    with pytest.raises(ValueError, match="N >= 2"):
        pbo_cscv(r[:, :1], 4)
    with pytest.raises(ValueError, match="too few"):
        pbo_cscv(r[:10], 16)
    result = pbo_cscv(r, 4)  # all tied: rank (N+1)/2 -> λ = 0 -> counted as overfit
    assert result.pbo == 1.0 and result.bars_used == 100 and len(result.logits) == 6
