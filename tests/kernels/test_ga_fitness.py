"""Walk-forward fitness, objectives, descriptors and champion rules from per-fold metrics."""
from __future__ import annotations

import numpy as np
import pytest

from kernels.ga.champions import (ChampionConfig, champion_mask, next_stage, pick_partners, profile_correlation,
                                  stage_target)
from kernels.ga.fitness import (FitnessConfig, cagr_over_folds, descriptors_from_folds, fitness_from_folds,
                                objectives_from_folds, score, violation_from_folds)
from kernels.ga.population import empty_population
from kernels.genome import GENE_DIRECTION
from kernels.metrics import (M_CAGR, M_EXPOSURE, M_MAX_DRAWDOWN, M_SHARPE, M_TOTAL_RETURN, M_TRADES, M_TURNOVER,
                             N_METRICS)


def _metrics(sharpe: list[list[float]], trades: float = 10.0, turnover: float = 0.0) -> np.ndarray:
    sharpe = np.asarray(sharpe, float)
    m = np.zeros(sharpe.shape + (N_METRICS,))
    m[:, :, M_SHARPE] = sharpe
    m[:, :, M_TRADES] = trades
    m[:, :, M_TURNOVER] = turnover
    m[:, :, M_EXPOSURE] = 0.5
    return m


def test_fitness_is_mean_minus_dispersion_minus_turnover() -> None:
    cfg = FitnessConfig(dispersion_penalty=0.5, turnover_penalty=0.01, min_trades=3.0)
    m = _metrics([[1.0, 2.0, 3.0], [2.0, 2.0, 2.0]], turnover=10.0)
    expected = np.array([2.0 - 0.5 * np.std([1.0, 2.0, 3.0]) - 0.1, 2.0 - 0.1])
    np.testing.assert_allclose(fitness_from_folds(m, cfg), expected)
    assert np.all(violation_from_folds(m, cfg) == 0.0)


def test_too_few_trades_ranks_below_every_trading_genome_but_in_order() -> None:
    cfg = FitnessConfig(min_trades=4.0, trade_penalty=5.0)
    m = np.concatenate([_metrics([[3.0, 3.0]], trades=0.0), _metrics([[3.0, 3.0]], trades=2.0),
                        _metrics([[-1.0, -1.0]], trades=4.0)])
    fit = fitness_from_folds(m, cfg)
    assert fit[2] > fit[1] > fit[0]
    np.testing.assert_allclose(violation_from_folds(m, cfg), [1.0, 0.5, 0.0])


def test_non_finite_metrics_are_invalid() -> None:
    cfg = FitnessConfig()
    m = _metrics([[1.0, np.nan], [1.0, 1.0]])
    fit = fitness_from_folds(m, cfg)
    assert fit[0] == cfg.invalid_fitness and violation_from_folds(m, cfg)[0] == 2.0
    assert np.all(np.isfinite(objectives_from_folds(m, cfg)))
    with pytest.raises(ValueError, match="metrics shape"):
        fitness_from_folds(np.zeros((2, 3)), cfg)


def test_objectives_and_descriptors() -> None:
    cfg = FitnessConfig(turnover_penalty=0.0)
    m = _metrics([[1.0, 1.0], [0.5, 0.5]], trades=10.0, turnover=7.0)
    m[:, :, M_MAX_DRAWDOWN] = [[0.1, 0.3], [0.2, 0.2]]
    obj = objectives_from_folds(m, cfg)
    np.testing.assert_allclose(obj, [[-1.0, 0.3, 7.0], [-0.5, 0.2, 7.0]])
    genes = np.full((2, 12), 0.5)
    genes[0, GENE_DIRECTION] = 0.1  # long-only
    d = descriptors_from_folds(m, genes, np.array([-1, 3]), np.zeros((2, 12)), cfg)
    assert np.all((d >= 0) & (d <= 1))
    np.testing.assert_allclose(d[:, 0], np.log1p(10.0) / np.log1p(cfg.max_trades))
    np.testing.assert_allclose(d[:, 1], 1.0 - np.log(0.05) / np.log(cfg.min_hold))
    np.testing.assert_allclose(d[:, 2], [1.0, 0.5])  # ensemble: long-short member a, long-only member b


