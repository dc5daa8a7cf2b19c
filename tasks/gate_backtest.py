"""Gate 1: the candidate's backtest on the validation window with the fused kernel, its look-ahead check,
and the multiple-testing statistics over the whole candidate set.

Per candidate (in a batch): the window's metrics and per-bar returns, and the truncation test on its own
genome. Over the set (once all batches are back): the Deflated Sharpe Ratio of each candidate with the
number of trials the evolution made, plain and discounted to an effective number by clustering the
candidates' validation returns, and the Probability of Backtest Overfitting of choosing among them.

DSR inputs (kernels.stats; per-bar Sharpe ratios): T = bars of the window; the variance of the trials'
Sharpe ratios V = max((1.4826 x MAD)², 1 / (T - 1)), the MAD (median absolute deviation) taken over the
candidates' Sharpe ratios. The paper uses the trials' sample variance; its robust version keeps a few
candidates unlike the rest (a real outlier, a strategy that never trades) from setting everyone's bar.
The floor is the sampling variance of a skill-less strategy's Sharpe over T bars (Lo 2002): candidates
that are near-copies of each other would otherwise claim that the evolution's trials hardly varied.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernels.evaluate import Costs
from kernels.lookahead import check_no_lookahead
from kernels.metrics import METRIC_NAMES
from kernels.stats import deflated_sharpe_nb, effective_trials, pbo_cscv, sharpe_moments_1d_nb
from tasks.candidate import Candidate, CoinInputs
from tasks.config import ValidationConfig

__all__ = ["GATE1_METRICS", "MultipleTesting", "backtest_candidate", "lookahead_cuts", "lookahead_leaks",
           "multiple_testing", "validation_bounds"]

GATE1_METRICS = ("sharpe", "max_drawdown", "win_rate", "trades", "total_return", "cagr", "sortino",
                 "exposure", "turnover", "fees_paid", "funding_paid")


def validation_bounds(coin: CoinInputs) -> np.ndarray:
    """The window's bars i0..i1-1, trading from the close before it (the position held over bar i0 is
    decided at close i0 - 1)."""
    i0, i1 = coin.validation
    return np.array([i0 - 1, i1 - 1], dtype=np.int64)


def backtest_candidate(candidate: Candidate, coin: CoinInputs, costs: Costs) -> tuple[dict[str, float], np.ndarray]:
    """(gate1_* metrics, per-bar returns of bars i0-1..i1-1) on the validation window."""
    bounds = validation_bounds(coin)
    metrics = candidate.kernel_metrics(coin.market, bounds, costs)[0]
    per_bar = candidate.kernel_returns(coin.market, bounds, costs)[bounds[0]:bounds[1] + 1]
    values = {f"gate1_{name}": float(metrics[METRIC_NAMES.index(name)]) for name in GATE1_METRICS}
    return values, per_bar


def lookahead_cuts(coin: CoinInputs, n_cuts: int) -> np.ndarray:
    """n_cuts bars spread over the validation and replay windows (both ends included)."""
    return np.unique(np.linspace(coin.validation[0] - 1, coin.replay[1] - 1, n_cuts).round().astype(np.int64))


def lookahead_leaks(candidate: Candidate, coin: CoinInputs, n_cuts: int) -> list[int]:
    """Bars t where the candidate's positions computed on bars 0..t differ from those on all bars (the
    truncation test of kernels.lookahead on the candidate's own targets, ensembles included)."""
    return check_no_lookahead(coin.market, candidate.family, candidate.genes, lookahead_cuts(coin, n_cuts),
                              positions_fn=lambda market, _family, _genes, stop: candidate.targets(market, stop))


class MultipleTesting(NamedTuple):
    """Statistics over the candidate set (per-bar Sharpe units; see the module docstring)."""

    dsr: np.ndarray            # float64[M] with the effective number of trials (the gate's criterion)
    dsr_all_trials: np.ndarray  # float64[M] with every trial the evolution made
    n_trials: int
    n_effective: float
    clusters: int
    sr_variance: float         # V, per-bar Sharpe units
    pbo: float | None          # None with fewer than 2 candidates or too few bars
    pbo_splits: int


def multiple_testing(returns: np.ndarray, n_trials: int, config: ValidationConfig) -> MultipleTesting:
    """DSR per candidate and PBO over the set from the candidates' validation returns[T, M]."""
    t, m = returns.shape
    moments = np.array([sharpe_moments_1d_nb(np.ascontiguousarray(returns[:, j])) for j in range(m)]).reshape(m, 3)
    sr = moments[:, 0]
    variance = max((1.4826 * float(np.median(np.abs(sr - np.median(sr))))) ** 2, 1.0 / (t - 1))
    n_trials = max(int(n_trials), m)
    n_eff, clusters = effective_trials(n_trials, returns, config.cluster_distance)
    dsr = np.array([deflated_sharpe_nb(s, t, g3, g4, n_eff, variance) for s, g3, g4 in moments])
    dsr_all = np.array([deflated_sharpe_nb(s, t, g3, g4, float(n_trials), variance) for s, g3, g4 in moments])
    pbo = None
    if m >= 2 and t >= 2 * config.pbo_splits:
        pbo = pbo_cscv(returns, config.pbo_splits).pbo
    return MultipleTesting(dsr, dsr_all, n_trials, n_eff, clusters, variance, pbo, config.pbo_splits)

