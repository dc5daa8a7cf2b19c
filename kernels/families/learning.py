"""Shared pieces of the two walk-forward learning families: features, labels and a moment bank.

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

N_FEATURES = 8
FEATURE_NAMES = ("ret_1", "ret_4", "ret_24", "zscore_24", "rsi_14", "range", "vol_ratio", "volume_ratio")
N_MOMENTS = N_FEATURES + 2  # e = (1, features..., label)
LABEL = N_MOMENTS - 1  # index of the label in e
VOL_WINDOW = 24
SLOW_VOL_WINDOW = 168
RSI_WINDOW = 14
_EPS = np.finfo(np.float64).eps


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
def solve_spd_nb(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> bool:
    """Solve a @ out = b for a small symmetric positive-definite a by Cholesky, with d = len(b): only the lower
    triangle of a's leading d x d block is read, and it is overwritten.

    Returns False (out untouched) when a is not numerically positive definite. a's lower triangle becomes
    L (a = L L') with its diagonal stored inverted, so that the factorisation and both triangular solves
    multiply: one division per column instead of one per element (divisions were most of a ridge refit).
    """
    d = len(b)
    for j in range(d):
        total = a[j, j]
        for k in range(j):
            total -= a[j, k] * a[j, k]
        if total <= 1e-12:
            return False
        inv = 1.0 / np.sqrt(total)
        a[j, j] = inv
        for i in range(j + 1, d):
            total = a[i, j]
            for k in range(j):
                total -= a[i, k] * a[j, k]
            a[i, j] = total * inv
    for i in range(d):  # L z = b, z stored in out
        total = b[i]
        for k in range(i):
            total -= a[i, k] * out[k]
        out[i] = total * a[i, i]
    for i in range(d - 1, -1, -1):  # L' out = z, in place (out[k > i] is final, out[i] still z[i])
        total = out[i]
        for k in range(i + 1, d):
            total -= a[k, i] * out[k]
        out[i] = total * a[i, i]
    return True


@njit(cache=True, inline="always")
def _tridiagonalize_nb(z: np.ndarray, d: np.ndarray, e: np.ndarray) -> None:
    """Householder reduction of the symmetric z to tridiagonal form (diagonal d, sub-diagonal e[1:]);
    z is replaced by the orthogonal transformation. Numerical Recipes 3rd ed., 11.3 (tred2)."""
    n = z.shape[0]
    for i in range(n - 1, 0, -1):
        h = 0.0
        if i > 1:
            scale = 0.0
            for k in range(i):
                scale += abs(z[i, k])
            if scale == 0.0:
                e[i] = z[i, i - 1]
            else:
                for k in range(i):
                    z[i, k] /= scale
                    h += z[i, k] * z[i, k]
                f = z[i, i - 1]
                g = -np.sqrt(h) if f >= 0.0 else np.sqrt(h)
                e[i] = scale * g
                h -= f * g
                z[i, i - 1] = f - g
                f = 0.0
                for j in range(i):
                    z[j, i] = z[i, j] / h
                    g = 0.0
                    for k in range(j + 1):
                        g += z[j, k] * z[i, k]
                    for k in range(j + 1, i):
                        g += z[k, j] * z[i, k]
                    e[j] = g / h
                    f += e[j] * z[i, j]
                hh = f / (h + h)
                for j in range(i):
                    f = z[i, j]
                    g = e[j] - hh * f
                    e[j] = g
                    for k in range(j + 1):
                        z[j, k] -= f * e[k] + g * z[i, k]
        else:
            e[i] = z[i, i - 1]
        d[i] = h
    d[0] = 0.0
    e[0] = 0.0
    for i in range(n):  # accumulate the transformations
        if d[i] != 0.0:
            for j in range(i):
                g = 0.0
                for k in range(i):
                    g += z[i, k] * z[k, j]
                for k in range(i):
                    z[k, j] -= g * z[k, i]
        d[i] = z[i, i]
        z[i, i] = 1.0
        for j in range(i):
            z[j, i] = 0.0
            z[i, j] = 0.0


@njit(cache=True, inline="always")
def _tridiagonal_ql_nb(d: np.ndarray, e: np.ndarray, q: np.ndarray) -> None:
    """Eigenvalues (into d) and vectors (rows of q, rotated as contiguous rows) of the tridiagonal (d, e[1:]),
    with q the basis it is expressed in (as rows), by the QL algorithm
    with implicit Wilkinson shifts. Numerical Recipes 3rd ed., 11.4 (tqli), with sqrt(a^2 + b^2) for its
    pythag: libm's hypot guards against overflow that O(1) matrices cannot reach, and its ~30 ns latency
    sits on the rotations' dependency chain (it was two thirds of the decomposition's time)."""
    n = len(d)
    for i in range(1, n):
        e[i - 1] = e[i]
    e[n - 1] = 0.0
    for l in range(n):
        for _ in range(60):  # QL converges in 1-2 iterations per eigenvalue; 60 is a safety stop
            m = l
            while m < n - 1 and abs(e[m]) > _EPS * (abs(d[m]) + abs(d[m + 1])):
                m += 1
            if m == l:
                break
            g = (d[l + 1] - d[l]) / (2.0 * e[l])
            r = np.sqrt(g * g + 1.0)
            g = d[m] - d[l] + e[l] / (g + (r if g >= 0.0 else -r))
            s, c, p = 1.0, 1.0, 0.0
            underflow = False
            for i in range(m - 1, l - 1, -1):
                f = s * e[i]
                b = c * e[i]
                r = np.sqrt(f * f + g * g)
                e[i + 1] = r
                if r == 0.0:  # underflow: deflate and restart this eigenvalue
                    d[i + 1] -= p
                    e[m] = 0.0
                    underflow = True
                    break
                s = f / r
                c = g / r
                g = d[i + 1] - p
                r = (d[i] - g) * s + 2.0 * c * b
                p = s * r
                d[i + 1] = g + p
                g = c * r - b
                row, next_row = q[i], q[i + 1]
                for k in range(n):
                    f = next_row[k]
                    next_row[k] = s * row[k] + c * f
                    row[k] = c * row[k] - s * f
            if underflow:
                continue
            d[l] -= p
            e[l] = g
            e[m] = 0.0


@njit(cache=True, inline="always")
def symmetric_eigen_nb(a: np.ndarray, out_values: np.ndarray, out_vectors: np.ndarray) -> None:
    """Eigen-decomposition of a small symmetric matrix (a is overwritten): out_values[k] and column
    out_vectors[:, k] in descending order of eigenvalue (ties keep their order).

    Householder tridiagonalisation then implicit QL, O(n^3) with a small constant (about 3k flops for
    the 8 x 8 correlation matrices of PCA, several times fewer than Jacobi rotations). Pure numba: no
    LAPACK, so the result does not depend on the BLAS build or its threads. Allocation-free (a refit
    calls it): a is the working matrix and out_vectors' first row the scratch until the result is
    written; the vectors are kept as rows meanwhile, so rotations and sorting move contiguous memory.
    """
    n = a.shape[0]
    scratch = out_vectors[0]
    _tridiagonalize_nb(a, out_values, scratch)
    _transpose_nb(a)
    _tridiagonal_ql_nb(out_values, scratch, a)
    _sort_rows_descending_nb(out_values, a, scratch)
    for k in range(n):
        for j in range(n):
            out_vectors[j, k] = a[k, j]


@njit(cache=True, inline="always")
def _transpose_nb(a: np.ndarray) -> None:
    """Transpose the square a in place."""
    for i in range(a.shape[0]):
        for j in range(i):
            a[i, j], a[j, i] = a[j, i], a[i, j]


@njit(cache=True, inline="always")
def _sort_rows_descending_nb(values: np.ndarray, rows: np.ndarray, scratch: np.ndarray) -> None:
    """Sort the pairs (values[k], rows[k]) by descending value, stably: insertion sort (n is small);
    scratch holds one row."""
    n = len(values)
    for i in range(1, n):
        value = values[i]
        scratch[:] = rows[i]
        j = i - 1
        while j >= 0 and values[j] < value:
            values[j + 1] = values[j]
            rows[j + 1] = rows[j]
            j -= 1
        values[j + 1] = value
        rows[j + 1] = scratch


@njit(cache=True)
def signal_from_score_nb(score: float, threshold: float) -> float:
    """+1 / -1 when a predicted (vol-normalised) return clears +-threshold, else flat (also for NaN).
    Branch-free, so a loop over bars vectorises (a branch per bar on a noisy score mispredicts often)."""
    return 1.0 * (score > threshold) - 1.0 * (score < -threshold)
