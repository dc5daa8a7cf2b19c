"""Multiple-testing statistics for backtests: PSR, the Deflated Sharpe Ratio, effective trials and PBO.

Sharpe ratios here are *per bar* (not annualised): SR = mean(r) / std(r, ddof=1) of the per-bar simple
returns r (kernels.metrics' annualised Sharpe divided by sqrt(bars_per_year)). Skewness and kurtosis are
the plain (biased) moment ratios; kurtosis is *not* excess (a normal distribution has 3).

- Probabilistic Sharpe Ratio (Bailey & López de Prado 2012, "The Sharpe Ratio Efficient Frontier"):
      PSR(SR*) = Φ( (SR - SR*) sqrt(T - 1) / sqrt(1 - γ3 SR + (γ4 - 1) / 4 SR²) )
  the probability that the true Sharpe exceeds SR* given T observations of skew γ3 and kurtosis γ4.
- Deflated Sharpe Ratio (Bailey & López de Prado 2014, "The Deflated Sharpe Ratio: Correcting for
  Selection Bias, Backtest Overfitting and Non-Normality", J. Portfolio Management 40(5)): PSR against
  the Sharpe expected from the best of N skill-less trials whose Sharpe ratios have variance V:
      SR0 = sqrt(V) ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e))),  γ = Euler–Mascheroni ≈ 0.5772.
- Effective number of trials: correlated trials are not independent tests. The candidates' return series
  are clustered (average-linkage agglomerative clustering on the distance 1 - ρ, merging while the mean
  distance between two clusters is <= ``max_distance``; López de Prado 2019, "A Data Science Solution to
  the Multiple-Testing Crisis in Financial Research", uses clusters of trials the same way). The share of
  distinct clusters among the candidates is taken to hold for all trials: N_eff = N x clusters / M.
- Probability of Backtest Overfitting by combinatorially symmetric cross-validation (Bailey, Borwein,
  López de Prado & Zhu 2015, "The Probability of Backtest Overfitting", J. Computational Finance 20(4)):
  split the T x N return matrix into S equal row blocks; for each of the C(S, S/2) ways to pick half of
  them as in-sample (IS, the rest out-of-sample, OOS), take the IS-best trial n*, its OOS relative rank
  ω = rank / (N + 1) (rank 1 = worst, ties share their mean rank) and the logit λ = ln(ω / (1 - ω)).
  PBO = share of combinations with λ <= 0: the IS-best trial did not beat the OOS median.

Φ is computed from math.erfc; Φ⁻¹ by P. J. Acklam's rational approximation ("An algorithm for computing
the inverse normal cumulative distribution function", 2003; relative error 1.15e-9) refined by one Halley
step on erfc (error ~1e-15).
"""
from __future__ import annotations

import math
from itertools import combinations
from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = [
    "EULER_GAMMA",
    "PBOResult",
    "cluster_labels_nb",
    "correlation_distance",
    "deflated_sharpe_nb",
    "effective_trials",
    "expected_max_sharpe_nb",
    "norm_cdf_nb",
    "norm_ppf_nb",
    "pbo_cscv",
    "psr_nb",
    "sharpe_moments_1d_nb",
]

EULER_GAMMA = 0.5772156649015329

# Acklam's coefficients: central region (a, b) for p in [P_LOW, 0.5], lower tail (c, d) below it.
_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
      -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
      -1.328068155288572e+01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
      4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00)
_P_LOW = 0.02425


@njit(cache=True)
def norm_cdf_nb(x: float) -> float:
    """Standard normal CDF Φ(x) = erfc(-x / sqrt 2) / 2 (accurate in both tails)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@njit(cache=True)
def _ppf_lower_nb(p: float) -> float:
    """Φ⁻¹(p) for 0 < p <= 0.5: Acklam's approximation, then one Halley step on Φ(x) - p."""
    if p < _P_LOW:
        c0, c1, c2, c3, c4, c5 = _C
        d0, d1, d2, d3 = _D
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1.0)
    else:
        a0, a1, a2, a3, a4, a5 = _A
        b0, b1, b2, b3, b4 = _B
        q = p - 0.5
        r = q * q
        x = ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q
             / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1.0))
    e = norm_cdf_nb(x) - p
    u = e * math.sqrt(2.0 * math.pi) * math.exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)


@njit(cache=True)
def norm_ppf_nb(p: float) -> float:
    """Standard normal quantile Φ⁻¹(p) for p in [0, 1] (±inf at 0 and 1, NaN outside).

    The upper half uses Φ⁻¹(p) = -Φ⁻¹(1 - p) (1 - p is exact there), so both tails keep full precision.
    """
    if not (0.0 <= p <= 1.0):
        return np.nan
    if p == 0.0:
        return -np.inf
    if p == 1.0:
        return np.inf
    return _ppf_lower_nb(p) if p <= 0.5 else -_ppf_lower_nb(1.0 - p)


