"""Features, labels and moment bank of the two walk-forward learning families (linear_classifier,
pca_tree_quantile), and the linear scoring and signal rule they share.

Features (rows of x, all known at the close of bar t, NaN during warm-up), with v = 24-bar realised vol:
  0 r1 / v, 1 r4 / (2 v), 2 r24 / (sqrt(24) v)  log returns over 1, 4, 24 bars in units of their vol
  3 z-score of close over 24 bars, 4 RSI(14) / 50 - 1, 5 log(high / low) / v, 6 log(v / 168-bar vol),
  7 volume / its 24-bar mean - 1.
Label y[s] = log(close[s+1] / close[s]) / v[s]: the NEXT bar's vol-normalised return, known only at the
close of bar s + 1. A model fitted at the close of bar t therefore uses samples s <= t - 1 only.

Moment bank: with e_s = (1, x[:, s], y[s]) for every usable sample s (finite features and label),
cum[k] = sum over s < k of e_s e_s' (an E x E matrix, E = N_FEATURES + 2). The moments of the training
window s in [t - lookback, t - 1] are cum[t] - cum[t - lookback]: count, feature sums, X'X and X'y in
O(E^2) per refit whatever the lookback (window_moments_nb writes their lower triangle, which is all the
families read: row 0 = count and feature sums, row LABEL = label sum and X'y). The bank depends on the
market only, so evaluate() builds it once for all learning genomes. Refits happen at bars t with
t % refit == 0, a schedule that depends on t alone, never on later data.

Speed notes for the families' kernels (numba): a refit allocates nothing; loops over bars or samples
index with unsigned integers (numba's handling of negative indices otherwise blocks vectorisation) and
create no array views in loops (each view or call boundary costs a reference count, ~15 ns).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.indicators import realized_vol_1d_nb, rsi_1d_nb, sma_1d_nb, zscore_1d_nb

__all__ = ["N_FEATURES", "FEATURE_NAMES", "N_MOMENTS", "LABEL", "VOL_WINDOW", "SLOW_VOL_WINDOW", "RSI_WINDOW",
           "learning_features_nb", "features_finite_nb", "moment_bank_nb", "learning_bank_nb", "window_moments_nb",
           "affine_row_nb", "signal_from_score_nb"]

N_FEATURES = 8
FEATURE_NAMES = ("ret_1", "ret_4", "ret_24", "zscore_24", "rsi_14", "range", "vol_ratio", "volume_ratio")
N_MOMENTS = N_FEATURES + 2  # e = (1, features..., label)
LABEL = N_MOMENTS - 1  # index of the label in e
VOL_WINDOW = 24
SLOW_VOL_WINDOW = 168
RSI_WINDOW = 14


@njit(cache=True)
def learning_features_nb(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                         out_x: np.ndarray, out_y: np.ndarray) -> None:
    """Fill out_x[N_FEATURES, N] with the features and out_y[N] with the labels (see module docstring)."""
    n = len(close)
    vol = out_y  # holds the 24-bar vol until the labels overwrite it, bar by bar
    realized_vol_1d_nb(close, VOL_WINDOW, vol)
    zscore_1d_nb(close, VOL_WINDOW, 0, out_x[3])
    rsi_1d_nb(close, RSI_WINDOW, out_x[4])
    realized_vol_1d_nb(close, SLOW_VOL_WINDOW, out_x[6])
    sma_1d_nb(volume, VOL_WINDOW, out_x[7])
    for t in range(n):
        v = vol[t] if vol[t] > 0.0 else np.nan
        out_x[0, t] = np.log(close[t] / close[t - 1]) / v if t >= 1 else np.nan
        out_x[1, t] = np.log(close[t] / close[t - 4]) / (2.0 * v) if t >= 4 else np.nan
        out_x[2, t] = np.log(close[t] / close[t - 24]) / (np.sqrt(24.0) * v) if t >= 24 else np.nan
        out_x[4, t] = out_x[4, t] / 50.0 - 1.0
        out_x[5, t] = np.log(high[t] / low[t]) / v
        out_x[6, t] = np.log(v / out_x[6, t]) if out_x[6, t] > 0.0 else np.nan
        out_x[7, t] = volume[t] / out_x[7, t] - 1.0 if out_x[7, t] > 0.0 else np.nan
        out_y[t] = np.log(close[t + 1] / close[t]) / v if t + 1 < n else np.nan


@njit(cache=True, inline="always")
def features_finite_nb(x: np.ndarray, t: int) -> bool:
    """True when every feature of bar t is finite (past the warm-up, non-zero vol)."""
    for j in range(x.shape[0]):
        if not np.isfinite(x[j, t]):
            return False
    return True


@njit(cache=True)
def moment_bank_nb(x: np.ndarray, y: np.ndarray, out_usable: np.ndarray, out_cum: np.ndarray) -> None:
    """out_usable[s]: sample s has finite features and label; out_cum[N + 1, E, E]: cumulative e e'."""
    e = np.zeros(N_MOMENTS)
    out_cum[0] = 0.0
    for s in range(len(y)):
        out_usable[s] = np.isfinite(y[s]) and features_finite_nb(x, s)
        if out_usable[s]:
            e[0] = 1.0
            for j in range(N_FEATURES):
                e[1 + j] = x[j, s]
            e[LABEL] = y[s]
        else:
            e[:] = 0.0
        prev, cur = out_cum[s], out_cum[s + 1]
        for i in range(N_MOMENTS):
            for j in range(N_MOMENTS):
                cur[i, j] = prev[i, j] + e[i] * e[j]


