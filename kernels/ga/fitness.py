"""Walk-forward fitness, NSGA-II objectives and behaviour descriptors from per-fold metrics.

Input everywhere: ``metrics[S, K, M]``, genome s's metrics on walk-forward fold k (the columns of
kernels.metrics.METRIC_NAMES, optionally followed by one M_PENALTY column: an outside penalty in
fitness units, e.g. for resembling a strategy that paper trading retired). Nothing here sees a price.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernels.ga.population import N_DESCRIPTORS, N_OBJECTIVES, Population
from kernels.genome import GENE_DIRECTION, LONG_SHORT_FROM
from kernels.metrics import (M_CAGR, M_EXPOSURE, M_MAX_DRAWDOWN, M_SHARPE, M_TOTAL_RETURN, M_TRADES, M_TURNOVER,
                             N_METRICS)

__all__ = ["M_PENALTY", "FitnessConfig", "fitness_from_folds", "violation_from_folds", "objectives_from_folds",
           "descriptors_from_folds", "cagr_over_folds", "score"]

M_PENALTY = N_METRICS  # optional trailing column, subtracted from fitness
_WORST = 1e9  # stands in for non-finite objectives so that sorting stays total


class FitnessConfig(NamedTuple):
    """Walk-forward fitness settings (Sharpe units unless stated)."""
    dispersion_penalty: float = 0.5  # per unit of the fold Sharpe standard deviation
    turnover_penalty: float = 0.0002  # per unit of mean fold turnover (traded notional / equity per year)
    min_trades: float = 3.0          # mean closed trades per fold below which a genome is infeasible
    trade_penalty: float = 5.0       # subtracted (times 1 + shortfall share) below min_trades
    invalid_fitness: float = -100.0  # genomes with non-finite fold metrics
    max_trades: float = 1000.0       # trades per fold at the top of the trade-frequency descriptor
    min_hold: float = 1e-4           # holding time (share of a fold) at the bottom of its descriptor


def _check(metrics: np.ndarray) -> np.ndarray:
    metrics = np.asarray(metrics, dtype=np.float64)
    if metrics.ndim != 3 or metrics.shape[1] < 1 or metrics.shape[2] < N_METRICS:
        raise ValueError(f"metrics shape {metrics.shape} must be (S, K >= 1, M >= {N_METRICS})")
    return metrics


def _trade_shortfall(metrics: np.ndarray, config: FitnessConfig) -> np.ndarray:
    """Share in [0, 1] by which the mean fold trade count falls short of min_trades."""
    if config.min_trades <= 0:
        return np.zeros(metrics.shape[0])
    trades = np.nan_to_num(metrics[:, :, M_TRADES].mean(axis=1))
    return np.clip((config.min_trades - trades) / config.min_trades, 0.0, 1.0)


def fitness_from_folds(metrics: np.ndarray, config: FitnessConfig) -> np.ndarray:
    """float64[S] walk-forward fitness (higher is better).

    fitness = mean_k sharpe - dispersion_penalty * std_k sharpe - turnover_penalty * mean_k turnover
    - mean_k penalty (when the M_PENALTY column is there), minus trade_penalty * (1 + shortfall) for genomes
    trading less than min_trades per fold (so they rank below any genome that trades enough, yet still in
    order of how close they are); non-finite fold metrics give invalid_fitness.
    """
    metrics = _check(metrics)
    sharpe = metrics[:, :, M_SHARPE]
    fitness = (sharpe.mean(axis=1) - config.dispersion_penalty * sharpe.std(axis=1)
               - config.turnover_penalty * metrics[:, :, M_TURNOVER].mean(axis=1))
    if metrics.shape[2] > M_PENALTY:
        fitness = fitness - metrics[:, :, M_PENALTY].mean(axis=1)
    shortfall = _trade_shortfall(metrics, config)
    fitness = np.where(shortfall > 0, fitness - config.trade_penalty * (1.0 + shortfall), fitness)
    return np.where(np.isfinite(fitness), fitness, config.invalid_fitness)


def violation_from_folds(metrics: np.ndarray, config: FitnessConfig) -> np.ndarray:
    """float64[S] NSGA-II constraint violation: trade shortfall share in [0, 1], 2.0 if metrics are non-finite."""
    metrics = _check(metrics)
    used = metrics[:, :, [M_SHARPE, M_TURNOVER, M_MAX_DRAWDOWN, M_TRADES]]
    finite = np.isfinite(used).all(axis=(1, 2))
    return np.where(finite, _trade_shortfall(metrics, config), 2.0)


def objectives_from_folds(metrics: np.ndarray, config: FitnessConfig) -> np.ndarray:
    """float64[S, 3] minimised objectives: -fitness, worst fold max drawdown, mean fold turnover."""
    metrics = _check(metrics)
    obj = np.empty((metrics.shape[0], N_OBJECTIVES))
    obj[:, 0] = -fitness_from_folds(metrics, config)
    obj[:, 1] = metrics[:, :, M_MAX_DRAWDOWN].max(axis=1)
    obj[:, 2] = metrics[:, :, M_TURNOVER].mean(axis=1)
    return np.nan_to_num(obj, nan=_WORST, posinf=_WORST, neginf=-_WORST)


def descriptors_from_folds(metrics: np.ndarray, genes: np.ndarray, family_b: np.ndarray,
                           genes_b: np.ndarray, config: FitnessConfig) -> np.ndarray:
    """float64[S, 3] behaviour descriptors in [0, 1] for the MAP-Elites grid.

    0 trade frequency: log1p(mean trades per fold) / log1p(max_trades).
    1 holding time: log-scaled mean exposure / mean trades (share of a fold per trade) from
      min_hold (0) to a whole fold (1).
    2 long bias: share of the strategy's members that are long-only (direction gene), so 0 =
      long-short, 1 = long-only, 0.5 = an ensemble of one of each. The fold metrics carry no net
      exposure, so this is the genotype's declared bias, not a measured one.
    """
    metrics = _check(metrics)
    trades = np.nan_to_num(metrics[:, :, M_TRADES].mean(axis=1))
    exposure = np.nan_to_num(metrics[:, :, M_EXPOSURE].mean(axis=1))
    out = np.empty((metrics.shape[0], N_DESCRIPTORS))
    out[:, 0] = np.log1p(np.maximum(trades, 0.0)) / np.log1p(config.max_trades)
    hold = np.maximum(exposure / np.maximum(trades, 1.0), config.min_hold)
    out[:, 1] = 1.0 - np.log(hold) / np.log(config.min_hold)
    long_a = genes[:, GENE_DIRECTION] < LONG_SHORT_FROM
    long_b = genes_b[:, GENE_DIRECTION] < LONG_SHORT_FROM
    out[:, 2] = np.where(family_b >= 0, 0.5 * (long_a + long_b), long_a)
    return np.clip(out, 0.0, 1.0)


def cagr_over_folds(metrics: np.ndarray) -> np.ndarray:
    """float64[S]: the CAGR of the folds traded back to back, the geometric mean of (1 + fold CAGR) minus 1
    (exact for folds of equal length, as tasks.market.windows.fold_bounds cuts them, to a bar). An arithmetic
    mean of fold CAGRs would let one short fold's annualised spike stand for the whole walk-forward:
    folds of a month returning +30 % and -20 % annualise to ~2,230 % and -93 %, a mean of ~1,070 % a
    year; back to back they made 4 % in two months, ~27 % a year. A ruined fold (CAGR -1) makes it -1."""
    with np.errstate(divide="ignore"):
        return np.expm1(np.log1p(metrics[:, :, M_CAGR]).mean(axis=1))


def score(pop: Population, metrics: np.ndarray, config: FitnessConfig) -> Population:
    """pop with every score field set from its fold metrics[S, K, M] (S = len(pop), K = its fold count)."""
    metrics = _check(metrics)
    if metrics.shape[:2] != pop.profile.shape:
        raise ValueError(f"metrics shape {metrics.shape} does not match {pop.profile.shape[0]} genomes "
                         f"x {pop.profile.shape[1]} folds")
    return pop._replace(
        fitness=fitness_from_folds(metrics, config),
        violation=violation_from_folds(metrics, config),
        objectives=objectives_from_folds(metrics, config),
        sharpe=metrics[:, :, M_SHARPE].mean(axis=1),
        cagr=cagr_over_folds(metrics),
        descriptors=descriptors_from_folds(metrics, pop.genes, pop.family_b, pop.genes_b, config),
        profile=metrics[:, :, M_TOTAL_RETURN].copy(),
    )