@njit(cache=True)
def sharpe_moments_1d_nb(returns: np.ndarray) -> tuple[float, float, float]:
    """(per-bar Sharpe, skewness, kurtosis) of per-bar returns; (0, 0, 3) when they do not vary."""
    n = returns.shape[0]
    if n < 2:
        return 0.0, 0.0, 3.0
    mean = 0.0
    for t in range(n):
        mean += returns[t]
    mean /= n
    m2 = m3 = m4 = 0.0
    for t in range(n):
        d = returns[t] - mean
        d2 = d * d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
    m2, m3, m4 = m2 / n, m3 / n, m4 / n
    if m2 <= 0.0:
        return 0.0, 0.0, 3.0
    sr = mean / math.sqrt(m2 * n / (n - 1))
    return sr, m3 / m2 ** 1.5, m4 / (m2 * m2)


@njit(cache=True)
def psr_nb(sr: float, sr_benchmark: float, n_obs: int, skew: float, kurt: float) -> float:
    """Probabilistic Sharpe Ratio: P(true per-bar Sharpe > sr_benchmark) from n_obs returns, in [0, 1]."""
    if n_obs < 2:
        return 0.0
    var = 1.0 - skew * sr + 0.25 * (kurt - 1.0) * sr * sr
    if var <= 0.0:  # impossible for a real sample (γ4 >= 1 + γ3²); guards rounding
        var = 1e-12
    return norm_cdf_nb((sr - sr_benchmark) * math.sqrt(n_obs - 1.0) / math.sqrt(var))


