"""Market regimes in the evolve stage: a pilot sample biases the initial family mix toward the families
that do well in the latest regime, and the best genomes are scored per regime for the report.

Each coin's train bars are labelled with kernels.regimes (trend / range x high / low volatility, from
causal indicators). A genome's per-regime fitness is the annualised Sharpe of its per-bar returns on
the scored walk-forward bars (bounds[0], bounds[-1]], split by the regime known when each position was
taken. The pilot evaluates ``pilot_per_family`` Latin-hypercube genomes per family and coin (112 for
one coin, ~1 % of the default run's evaluations); its genomes are not candidates and are not logged
in evolved.parquet.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernels.evaluate import returns
from kernels.families import FAMILY_NAMES, N_FAMILIES
from kernels.ga.operators import VariationConfig, init_population
from kernels.ga.population import Population
from kernels.regimes import (N_REGIMES, REGIME_NAMES, family_weights, label_regimes_1d_nb, recent_regime,
                             regime_sharpe_nb)
from tasks.evolve.train_inputs import TrainInputs
from tasks.orchestration.retry_policy import Policy, retry_policy

__all__ = ["RegimeSettings", "RegimePilot", "regime_pilot", "regime_scores", "train_labels"]


class RegimeSettings(NamedTuple):
    """Regime labelling (bars of the run's interval) and how strongly the pilot biases initialisation."""
    trend_window: int = 48          # efficiency-ratio window
    vol_window: int = 24            # realised-volatility window
    baseline_window: int = 600      # volatility baseline window
    trend_threshold: float = 0.3    # efficiency ratio from which a bar is trending
    recent_bars: int = 720          # the latest regime: most frequent label over the train window's last bars
    pilot_per_family: int = 8       # pilot genomes per family and coin
    temperature: float = 1.0        # softmax temperature over pilot Sharpe (kernels.regimes.family_weights)
    floor: float = 0.5              # share of the initial population spread uniformly over the families


class RegimePilot(NamedTuple):
    """The pilot's outcome: initial family shares and what they were based on."""
    weights: np.ndarray        # float64[N_FAMILIES], sums to 1
    recent: tuple[int, ...]    # per coin: the latest regime's code, -1 when no bar is labelled
    shares: np.ndarray         # float64[n_coins, N_REGIMES]: share of the scored train bars in each regime
    evaluations: int

    def describe(self, coins: tuple[str, ...]) -> dict:
        """JSON-ready summary: regime shares and latest regime per coin, family weights."""
        return {
            "train_regime_share": {c: {r: round(float(s), 4) for r, s in zip(REGIME_NAMES, row)}
                                   for c, row in zip(coins, self.shares)},
            "latest_regime": {c: REGIME_NAMES[r] if r >= 0 else None for c, r in zip(coins, self.recent)},
            "family_weights": {f: round(float(w), 4) for f, w in zip(FAMILY_NAMES, self.weights)},
            "pilot_evaluations": self.evaluations,
        }


def train_labels(inputs: TrainInputs, settings: RegimeSettings) -> tuple[np.ndarray, ...]:
    """Regime code of every train bar per coin (int64[N], -1 during warm-up)."""
    out = []
    for market in inputs.markets:
        labels = np.empty(len(market.close), np.int64)
        label_regimes_1d_nb(np.ascontiguousarray(market.close, dtype=np.float64), settings.trend_window,
                            settings.vol_window, settings.baseline_window, settings.trend_threshold, labels)
        out.append(labels)
    return tuple(out)


@retry_policy(Policy("ray", retries=2, timeout_s=900))
def regime_scores(inputs: TrainInputs, settings: RegimeSettings, pop: Population) -> np.ndarray:
    """float64[S, N_REGIMES]: each genome's per-regime Sharpe on its coin's train bars (labelled here)."""
    return _regime_sharpe(inputs, train_labels(inputs, settings), pop)


def _regime_sharpe(inputs: TrainInputs, labels: tuple[np.ndarray, ...], pop: Population) -> np.ndarray:
    """float64[S, N_REGIMES]: each genome's annualised Sharpe per regime over its coin's scored train bars.

    0 where a regime has fewer than 2 bars (kernels.regimes.regime_sharpe_1d_nb). S x N memory: a few
    hundred genomes at a time.
    """
    out = np.zeros((pop.uid.size, N_REGIMES))
    for c, (market, bounds) in enumerate(zip(inputs.markets, inputs.folds)):
        rows = np.flatnonzero(pop.coin == c)
        if rows.size == 0:
            continue
        r = returns(market, pop.family[rows], pop.genes[rows], bounds, inputs.costs,
                    families_b=pop.family_b[rows], genes_b=pop.genes_b[rows])
        scored = slice(int(bounds[0]), int(bounds[-1]) + 1)
        out[rows] = regime_sharpe_nb(r[:, scored], labels[c][scored], float(market.bars_per_year))
    return out


@retry_policy(Policy("ray", retries=2, timeout_s=900))
def regime_pilot(inputs: TrainInputs, settings: RegimeSettings, rng: np.random.Generator) -> RegimePilot:
    """Label the train bars, score a small family-balanced sample per regime, weight families by the
    latest regime (per coin, then averaged over coins)."""
    labels = train_labels(inputs, settings)
    n = settings.pilot_per_family * N_FAMILIES
    weights, recent, shares = np.zeros(N_FAMILIES), [], np.zeros((len(inputs.markets), N_REGIMES))
    for c, bounds in enumerate(inputs.folds):
        scored = labels[c][int(bounds[0]):int(bounds[-1]) + 1]
        scored = scored[scored >= 0]
        if scored.size:
            shares[c] = np.bincount(scored, minlength=N_REGIMES) / scored.size
        regime = recent_regime(labels[c][:int(bounds[-1]) + 1], settings.recent_bars)
        recent.append(regime)
        sample = init_population(n, n_folds=inputs.n_folds, rng=rng, config=VariationConfig(n_coins=1))
        sample = sample._replace(coin=np.full(n, c, np.int64))
        scores = _regime_sharpe(inputs, labels, sample)
        weights += family_weights(sample.family, scores, regime, n_families=N_FAMILIES,
                                  temperature=settings.temperature, floor=settings.floor)
    return RegimePilot(weights / weights.sum(), tuple(recent), shares, n * len(inputs.markets))
