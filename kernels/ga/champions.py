"""Champions: genomes beating the current staged CAGR target, and their breeding partners.

A champion is feasible, has a CAGR over its folds (``Population.cagr``) >= ``cagr_targets[stage]`` and
mean fold Sharpe > ``min_sharpe``. The stage rises (15 % -> 20 % -> 25 % by default) once a
``stage_quorum`` share of the population meets the current target. Champions get micro-mutations on
their risk genes and ensemble children with archive members that have a high Sharpe but returns weakly
correlated with theirs.

Correlation proxy: the Pearson correlation of two genomes' per-fold total returns
(``Population.profile``, K values each). It needs no per-bar S x N returns, only the fold metrics
already computed; with K ~ 4-8 folds it is coarse, but it separates strategies that win and lose
in the same periods from those that do not. Profiles with zero variance count as uncorrelated.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernels.ga.population import Population

__all__ = ["ChampionConfig", "stage_target", "champion_mask", "next_stage", "profile_correlation",
           "pick_partners"]


class ChampionConfig(NamedTuple):
    """Champion rules (CAGR as fractions per year: 0.15 = 15 %; Sharpe annualised)."""
    cagr_targets: tuple[float, ...] = (0.15, 0.20, 0.25)
    min_sharpe: float = 0.9
    stage_quorum: float = 0.1       # share of the population at the target that raises the stage
    micro_share: float = 0.1        # share of each generation's offspring that micro-mutates champions
    ensemble_share: float = 0.1     # share of offspring that are champion x archive-partner ensembles
    partner_min_sharpe: float = 0.5
    partner_max_corr: float = 0.3


def stage_target(stage: int, config: ChampionConfig) -> float:
    """CAGR target of ``stage`` (0-based)."""
    if not 0 <= stage < len(config.cagr_targets):
        raise ValueError(f"stage={stage} outside [0, {len(config.cagr_targets)})")
    return config.cagr_targets[stage]


def champion_mask(pop: Population, stage: int, config: ChampionConfig) -> np.ndarray:
    """bool[P]: feasible genomes beating the stage's CAGR target with Sharpe above min_sharpe."""
    with np.errstate(invalid="ignore"):
        return ((pop.violation == 0.0) & (pop.cagr >= stage_target(stage, config))
                & (pop.sharpe > config.min_sharpe))


def next_stage(pop: Population, stage: int, config: ChampionConfig) -> int:
    """The stage after this generation: raised while a quorum of pop meets the current target."""
    while stage + 1 < len(config.cagr_targets):
        with np.errstate(invalid="ignore"):
            reached = (pop.violation == 0.0) & (pop.cagr >= stage_target(stage, config))
        if reached.size == 0 or reached.mean() < config.stage_quorum:
            break
        stage += 1
    return stage


def profile_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of a[n, K] with every row of b[m, K] -> float64[n, m].

    Rows with zero variance (or non-finite values) give 0. O(n m K).
    """
    def _standardise(x: np.ndarray) -> np.ndarray:
        x = np.nan_to_num(np.asarray(x, dtype=np.float64))
        x = x - x.mean(axis=1, keepdims=True)
        norm = np.sqrt((x * x).sum(axis=1, keepdims=True))
        return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    return _standardise(a) @ _standardise(b).T


def pick_partners(champions: Population, candidates: Population, config: ChampionConfig) -> np.ndarray:
    """For each champion, the candidate row to ensemble with, or -1 when none qualifies.

    Eligible: feasible, another family, Sharpe >= partner_min_sharpe. Among them prefer those with
    fold-return correlation <= partner_max_corr, picking the highest Sharpe; if none is that
    uncorrelated, take the least correlated one. Deterministic (ties: lowest row).
    """
    n = champions.uid.size
    out = np.full(n, -1, np.int64)
    if n == 0 or candidates.uid.size == 0:
        return out
    corr = profile_correlation(champions.profile, candidates.profile)
    with np.errstate(invalid="ignore"):
        eligible = (candidates.violation == 0.0) & (candidates.sharpe >= config.partner_min_sharpe)
    for i in range(n):
        ok = np.flatnonzero(eligible & (candidates.family != champions.family[i]))
        if ok.size == 0:
            continue
        low = ok[corr[i, ok] <= config.partner_max_corr]
        out[i] = low[np.argmax(candidates.sharpe[low])] if low.size else ok[np.argmin(corr[i, ok])]
    return out
