"""Variation operators: genes stay in [0, 1], lineage is set, each operator does only its own job."""
from __future__ import annotations

import numpy as np
import pytest

from kernels.ga.operators import (RISK_GENES, VariationConfig, crossover, ensemble, init_population, micro_mutate,
                                  mutate, reflect_unit)
from kernels.ga.population import OP, concat, make_uid, uid_parts
from kernels.genome import FIRST_FAMILY_GENE, N_GENES

K = 3


def _pool(n: int = 40, seed: int = 0, **config) -> tuple:
    cfg = VariationConfig(n_coins=3, **config)
    rng = np.random.default_rng(seed)
    return init_population(n, n_folds=K, rng=rng, config=cfg), rng, cfg


def _in_unit(x: np.ndarray) -> bool:
    return bool(np.all((x >= 0.0) & (x <= 1.0)))


def test_reflect_unit_folds_every_real_into_unit_interval() -> None:
    x = np.array([-3.3, -1.0, -0.25, 0.0, 0.4, 1.0, 1.25, 2.0, 2.5, 7.9])
    y = reflect_unit(x)
    assert _in_unit(y)
    np.testing.assert_allclose(y, [0.7, 1.0, 0.25, 0.0, 0.4, 1.0, 0.75, 0.0, 0.5, 0.1], atol=1e-12)


