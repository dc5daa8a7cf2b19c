"""What the GA may see: each coin's bars cut at the end of the train window, and its walk-forward folds.

Built once per run and shipped to the workers once (on Ray: one object in the object store). Every
later bar is dropped here, before anything is evaluated, so no evaluation can read past the train window.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernels.evaluate import Costs, Market
from kernels.ga.fitness import M_PENALTY
from kernels.ga.population import Population
from kernels.metrics import METRIC_NAMES
from tasks.evolve.evaluation import evaluate_genomes, kernel_costs, kernel_market
from tasks.evolve.feedback import PaperFeedback, relatives_penalty
from tasks.market.source import MarketData
from tasks.market.windows import RunWindows, bar_range, fold_bounds
from tasks.orchestration.retry_policy import Policy, retry_policy
from tasks.run.config import RunConfig

__all__ = ["WARMUP_BARS", "TrainInputs", "fold_metrics", "prepare_train_inputs"]

# Fitness (Sharpe units) taken from a retired strategy's twin; its relatives lose less (tasks.evolve.feedback).
FEEDBACK_WEIGHT = 2.0
# Bars of indicator history before the first scored fold (the slowest families look back ~300 bars).
WARMUP_BARS = 300


class TrainInputs(NamedTuple):
    """Per coin (in the run's coin order): the kernel market cut at the end of the train window and its
    walk-forward fold bounds (int64[K+1] bar indices, kernels.simulate)."""
    coins: tuple[str, ...]
    markets: tuple[Market, ...]
    folds: tuple[np.ndarray, ...]
    costs: Costs
    feedback: PaperFeedback | None = None  # paper results; relatives of retired strategies are penalised

    @property
    def n_folds(self) -> int:
        return len(self.folds[0]) - 1


@retry_policy(Policy("ray", retries=2, timeout_s=900))
def prepare_train_inputs(market: MarketData, windows: RunWindows, config: RunConfig,
                         feedback: PaperFeedback | None = None) -> TrainInputs:
    markets, folds = [], []
    for coin in market.coins:
        i0, i1 = bar_range(coin.candles, windows.train)
        markets.append(kernel_market(coin, market.interval, stop=i1))
        folds.append(fold_bounds(i0, i1, config.windows.folds, WARMUP_BARS))
    return TrainInputs(tuple(c.coin for c in market.coins), tuple(markets), tuple(folds),
                       kernel_costs(config.costs), feedback)


def fold_metrics(inputs: TrainInputs, pop: Population) -> np.ndarray:
    """Walk-forward metrics float64[S, K, N_METRICS] of a population, coin by coin, plus the feedback
    penalty column (kernels.ga.fitness.M_PENALTY) when paper trading has retired strategies."""
    penalised = inputs.feedback is not None and not inputs.feedback.retired.empty
    out = np.empty((pop.uid.size, inputs.n_folds, len(METRIC_NAMES) + int(penalised)))
    for c, (kmarket, bounds) in enumerate(zip(inputs.markets, inputs.folds)):
        rows = np.flatnonzero(pop.coin == c)
        if rows.size:
            out[rows, :, :len(METRIC_NAMES)] = evaluate_genomes(
                kmarket, pop.family[rows], pop.genes[rows], bounds, inputs.costs, pop.family_b[rows], pop.genes_b[rows])
    if penalised:
        coins = [inputs.coins[c] for c in pop.coin]
        penalty = relatives_penalty(inputs.feedback, coins, pop.family, pop.genes)
        out[:, :, M_PENALTY] = FEEDBACK_WEIGHT * penalty[:, None]
    return out