@njit(cache=True)
def expected_max_sharpe_nb(n_trials: float, sr_variance: float) -> float:
    """SR0: the expected maximum per-bar Sharpe of n_trials (>= 1, may be fractional) skill-less trials
    whose Sharpe ratios have variance sr_variance (per-bar units); 0 for a single trial."""
    if n_trials <= 1.0:
        return 0.0
    z1 = norm_ppf_nb(1.0 - 1.0 / n_trials)
    z2 = norm_ppf_nb(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(sr_variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


@njit(cache=True)
def deflated_sharpe_nb(sr: float, n_obs: int, skew: float, kurt: float, n_trials: float,
                       sr_variance: float) -> float:
    """DSR in [0, 1]: PSR of the per-bar Sharpe `sr` against SR0 of `n_trials` trials (module docstring)."""
    return psr_nb(sr, expected_max_sharpe_nb(n_trials, sr_variance), n_obs, skew, kurt)


def correlation_distance(returns: np.ndarray) -> np.ndarray:
    """1 - ρ between the columns of returns[T, M], in [0, 2]. A column that never varies (a strategy that
    never trades) is at distance 0 from the other constant columns and 1 (uncorrelated) from the rest."""
    returns = np.asarray(returns, dtype=np.float64)
    if returns.ndim != 2:
        raise ValueError(f"returns must be 2-D [T, M], got shape {returns.shape}")
    centred = returns - returns.mean(axis=0)
    norms = np.sqrt((centred * centred).sum(axis=0))
    varies = norms > 0.0
    scaled = np.where(varies, centred / np.where(varies, norms, 1.0), 0.0)
    rho = np.clip(scaled.T @ scaled, -1.0, 1.0)
    constant = ~varies
    rho[np.ix_(constant, constant)] = 1.0
    np.fill_diagonal(rho, 1.0)
    return 1.0 - rho


@njit(cache=True)
def cluster_labels_nb(distance: np.ndarray, max_distance: float) -> np.ndarray:
    """Average-linkage agglomerative clusters of a symmetric distance[M, M]: labels int64[M] in 0..k-1.

    Repeatedly merges the two clusters with the smallest mean pairwise distance while it is <=
    max_distance (UPGMA; Sokal & Michener 1958). O(M³): meant for tens of candidates.
    """
    m = distance.shape[0]
    d = distance.copy()
    size = np.ones(m)
    alive = np.ones(m, dtype=np.bool_)
    parent = np.arange(m)
    for _ in range(m - 1):
        best, bi, bj = np.inf, -1, -1
        for i in range(m):
            if alive[i]:
                for j in range(i + 1, m):
                    if alive[j] and d[i, j] < best:
                        best, bi, bj = d[i, j], i, j
        if bi < 0 or best > max_distance:
            break
        for k in range(m):  # Lance–Williams update for average linkage
            if alive[k] and k != bi and k != bj:
                merged = (size[bi] * d[bi, k] + size[bj] * d[bj, k]) / (size[bi] + size[bj])
                d[bi, k] = merged
                d[k, bi] = merged
        size[bi] += size[bj]
        alive[bj] = False
        for k in range(m):
            if parent[k] == bj:
                parent[k] = bi
    labels = np.empty(m, dtype=np.int64)
    code = np.full(m, -1, dtype=np.int64)
    k = 0
    for i in range(m):
        root = parent[i]
        if code[root] < 0:
            code[root] = k
            k += 1
        labels[i] = code[root]
    return labels


def effective_trials(n_trials: int, returns: np.ndarray, max_distance: float = 0.5) -> tuple[float, int]:
    """(N_eff, clusters): the trials the evolution made, discounted by the candidates' redundancy.

    returns[T, M] are the M candidates' per-bar returns; they form `clusters` groups under average-linkage
    clustering on 1 - ρ cut at `max_distance` (0.5: strategies with mean correlation >= 0.5 count as
    one). N_eff = n_trials x clusters / M, at least `clusters` and at most n_trials.
    """
    returns = np.asarray(returns, dtype=np.float64)
    m = returns.shape[1] if returns.ndim == 2 else 0
    if m == 0:
        raise ValueError(f"returns must be [T, M] with M >= 1 candidates, got shape {returns.shape}")
    if n_trials < m:
        raise ValueError(f"n_trials={n_trials} is smaller than the {m} candidates it produced")
    if not 0.0 <= max_distance <= 2.0:
        raise ValueError(f"max_distance={max_distance} must be in [0, 2] (a distance 1 - correlation)")
    clusters = int(cluster_labels_nb(correlation_distance(returns), max_distance).max()) + 1
    return float(min(n_trials, max(clusters, n_trials * clusters / m))), clusters


class PBOResult(NamedTuple):
    """CSCV output: pbo = share of combinations whose IS-best trial ranks at or below the OOS median;
    logits = λ per combination (float64[C]); splits = S blocks used; bars_used = S x block length."""

    pbo: float
    logits: np.ndarray
    splits: int
    bars_used: int


def pbo_cscv(returns: np.ndarray, n_splits: int = 16) -> PBOResult:
    """Probability of Backtest Overfitting of returns[T, N] (N trials' per-bar returns), Sharpe as the
    performance measure. The oldest T mod S rows are dropped so the S blocks are equal."""
    returns = np.asarray(returns, dtype=np.float64)
    if returns.ndim != 2 or returns.shape[1] < 2:
        raise ValueError(f"returns must be [T, N] with N >= 2 trials, got shape {returns.shape}")
    if n_splits < 2 or n_splits % 2:
        raise ValueError(f"n_splits={n_splits} must be an even number >= 2")
    block = returns.shape[0] // n_splits
    if block < 2:
        raise ValueError(f"{returns.shape[0]} bars are too few for n_splits={n_splits} (>= 2 bars per block)")
    used = returns[returns.shape[0] - block * n_splits:]
    sums = used.reshape(n_splits, block, -1).sum(axis=1)
    squares = (used * used).reshape(n_splits, block, -1).sum(axis=1)
    combos = np.array(list(combinations(range(n_splits), n_splits // 2)), dtype=np.int64)
    logits = _cscv_logits_nb(sums, squares, float(block), combos)
    return PBOResult(float(np.mean(logits <= 0.0)), logits, n_splits, block * n_splits)


@njit(cache=True)
def _sharpe_from_sums_nb(s: float, s2: float, n: float) -> float:
    mean = s / n
    var = (s2 - s * mean) / (n - 1.0)
    return mean / math.sqrt(var) if var > 0.0 else 0.0


@njit(cache=True)
def _cscv_logits_nb(sums: np.ndarray, squares: np.ndarray, block: float, combos: np.ndarray) -> np.ndarray:
    """λ per combination from per-block sums[S, N] and sums of squares[S, N] of the returns."""
    n_splits, n = sums.shape
    total, total2 = sums.sum(axis=0), squares.sum(axis=0)
    half = block * combos.shape[1]
    out = np.empty(combos.shape[0])
    is_sr = np.empty(n)
    oos_sr = np.empty(n)
    for c in range(combos.shape[0]):
        for j in range(n):
            s = s2 = 0.0
            for b in combos[c]:
                s += sums[b, j]
                s2 += squares[b, j]
            is_sr[j] = _sharpe_from_sums_nb(s, s2, half)
            oos_sr[j] = _sharpe_from_sums_nb(total[j] - s, total2[j] - s2, block * n_splits - half)
        best = np.argmax(is_sr)
        below = ties = 0.0
        for j in range(n):
            if oos_sr[j] < oos_sr[best]:
                below += 1.0
            elif oos_sr[j] == oos_sr[best] and j != best:
                ties += 1.0
        omega = (below + 1.0 + 0.5 * ties) / (n + 1.0)
        out[c] = math.log(omega / (1.0 - omega))
    return out
