"""Variation operators on populations of normalised genes.

Every operator shares one contract (DEAP-style, vectorised)::

    op(pool, idx_a, idx_b, rng, config) -> children

``pool`` is a Population, ``idx_a`` / ``idx_b`` int64[n] rows of the first / second parent
(``idx_b`` is ignored by one-parent operators), ``children`` a Population of n new genomes with
lineage (parents, operator) set, uids still -1 (kernels.ga.population.assign_uids stamps them) and
scores NaN. Genes always come out in [0, 1] (reflected at the bounds, not clipped, so the bounds
are not over-sampled). All randomness comes from ``rng``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from kernels.families import N_FAMILIES
from kernels.ga.population import OP, Population, assign_uids, empty_population
from kernels.genome import FIRST_FAMILY_GENE, GENE_LEVERAGE, GENE_STOP_LOSS, GENE_TAKE_PROFIT, N_FAMILY_GENES, N_GENES

__all__ = [
    "VariationConfig", "Variation", "reflect_unit", "init_population", "mutate", "crossover",
    "micro_mutate", "ensemble", "FAMILY_GENES", "RISK_GENES",
]

RISK_GENES = np.array([GENE_LEVERAGE, GENE_STOP_LOSS, GENE_TAKE_PROFIT], np.int64)
FAMILY_GENES = slice(FIRST_FAMILY_GENE, N_GENES)  # re-drawn when a genome switches family


class VariationConfig(NamedTuple):
    """Operator settings (gene units: genes live in [0, 1])."""
    n_coins: int = 1
    n_families: int = N_FAMILIES
    sigma_init: float = 0.1
    sigma_min: float = 0.005
    sigma_max: float = 0.5
    p_switch_family: float = 0.05   # per mutated child
    p_switch_coin: float = 0.01     # per mutated child
    blend_alpha: float = 0.5        # BLX-alpha spread (Eshelman & Schaffer 1993)
    p_uniform: float = 0.5          # share of crossovers that are uniform rather than blend
    micro_sigma: float = 0.02       # step of micro-mutations on risk genes


Variation = Callable[[Population, np.ndarray, np.ndarray, np.random.Generator, VariationConfig], Population]


def reflect_unit(x: np.ndarray) -> np.ndarray:
    """Fold any real array into [0, 1] by reflecting at 0 and 1 (a triangle wave of period 2)."""
    y = np.mod(x, 2.0)
    return np.where(y > 1.0, 2.0 - y, y)


def _allocate(n: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder split of n items over len(weights) bins proportional to weights."""
    quota = n * weights / weights.sum()
    counts = np.floor(quota).astype(np.int64)
    short = n - counts.sum()
    counts[np.argsort(-(quota - counts), kind="stable")[:short]] += 1
    return counts


def init_population(n: int, *, n_folds: int, rng: np.random.Generator, config: VariationConfig,
                    family_weights: np.ndarray | None = None, island: int = 0) -> Population:
    """n genomes spread over families and coins with Latin-hypercube genes (McKay et al. 1979).

    Families get counts proportional to ``family_weights`` (default uniform; kernels.regimes biases
    them toward the families doing well in the latest regime), coins are dealt round-robin inside
    each family, and each gene column is stratified into n equal bins with one genome per bin.
    Lineage: operator init, no parents, generation 0, uids stamped for ``island``; scores NaN.
    """
    weights = np.ones(config.n_families) if family_weights is None else np.asarray(family_weights, float)
    if weights.shape != (config.n_families,) or not np.all(weights >= 0) or weights.sum() <= 0:
        raise ValueError(f"family_weights={family_weights!r} must be {config.n_families} non-negative "
                         "numbers with a positive sum")
    if config.n_coins < 1:
        raise ValueError(f"n_coins={config.n_coins} must be >= 1")
    pop = empty_population(n, n_folds)
    family = rng.permutation(np.repeat(np.arange(config.n_families), _allocate(n, weights)))
    by_family = np.argsort(family, kind="stable")
    coin = np.empty(n, np.int64)
    coin[by_family] = (np.arange(n) + rng.integers(config.n_coins)) % config.n_coins
    strata = np.argsort(rng.random((N_GENES, n)), axis=1).T  # one permutation per gene column
    genes = (strata + rng.random((n, N_GENES))) / max(n, 1)
    pop.family[:], pop.coin[:], pop.genes[:] = family, coin, genes
    pop.sigma[:] = config.sigma_init
    return assign_uids(pop, island=island, generation=0)


def _children(pool: Population, idx_a: np.ndarray, idx_b: np.ndarray | None, operator: int) -> Population:
    """Copies of the first parents' genotypes with lineage set and scores cleared."""
    idx_a = np.asarray(idx_a, np.int64)
    n = idx_a.size
    out = empty_population(n, pool.profile.shape[1])
    out.coin[:], out.family[:], out.genes[:] = pool.coin[idx_a], pool.family[idx_a], pool.genes[idx_a]
    out.sigma[:], out.family_b[:], out.genes_b[:] = pool.sigma[idx_a], pool.family_b[idx_a], pool.genes_b[idx_a]
    out.parent_a[:] = pool.uid[idx_a]
    if idx_b is not None:
        out.parent_b[:] = pool.uid[np.asarray(idx_b, np.int64)]
    out.operator[:] = operator
    return out