def test_init_is_latin_hypercube_over_families_and_coins() -> None:
    n = 56
    pop, _, cfg = _pool(n)
    assert _in_unit(pop.genes)
    for g in range(N_GENES):  # exactly one genome per 1/n stratum in every gene column
        assert sorted(np.floor(pop.genes[:, g] * n).astype(int)) == list(range(n))
    assert np.bincount(pop.family, minlength=cfg.n_families).tolist() == [n // cfg.n_families] * cfg.n_families
    assert np.bincount(pop.coin, minlength=3).min() >= n // 3
    assert np.all(pop.operator == OP.init) and np.all(pop.parent_a == -1) and np.all(pop.generation == 0)
    assert np.unique(pop.uid).size == n and np.all(np.isnan(pop.fitness))


def test_init_family_weights_bias_the_counts() -> None:
    cfg = VariationConfig()
    weights = np.zeros(cfg.n_families)
    weights[[2, 5]] = [3.0, 1.0]
    pop = init_population(40, n_folds=K, rng=np.random.default_rng(1), config=cfg, family_weights=weights)
    assert np.bincount(pop.family, minlength=cfg.n_families)[[2, 5]].tolist() == [30, 10]
    with pytest.raises(ValueError, match="family_weights"):
        init_population(4, n_folds=K, rng=np.random.default_rng(1), config=cfg, family_weights=np.ones(3))


@pytest.mark.parametrize("sigma", [0.001, 0.3, 5.0])
def test_every_operator_keeps_genes_in_unit_interval(sigma: float) -> None:
    pop, rng, cfg = _pool(60, sigma_init=sigma, sigma_max=10.0, micro_sigma=sigma, p_switch_family=0.5,
                          p_switch_coin=0.5)
    pop.genes[:5] = 0.0
    pop.genes[5:10] = 1.0
    idx = np.arange(60)
    mates = np.array([np.flatnonzero(pop.family == f)[0] for f in pop.family])
    others = np.array([np.flatnonzero(pop.family != f)[0] for f in pop.family])
    children = [mutate(pop, idx, idx, rng, cfg), crossover(pop, idx, mates, rng, cfg),
                ensemble(pop, idx, others, rng, cfg), micro_mutate(pop, idx, idx, rng, cfg)]
    children.append(mutate(children[2], idx, idx, rng, cfg))  # ensembles mutate both members
    children.append(micro_mutate(children[2], idx, idx, rng, cfg))
    for child in children:
        assert _in_unit(child.genes) and _in_unit(child.genes_b)
        assert np.all(child.uid == -1) and np.all(np.isnan(child.fitness))
        assert np.all((child.coin >= 0) & (child.coin < 3)) and np.all(child.family < cfg.n_families)


def test_mutate_self_adapts_sigma_and_switches_family_with_fresh_family_genes() -> None:
    pop, rng, cfg = _pool(200, p_switch_family=0.0, p_switch_coin=0.0)
    idx = np.arange(200)
    child = mutate(pop, idx, idx, rng, cfg)
    assert not np.allclose(child.sigma, pop.sigma) and np.all(child.sigma >= cfg.sigma_min)
    assert np.array_equal(child.family, pop.family) and np.array_equal(child.coin, pop.coin)
    assert np.all(child.parent_a == pop.uid) and np.all(child.parent_b == -1) and np.all(child.operator == OP.mutate)
    tiny = pop._replace(sigma=np.full(200, 1e-9))
    cfg_switch = cfg._replace(p_switch_family=1.0, p_switch_coin=1.0, sigma_min=1e-9)
    switched = mutate(tiny, idx, idx, rng, cfg_switch)
    assert np.all(switched.family != pop.family) and np.all(switched.coin != pop.coin)
    np.testing.assert_allclose(switched.genes[:, :FIRST_FAMILY_GENE], pop.genes[:, :FIRST_FAMILY_GENE], atol=1e-6)
    assert np.abs(switched.genes[:, FIRST_FAMILY_GENE:] - pop.genes[:, FIRST_FAMILY_GENE:]).mean() > 0.1


def test_crossover_stays_within_family_and_between_parents() -> None:
    pop, rng, cfg = _pool(28, blend_alpha=0.0, p_uniform=0.0)  # pure blend without spread: inside the box
    a = np.flatnonzero(pop.family == 0)[:1].repeat(2)
    b = np.flatnonzero(pop.family == 0)[1:2].repeat(2)
    child = crossover(pop, a, b, rng, cfg)
    lo, hi = np.minimum(pop.genes[a], pop.genes[b]), np.maximum(pop.genes[a], pop.genes[b])
    assert np.all((child.genes >= lo) & (child.genes <= hi))
    assert np.all(child.parent_a == pop.uid[a]) and np.all(child.parent_b == pop.uid[b])
    assert np.all(child.operator == OP.crossover) and np.all(child.family == 0)
    uniform = crossover(pop, a, b, rng, cfg._replace(p_uniform=1.0))
    assert np.all((uniform.genes == pop.genes[a]) | (uniform.genes == pop.genes[b]))
    with pytest.raises(ValueError, match="different families"):
        crossover(pop, np.array([0]), np.array([np.flatnonzero(pop.family != pop.family[0])[0]]), rng, cfg)


def test_ensemble_child_carries_both_members() -> None:
    pop, rng, cfg = _pool(28)
    a, b = np.array([0]), np.array([np.flatnonzero(pop.family != pop.family[0])[0]])
    child = ensemble(pop, a, b, rng, cfg)
    assert child.family[0] == pop.family[0] and child.family_b[0] == pop.family[b[0]]
    np.testing.assert_array_equal(child.genes[0], pop.genes[0])
    np.testing.assert_array_equal(child.genes_b[0], pop.genes[b[0]])
    assert child.coin[0] == pop.coin[0] and child.operator[0] == OP.ensemble
    with pytest.raises(ValueError, match="share family"):
        ensemble(pop, a, a, rng, cfg)


def test_micro_mutation_moves_only_risk_genes_a_little() -> None:
    pop, rng, cfg = _pool(30)
    idx = np.arange(30)
    child = micro_mutate(pop, idx, idx, rng, cfg)
    others = np.setdiff1d(np.arange(N_GENES), RISK_GENES)
    np.testing.assert_array_equal(child.genes[:, others], pop.genes[:, others])
    step = np.abs(child.genes[:, RISK_GENES] - pop.genes[:, RISK_GENES])
    assert 0 < step.max() < 0.15 and np.all(child.operator == OP.micro_mutate)


def test_operators_are_deterministic_given_the_rng() -> None:
    runs = []
    for _ in range(2):
        pop, rng, cfg = _pool(30, seed=7)
        idx = np.arange(30)
        runs.append(concat([mutate(pop, idx, idx, rng, cfg), micro_mutate(pop, idx, idx, rng, cfg)]))
    for x, y in zip(*runs):
        np.testing.assert_array_equal(x, y)


def test_uid_round_trip_and_range_check() -> None:
    uid = make_uid(7, 123, OP.migrate, 45)
    assert uid_parts(int(uid)) == (7, 123, OP.migrate, 45)
    with pytest.raises(ValueError, match="slot"):
        make_uid(0, 0, 0, 1 << 20)
