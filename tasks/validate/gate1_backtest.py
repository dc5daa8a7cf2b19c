"""Gate 1: the candidate's backtest on the validation window with the fused kernel, its look-ahead check,
and the significance of the whole candidate set.

Per candidate (in a batch): the validation window's metrics, the per-bar returns of the significance
window (the validation window, or validation and replay back to back: data that selected no candidate)
and the truncation test on its own genome. Over the set (once all batches are back): StepM over the
candidates' daily returns against cash (tasks.validate.gate1_significance), which controls the family-wise error over
the M candidates, the only selection ever made on those windows.
"""
from __future__ import annotations

import numpy as np

from kernels.evaluate import Costs
from kernels.lookahead import check_no_lookahead
from kernels.metrics import METRIC_NAMES
from tasks.run.config import ValidationConfig
from tasks.validate.candidate import Candidate, CoinInputs
from tasks.validate.gate1_significance import MIN_DAYS, Significance, daily_returns, superior_candidates

__all__ = ["GATE1_METRICS", "backtest_candidate", "candidate_significance", "lookahead_cuts", "lookahead_leaks",
           "significance_bounds", "significance_returns", "validation_bar_returns", "validation_bounds"]

GATE1_METRICS = ("sharpe", "max_drawdown", "win_rate", "trades", "total_return", "cagr", "sortino",
                 "exposure", "turnover", "fees_paid", "funding_paid")


def validation_bounds(coin: CoinInputs) -> np.ndarray:
    """The window's bars i0..i1-1, trading from the close before it (the position held over bar i0 is
    decided at close i0 - 1)."""
    i0, i1 = coin.validation
    return np.array([i0 - 1, i1 - 1], dtype=np.int64)


def backtest_candidate(candidate: Candidate, coin: CoinInputs, costs: Costs) -> dict[str, float]:
    """The gate1_* metrics of the candidate on the validation window."""
    metrics = candidate.kernel_metrics(coin.market, validation_bounds(coin), costs)[0]
    return {f"gate1_{name}": float(metrics[METRIC_NAMES.index(name)]) for name in GATE1_METRICS}


def validation_bar_returns(candidate: Candidate, coin: CoinInputs, costs: Costs) -> np.ndarray:
    """Per-bar returns of bars i0-1..i1-1 on the validation window, as gate 1's backtest made them."""
    bounds = validation_bounds(coin)
    return candidate.kernel_returns(coin.market, bounds, costs)[bounds[0]:bounds[1] + 1]


def lookahead_cuts(coin: CoinInputs, n_cuts: int) -> np.ndarray:
    """n_cuts bars spread over the validation and replay windows (both ends included)."""
    return np.unique(np.linspace(coin.validation[0] - 1, coin.replay[1] - 1, n_cuts).round().astype(np.int64))


def lookahead_leaks(candidate: Candidate, coin: CoinInputs, n_cuts: int) -> list[int]:
    """Bars t where the candidate's positions computed on bars 0..t differ from those on all bars (the
    truncation test of kernels.lookahead on the candidate's own targets, ensembles included)."""
    return check_no_lookahead(coin.market, candidate.family, candidate.genes, lookahead_cuts(coin, n_cuts),
                              positions_fn=lambda market, _family, _genes, stop: candidate.targets(market, stop))


def significance_bounds(coin: CoinInputs, window: str) -> np.ndarray:
    """Like validation_bounds, through the end of the replay window when `window` is "validation+replay"."""
    i0, i1 = coin.validation
    stop = coin.replay[1] if window == "validation+replay" else i1
    return np.array([i0 - 1, stop - 1], dtype=np.int64)


def significance_returns(candidate: Candidate, coin: CoinInputs, costs: Costs, window: str) -> np.ndarray:
    """Per-bar returns of the bars of the significance window (one backtest over the whole span)."""
    bounds = significance_bounds(coin, window)
    return candidate.kernel_returns(coin.market, bounds, costs)[bounds[0] + 1:bounds[1] + 1]


def candidate_significance(returns: list[np.ndarray], bars_per_day: int, config: ValidationConfig,
                           seed: int) -> Significance | int:
    """StepM over the candidates' significance-window returns (aligned at their ends: coins with gaps may
    differ by a few bars), or the number of whole days when they are fewer than the test needs."""
    length = min(len(r) for r in returns)
    daily = daily_returns(np.column_stack([r[len(r) - length:] for r in returns]), bars_per_day)
    if daily.shape[0] < MIN_DAYS:
        return daily.shape[0]
    return superior_candidates(daily, config.fwer, config.bootstrap_reps, seed)