def test_score_fills_every_score_field() -> None:
    pop = empty_population(2, 3)
    m = _metrics([[1.0, 1.0, 1.0], [0.0, 1.0, 2.0]])
    m[:, :, M_CAGR] = 0.2
    m[:, :, M_TOTAL_RETURN] = [[0.1, 0.2, 0.3], [0.0, 0.0, 0.1]]
    scored = score(pop, m, FitnessConfig())
    for field in (scored.fitness, scored.violation, scored.objectives, scored.sharpe, scored.cagr,
                  scored.descriptors, scored.profile):
        assert np.all(np.isfinite(field))
    np.testing.assert_allclose(scored.profile, m[:, :, M_TOTAL_RETURN])
    with pytest.raises(ValueError, match="folds"):
        score(empty_population(2, 4), m, FitnessConfig())


def test_cagr_is_over_the_folds_back_to_back() -> None:
    m = _metrics([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    month_up, month_down = 1.3 ** 12 - 1.0, 0.8 ** 12 - 1.0  # +30 % and -20 % in a month, annualised
    m[:, :, M_CAGR] = [[month_up, month_down], [0.2, 0.2], [0.5, -1.0]]
    np.testing.assert_allclose(cagr_over_folds(m), [(1.3 * 0.8) ** 6 - 1.0, 0.2, -1.0], rtol=1e-12)
    assert score(empty_population(3, 2), m, FitnessConfig()).cagr[0] < 0.3  # the fold mean would be ~10.7


def _scored(cagr: list[float], sharpe: list[float], family: list[int] | None = None):
    n = len(cagr)
    pop = empty_population(n, 4)
    return pop._replace(cagr=np.array(cagr), sharpe=np.array(sharpe), violation=np.zeros(n),
                        family=np.array(family if family is not None else [0] * n))


def test_champions_and_staged_targets() -> None:
    cfg = ChampionConfig(stage_quorum=0.6)
    pop = _scored([0.16, 0.22, 0.30, 0.05], [1.0, 1.2, 0.5, 2.0])
    assert champion_mask(pop, 0, cfg).tolist() == [True, True, False, False]
    assert champion_mask(pop, 1, cfg).tolist() == [False, True, False, False]
    assert next_stage(pop, 0, cfg) == 1  # 3/4 reach 15 %, only 2/4 reach 20 %
    assert next_stage(pop, 0, cfg._replace(stage_quorum=0.5)) == 2
    assert next_stage(pop, 1, cfg) == 1 and stage_target(2, cfg) == 0.25
    with pytest.raises(ValueError, match="stage=3"):
        stage_target(3, cfg)


def test_profile_correlation_matches_numpy_and_zero_variance_is_uncorrelated() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    expected = np.corrcoef(np.vstack([a, b]))[:3, 3:]
    np.testing.assert_allclose(profile_correlation(a, b), expected, atol=1e-12)
    assert profile_correlation(np.ones((1, 5)), b).tolist() == [[0.0] * 4]


def test_partners_are_other_family_high_sharpe_and_uncorrelated() -> None:
    cfg = ChampionConfig(partner_min_sharpe=0.5, partner_max_corr=0.3)
    champ = _scored([0.3], [1.5], [1])._replace(profile=np.array([[0.1, -0.1, 0.2, 0.0]]))
    cands = _scored([0.1] * 4, [2.0, 1.8, 1.0, 0.2], [1, 2, 3, 4])._replace(profile=np.array([
        [0.1, -0.1, 0.2, 0.0],    # same family: never
        [0.1, -0.1, 0.2, 0.01],   # correlated
        [-0.1, 0.1, -0.2, 0.0],   # anti-correlated, Sharpe 1.0
        [0.0, 0.3, 0.0, 0.1],     # Sharpe too low
    ]))
    assert pick_partners(champ, cands, cfg).tolist() == [2]
    assert pick_partners(champ, cands._replace(sharpe=np.array([2.0, 1.8, 0.1, 0.2])), cfg).tolist() == [1]
    assert pick_partners(champ, cands._replace(sharpe=np.zeros(4)), cfg).tolist() == [-1]