def mutate(pool: Population, idx_a: np.ndarray, idx_b: np.ndarray, rng: np.random.Generator,
           config: VariationConfig) -> Population:
    """Gaussian mutation with log-normal self-adaptive step (Beyer & Schwefel 2002, eq. 13).

    sigma' = clip(sigma * exp(tau * N(0, 1)), sigma_min, sigma_max) with tau = 1 / sqrt(N_GENES),
    genes' = reflect(genes + sigma' * N(0, I)) (both gene vectors of an ensemble). With probability
    p_switch_family the child moves to another family and its family genes are re-drawn;
    with probability p_switch_coin it moves to another coin. Cost O(n * N_GENES).
    """
    child = _children(pool, idx_a, None, OP.mutate)
    n = child.uid.size
    tau = 1.0 / np.sqrt(N_GENES)
    sigma = np.clip(child.sigma * np.exp(tau * rng.standard_normal(n)), config.sigma_min, config.sigma_max)
    genes = reflect_unit(child.genes + sigma[:, None] * rng.standard_normal((n, N_GENES)))
    genes_b = reflect_unit(child.genes_b + sigma[:, None] * rng.standard_normal((n, N_GENES)))
    ordinary = child.family_b < 0
    genes_b[ordinary] = child.genes_b[ordinary]
    family = child.family.copy()
    switch = rng.random(n) < config.p_switch_family
    if config.n_families > 1:
        family[switch] = (family[switch] + rng.integers(1, config.n_families, switch.sum())) % config.n_families
        genes[switch, FAMILY_GENES] = rng.random((switch.sum(), N_FAMILY_GENES))
    coin = child.coin.copy()
    hop = rng.random(n) < config.p_switch_coin
    if config.n_coins > 1:
        coin[hop] = (coin[hop] + rng.integers(1, config.n_coins, hop.sum())) % config.n_coins
    return child._replace(sigma=sigma, genes=genes, genes_b=genes_b, family=family, coin=coin)


def _recombine(a: np.ndarray, b: np.ndarray, uniform: np.ndarray, rng: np.random.Generator,
               alpha: float) -> np.ndarray:
    """Rows: uniform crossover where ``uniform`` else BLX-alpha blend, reflected into [0, 1]."""
    n, g = a.shape
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    spread = alpha * (hi - lo)
    blend = lo - spread + rng.random((n, g)) * (hi - lo + 2.0 * spread)
    pick_a = rng.random((n, g)) < 0.5
    mixed = np.where(pick_a, a, b)
    return reflect_unit(np.where(uniform[:, None], mixed, blend))


def crossover(pool: Population, idx_a: np.ndarray, idx_b: np.ndarray, rng: np.random.Generator,
              config: VariationConfig) -> Population:
    """Within-family crossover: uniform (share p_uniform) or BLX-alpha blend on every gene vector.

    Parents must share (family, family_b); the child keeps parent a's coin and the geometric mean
    of the parents' steps. Cost O(n * N_GENES).
    """
    idx_a, idx_b = np.asarray(idx_a, np.int64), np.asarray(idx_b, np.int64)
    bad = (pool.family[idx_a] != pool.family[idx_b]) | (pool.family_b[idx_a] != pool.family_b[idx_b])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"crossover parents idx_a={idx_a[i]}, idx_b={idx_b[i]} have different families; "
                         "cross families with ensemble")
    child = _children(pool, idx_a, idx_b, OP.crossover)
    uniform = rng.random(idx_a.size) < config.p_uniform
    genes = _recombine(pool.genes[idx_a], pool.genes[idx_b], uniform, rng, config.blend_alpha)
    genes_b = _recombine(pool.genes_b[idx_a], pool.genes_b[idx_b], uniform, rng, config.blend_alpha)
    sigma = np.sqrt(pool.sigma[idx_a] * pool.sigma[idx_b])
    return child._replace(genes=genes, genes_b=genes_b, sigma=sigma)


def ensemble(pool: Population, idx_a: np.ndarray, idx_b: np.ndarray, rng: np.random.Generator,
             config: VariationConfig) -> Population:
    """Across-family child whose position is the average of both parents' (primary) strategies.

    The child trades parent a's coin; member a = (family_a, genes_a), member b = (family_b := parent
    b's family, genes_b := parent b's genes); an ensemble parent contributes its first member only.
    Parents must have different families. ``rng`` and
    ``config`` are unused (the operator is deterministic) but kept for the shared contract.
    """
    idx_a, idx_b = np.asarray(idx_a, np.int64), np.asarray(idx_b, np.int64)
    same = pool.family[idx_a] == pool.family[idx_b]
    if same.any():
        i = int(np.flatnonzero(same)[0])
        raise ValueError(f"ensemble parents idx_a={idx_a[i]}, idx_b={idx_b[i]} share family "
                         f"{int(pool.family[idx_a[i]])}; use crossover within a family")
    child = _children(pool, idx_a, idx_b, OP.ensemble)
    sigma = 0.5 * (pool.sigma[idx_a] + pool.sigma[idx_b])
    return child._replace(family_b=pool.family[idx_b].copy(), genes_b=pool.genes[idx_b].copy(), sigma=sigma)


def micro_mutate(pool: Population, idx_a: np.ndarray, idx_b: np.ndarray, rng: np.random.Generator,
                 config: VariationConfig) -> Population:
    """Tiny Gaussian steps (micro_sigma) on the risk genes only: leverage, stop loss, take profit."""
    child = _children(pool, idx_a, None, OP.micro_mutate)
    n, k = child.uid.size, RISK_GENES.size
    genes, genes_b = child.genes.copy(), child.genes_b.copy()
    genes[:, RISK_GENES] = reflect_unit(genes[:, RISK_GENES] + config.micro_sigma * rng.standard_normal((n, k)))
    step_b = reflect_unit(genes_b[:, RISK_GENES] + config.micro_sigma * rng.standard_normal((n, k)))
    ensembles = child.family_b >= 0
    genes_b[np.ix_(ensembles, RISK_GENES)] = step_b[ensembles]
    return child._replace(genes=genes, genes_b=genes_b)
