"""StepM over the candidates: agrees with arch's own, survives arch's edge case, holds its size on noise and
finds a real edge among noise."""
from __future__ import annotations

import math

import numpy as np
import pytest
from arch.bootstrap import StepM

from tasks.validate.gate1_significance import daily_returns, scaled, superior_candidates


def test_agrees_with_arch_stepm_on_a_fixed_example():
    rng = np.random.default_rng(7)
    daily = rng.standard_t(5, (400, 12)) * 0.01
    daily[:, :3] += 0.01 * np.array([0.5, 0.4, 0.3])  # three real edges of different size, nine nothing
    ours = superior_candidates(daily, fwer=0.05, reps=500, seed=3)
    theirs = StepM(np.zeros(400), -scaled(daily), size=0.05, block_size=max(1, round(ours.block_days)), reps=500,
                   seed=3)
    theirs.compute()
    assert np.flatnonzero(ours.superior).tolist() == sorted(theirs.superior_models)
    assert ours.superior[0] and not ours.superior[3:].any()


def test_every_candidate_rejected_in_a_later_step_ends_cleanly():
    # Step 1 rejects the two strong candidates, step 2 the last one: arch's StepM then goes on with no
    # candidate left and fails; ours stops with all three superior.
    rng = np.random.default_rng(0)
    daily = rng.normal(0.0, 0.01, (500, 3)) + 0.01 * np.array([0.5, 0.5, 0.085])
    result = superior_candidates(daily, reps=300, seed=0)
    assert result.superior.all() and result.sharpe[2] < result.critical_sharpe
    arch_stepm = StepM(np.zeros(500), -scaled(daily), block_size=max(1, round(result.block_days)), reps=300, seed=0)
    with pytest.raises(ValueError, match="zero-size array"):
        arch_stepm.compute()


def test_noise_candidates_are_rejected_at_about_the_configured_rate():
    # 200 candidate sets of 20 correlated noise strategies with fat tails and volatility clusters: the
    # share of sets with any "significant" candidate is the family-wise error, configured at 10 %.
    rng = np.random.default_rng(11)
    false = 0
    sets = 200
    for s in range(sets):
        vol = 0.01 * np.exp(np.cumsum(rng.normal(0, 0.05, 300)))[:, None]
        common = rng.standard_t(4, (300, 1))
        daily = vol * (0.6 * common + 0.8 * rng.standard_t(4, (300, 20)))
        false += superior_candidates(daily, fwer=0.10, reps=300, seed=s).superior.any()
    assert 0.03 <= false / sets <= 0.15


def test_a_sharpe_4_edge_among_noise_is_found_and_noise_rarely():
    found = noise_flagged = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        daily = rng.normal(0.0, 0.01, (455, 10))
        daily[:, 0] += 0.01 * 4.0 / math.sqrt(365)
        result = superior_candidates(daily, reps=300, seed=seed)
        found += result.superior[0]
        noise_flagged += result.superior[1:].any()
    assert found >= 18 and noise_flagged <= 3


def test_daily_returns_compound_whole_days_and_drop_the_oldest_partial_one():
    per_bar = np.array([[9.0], [0.1], [0.1], [-0.5], [1.0]])
    daily = daily_returns(per_bar, bars_per_day=2)
    assert daily[:, 0] == pytest.approx([1.1 * 1.1 - 1, 0.5 * 2.0 - 1])


def test_a_candidate_that_never_trades_is_never_significant():
    rng = np.random.default_rng(2)
    daily = np.column_stack([np.zeros(200), rng.normal(0.002, 0.01, 200)])
    result = superior_candidates(daily, seed=0)
    assert not result.superior[0] and result.sharpe[0] == 0.0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="need >= 1 candidate and >= 8 days"):
        superior_candidates(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="fwer=1.5"):
        superior_candidates(np.zeros((50, 2)), fwer=1.5)
    with pytest.raises(ValueError, match=r"\[T, M\]"):
        daily_returns(np.zeros(10), 2)
