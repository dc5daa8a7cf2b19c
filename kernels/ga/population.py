"""The population: one NamedTuple of aligned per-genome arrays (genotype, lineage, scores).

Row i of every field describes genome i. Genotype fields are set by the variation operators
(kernels.ga.operators); score fields are NaN until the genome is evaluated (kernels.ga.fitness.score).

A genome with ``family_b == -1`` is ordinary: (coin, family, genes). Otherwise it is an ensemble
whose target position is the average of the positions of (family, genes) and (family_b, genes_b),
both on ``coin``; ``genes_b`` is ignored (and kept 0.5) for ordinary genomes.

uids are deterministic and unique within a run without any shared counter (islands run on separate
workers): ``uid = island << 43 | generation << 23 | operator << 20 | slot``, with slot the genome's
index among the genomes its island created in that generation with that operator.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernels.genome import N_GENES

__all__ = [
    "N_OBJECTIVES", "N_DESCRIPTORS", "OPERATORS", "Op", "OP", "Population", "make_uid", "uid_parts",
    "empty_population", "take", "put", "concat", "is_evaluated", "assign_uids",
]

N_OBJECTIVES = 3   # walk-forward fitness (negated), max drawdown, turnover — all minimised
N_DESCRIPTORS = 3  # trade frequency, holding time, long/short bias — each in [0, 1]

OPERATORS = ("init", "mutate", "crossover", "micro_mutate", "ensemble", "migrate")


class Op(NamedTuple):
    """Operator codes stored in ``Population.operator`` (index into OPERATORS)."""
    init: int = 0
    mutate: int = 1
    crossover: int = 2
    micro_mutate: int = 3
    ensemble: int = 4
    migrate: int = 5


OP = Op()

_SLOT_BITS, _OP_BITS, _GEN_BITS, _ISLAND_BITS = 20, 3, 20, 12


class Population(NamedTuple):
    """P genomes as aligned arrays; see the module docstring for ensembles and uids.

    Scores (NaN before evaluation): ``fitness`` walk-forward fitness (Sharpe units, higher better),
    ``violation`` >= 0 constraint violation (0 = feasible: enough trades, finite metrics),
    ``objectives[P, N_OBJECTIVES]`` minimised by NSGA-II, ``sharpe`` mean over folds and ``cagr`` over the
    folds back to back (fitness.cagr_over_folds; fractions, 0.15 = 15 %), ``descriptors[P, N_DESCRIPTORS]``
    behaviour in [0, 1], ``profile[P, K]`` total return per walk-forward fold (a cheap returns fingerprint).
    """
    uid: np.ndarray          # int64[P]
    coin: np.ndarray         # int64[P] index into the run's coins
    family: np.ndarray       # int64[P] 0..N_FAMILIES-1
    genes: np.ndarray        # float64[P, N_GENES] in [0, 1]
    sigma: np.ndarray        # float64[P] self-adaptive mutation step (gene units)
    family_b: np.ndarray     # int64[P] -1 = ordinary genome
    genes_b: np.ndarray      # float64[P, N_GENES]
    parent_a: np.ndarray     # int64[P] uid or -1
    parent_b: np.ndarray     # int64[P] uid or -1
    operator: np.ndarray     # int64[P] index into OPERATORS
    generation: np.ndarray   # int64[P] generation the genome was created in (init = 0)
    island: np.ndarray       # int64[P] island that created it
    fitness: np.ndarray      # float64[P]
    violation: np.ndarray    # float64[P]
    objectives: np.ndarray   # float64[P, N_OBJECTIVES]
    sharpe: np.ndarray       # float64[P]
    cagr: np.ndarray         # float64[P]
    descriptors: np.ndarray  # float64[P, N_DESCRIPTORS]
    profile: np.ndarray      # float64[P, K]


def make_uid(island: np.ndarray | int, generation: np.ndarray | int, operator: np.ndarray | int,
             slot: np.ndarray | int) -> np.ndarray:
    """Pack (island < 4096, generation < 2**20, operator < 8, slot < 2**20) into int64 uids."""
    island, generation = np.asarray(island, np.int64), np.asarray(generation, np.int64)
    operator, slot = np.asarray(operator, np.int64), np.asarray(slot, np.int64)
    for name, value, bits in (("island", island, _ISLAND_BITS), ("generation", generation, _GEN_BITS),
                              ("operator", operator, _OP_BITS), ("slot", slot, _SLOT_BITS)):
        if value.size and (value.min() < 0 or value.max() >= 1 << bits):
            raise ValueError(f"{name}={int(value.max())} outside [0, {1 << bits}) for a uid")
    return (((island << _GEN_BITS | generation) << _OP_BITS | operator) << _SLOT_BITS | slot).astype(np.int64)


def uid_parts(uid: int) -> tuple[int, int, int, int]:
    """(island, generation, operator, slot) of a uid made by make_uid."""
    uid = int(uid)
    slot = uid & ((1 << _SLOT_BITS) - 1)
    operator = (uid >> _SLOT_BITS) & ((1 << _OP_BITS) - 1)
    generation = (uid >> (_SLOT_BITS + _OP_BITS)) & ((1 << _GEN_BITS) - 1)
    return uid >> (_SLOT_BITS + _OP_BITS + _GEN_BITS), generation, operator, slot


def empty_population(n: int, n_folds: int) -> Population:
    """n unevaluated genomes with neutral genotype (mid genes) and no lineage; operators fill them."""
    if n < 0 or n_folds < 1:
        raise ValueError(f"n={n} must be >= 0 and n_folds={n_folds} >= 1")
    minus = np.full(n, -1, np.int64)
    nan = np.full(n, np.nan)
    return Population(
        uid=minus.copy(), coin=np.zeros(n, np.int64), family=np.zeros(n, np.int64),
        genes=np.full((n, N_GENES), 0.5), sigma=np.full(n, 0.1), family_b=minus.copy(),
        genes_b=np.full((n, N_GENES), 0.5), parent_a=minus.copy(), parent_b=minus.copy(),
        operator=np.zeros(n, np.int64), generation=np.zeros(n, np.int64), island=np.zeros(n, np.int64),
        fitness=nan.copy(), violation=nan.copy(), objectives=np.full((n, N_OBJECTIVES), np.nan),
        sharpe=nan.copy(), cagr=nan.copy(), descriptors=np.full((n, N_DESCRIPTORS), np.nan),
        profile=np.full((n, n_folds), np.nan),
    )


def take(pop: Population, idx: np.ndarray) -> Population:
    """Rows ``idx`` of every field (copies)."""
    idx = np.asarray(idx, np.int64)
    return Population(*(field[idx] for field in pop))


def put(pop: Population, rows: np.ndarray, new: Population) -> Population:
    """pop with ``rows`` replaced by the rows of ``new`` (copies)."""
    fields = []
    for old_field, new_field in zip(pop, new):
        field = old_field.copy()
        field[rows] = new_field
        fields.append(field)
    return Population(*fields)


def concat(pops: list[Population]) -> Population:
    """Stack populations row-wise; all must share the fold count K."""
    if not pops:
        raise ValueError("pops=[] is empty; concat needs at least one population")
    widths = {p.profile.shape[1] for p in pops}
    if len(widths) > 1:
        raise ValueError(f"profile widths {sorted(widths)} differ; all populations need the same fold count")
    return Population(*(np.concatenate(fields) for fields in zip(*pops)))


def is_evaluated(pop: Population) -> np.ndarray:
    """bool[P]: genomes whose scores are set."""
    return ~np.isnan(pop.fitness)


def assign_uids(children: Population, *, island: int, generation: int) -> Population:
    """Stamp ``island``, ``generation`` and fresh uids on a batch of genomes created together.

    Call once per (island, generation) with every genome created there: slots count per operator
    in row order, so uids are unique and reproducible.
    """
    slot = np.zeros(len(children.uid), np.int64)
    for op in np.unique(children.operator):
        rows = np.flatnonzero(children.operator == op)
        slot[rows] = np.arange(rows.size)
    n = len(children.uid)
    island_col, generation_col = np.full(n, island, np.int64), np.full(n, generation, np.int64)
    uid = make_uid(island_col, generation_col, children.operator, slot)
    return children._replace(uid=uid, island=island_col, generation=generation_col)