@njit(cache=True)
def learning_bank_nb(high: np.ndarray, low: np.ndarray, close: np.ndarray,
                     volume: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, usable, cum) of a market: everything the learning families read (see module docstring)."""
    n = len(close)
    x = np.empty((N_FEATURES, n))
    y = np.empty(n)
    usable = np.empty(n, dtype=np.bool_)
    cum = np.empty((n + 1, N_MOMENTS, N_MOMENTS))
    learning_features_nb(high, low, close, volume, x, y)
    moment_bank_nb(x, y, usable, cum)
    return x, y, usable, cum


@njit(cache=True, inline="always")
def window_moments_nb(cum: np.ndarray, t: int, lookback: int, out: np.ndarray) -> np.ndarray:
    """out = sum of e e' over the usable samples s in [t - lookback, t - 1] (labels known at t's close);
    returns out. Only the lower triangle (out[i, j], i >= j) is written: the matrix is symmetric."""
    low = max(t - lookback, 0)
    for i in range(N_MOMENTS):
        for j in range(i + 1):
            out[i, j] = cum[t, i, j] - cum[low, i, j]
    return out


@njit(cache=True, inline="always")
def affine_row_nb(x: np.ndarray, start: int, stop: int, weights: np.ndarray, bias: np.ndarray, r: int,
                  out: np.ndarray) -> None:
    """out[r, i] = bias[r] + sum_j weights[r, j] x[j, start + i] for the bars start..stop-1, summed in
    feature order (so equal to a per-bar dot product bit for bit). Unsigned indices spare numba's
    negative-index handling, which lets the loop over bars vectorise; row r is indexed, not sliced (an
    array view costs a reference count, ~15 ns)."""
    offset, row = np.uint64(start), np.uint64(r)
    for i in range(stop - start):
        bar = offset + np.uint64(i)
        total = bias[row]
        for j in range(N_FEATURES):
            total += weights[row, np.uint64(j)] * x[np.uint64(j), bar]
        out[row, np.uint64(i)] = total


@njit(cache=True)
def signal_from_score_nb(score: float, threshold: float) -> float:
    """+1 / -1 when a predicted (vol-normalised) return clears +-threshold, else flat (also for NaN).
    Branch-free, so a loop over bars vectorises (a branch per bar on a noisy score mispredicts often)."""
    return 1.0 * (score > threshold) - 1.0 * (score < -threshold)
