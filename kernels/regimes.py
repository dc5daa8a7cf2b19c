"""Market regimes: label bars trend/range x high/low volatility from causal indicators, score
strategies per regime, and turn the latest regime into family weights for initialisation.

Regime of bar t (known at close t, from bars 0..t only):
  trend    : Kaufman efficiency ratio over ``trend_window`` >= ``trend_threshold``
             (net move / path length; Kaufman 1995, "Smarter Trading"), else range;
  high vol : realised volatility over ``vol_window`` (kernels.indicators.realized_vol_1d_nb) above
             its own mean over the previous ``baseline_window`` bars, else low vol.
Warm-up bars get -1 (no regime).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.indicators import realized_vol_1d_nb, sma_1d_nb

__all__ = ["REGIME_NAMES", "N_REGIMES", "efficiency_ratio_1d_nb", "label_regimes_1d_nb", "regime_sharpe_1d_nb",
           "regime_sharpe_nb", "recent_regime", "family_weights"]

REGIME_NAMES = ("trend_low_vol", "trend_high_vol", "range_low_vol", "range_high_vol")
N_REGIMES = len(REGIME_NAMES)


@njit(cache=True)
def efficiency_ratio_1d_nb(close: np.ndarray, window: int, out: np.ndarray) -> None:
    """|close[t] - close[t - window]| / sum of |bar-to-bar moves| over those bars, in [0, 1].

    1 = a straight line, ~0 = chop; 0 where the price did not move; NaN for t < window. O(N).
    """
    if window < 1:
        raise ValueError("window must be >= 1")
    path = 0.0
    for t in range(len(close)):
        if t >= 1:
            path += abs(close[t] - close[t - 1])
        if t > window:
            path -= abs(close[t - window] - close[t - window - 1])
        if t < window:
            out[t] = np.nan
        else:
            out[t] = abs(close[t] - close[t - window]) / path if path > 0.0 else 0.0


@njit(cache=True)
def label_regimes_1d_nb(close: np.ndarray, trend_window: int, vol_window: int, baseline_window: int,
                        trend_threshold: float, out: np.ndarray) -> None:
    """Regime code per bar into int64 ``out`` (index into REGIME_NAMES, -1 during warm-up). O(N).

    Causal: out[t] depends on close[0..t] only. Warm-up: max(trend_window, vol_window +
    baseline_window - 1) bars.
    """
    n = len(close)
    trend = np.empty(n)
    vol = np.empty(n)
    baseline = np.full(n, np.nan)
    efficiency_ratio_1d_nb(close, trend_window, trend)
    realized_vol_1d_nb(close, vol_window, vol)
    if n > vol_window:
        sma_1d_nb(vol[vol_window:], baseline_window, baseline[vol_window:])  # vol is NaN before vol_window
    for t in range(n):
        if np.isnan(trend[t]) or np.isnan(vol[t]) or np.isnan(baseline[t]):
            out[t] = -1
        else:
            out[t] = (0 if trend[t] >= trend_threshold else 2) + (1 if vol[t] > baseline[t] else 0)


@njit(cache=True)
def regime_sharpe_1d_nb(returns: np.ndarray, labels: np.ndarray, bars_per_year: float, out: np.ndarray) -> None:
    """Annualised Sharpe of per-bar ``returns`` split by regime into out[N_REGIMES].

    The return of bar t is earned on a position taken at close t - 1, so it is attributed to
    labels[t - 1] (the regime known when the position was chosen). Sharpe = mean / std (ddof 1) *
    sqrt(bars_per_year); 0 with fewer than 2 bars or zero variance. O(N).
    """
    count = np.zeros(N_REGIMES)
    total = np.zeros(N_REGIMES)
    total_sq = np.zeros(N_REGIMES)
    for t in range(1, len(returns)):
        r = labels[t - 1]
        if r >= 0:
            count[r] += 1.0
            total[r] += returns[t]
            total_sq[r] += returns[t] * returns[t]
    for r in range(N_REGIMES):
        out[r] = 0.0
        if count[r] >= 2.0:
            mean = total[r] / count[r]
            var = (total_sq[r] - count[r] * mean * mean) / (count[r] - 1.0)
            if var > 0.0:
                out[r] = mean / np.sqrt(var) * np.sqrt(bars_per_year)


@njit(cache=True)
def regime_sharpe_nb(returns: np.ndarray, labels: np.ndarray, bars_per_year: float) -> np.ndarray:
    """float64[S, N_REGIMES]: regime_sharpe_1d_nb for each row of returns[S, N]."""
    out = np.empty((returns.shape[0], N_REGIMES))
    for s in range(returns.shape[0]):
        regime_sharpe_1d_nb(returns[s], labels, bars_per_year, out[s])
    return out


def recent_regime(labels: np.ndarray, lookback: int) -> int:
    """Most frequent regime over the last ``lookback`` bars (ties: lowest code); -1 if none labelled."""
    if lookback < 1:
        raise ValueError(f"lookback={lookback} must be >= 1")
    tail = np.asarray(labels)[-lookback:]
    tail = tail[tail >= 0]
    if tail.size == 0:
        return -1
    return int(np.argmax(np.bincount(tail, minlength=N_REGIMES)))


def family_weights(families: np.ndarray, regime_scores: np.ndarray, regime: int, *, n_families: int,
                   temperature: float = 0.5, floor: float = 0.25) -> np.ndarray:
    """float64[n_families] initialisation weights favouring families that score well in ``regime``.

    families int64[S] and regime_scores[S, N_REGIMES] (e.g. regime_sharpe_nb of a pilot sample) give
    each family its mean score in the regime (families without samples get the mean of all samples);
    weights = floor / F + (1 - floor) * softmax(score / temperature), so every family keeps at least
    floor / F of the share. regime -1 (unknown) gives uniform weights. Sums to 1.
    """
    if not 0.0 <= floor <= 1.0 or temperature <= 0.0:
        raise ValueError(f"floor={floor} must be in [0, 1] and temperature={temperature} > 0")
    uniform = np.full(n_families, 1.0 / n_families)
    families = np.asarray(families, np.int64)
    if regime < 0 or families.size == 0:
        return uniform
    score = np.asarray(regime_scores, float)[:, regime]
    ok = np.isfinite(score)
    sums = np.bincount(families[ok], weights=score[ok], minlength=n_families)
    counts = np.bincount(families[ok], minlength=n_families)
    if counts.sum() == 0:
        return uniform
    mean = np.where(counts > 0, sums / np.maximum(counts, 1), sums.sum() / counts.sum())
    soft = np.exp((mean - mean.max()) / temperature)
    return floor * uniform + (1.0 - floor) * soft / soft.sum()
