"""Walk-forward PCA + shallow quantile-split regression tree on the learning features.

Every `refit` bars (t % refit == 0), on the last `lookback` bars' samples (labels known at t):
  1. standardise the features and take the top `components` eigenvectors of their correlation matrix;
  2. grow a tree of depth <= `depth` on the component scores: each node splits at the `quantile` of
     one component's scores in the node, the component most correlated with the label there (a
     one-pass choice: trying every component's split would cost `components` times more);
     leaves predict their mean label (the next bar's vol-normalised return).
Between refits the last model predicts; the position is the sign of the leaf value when it clears
+-threshold. The window's mean and covariance come from the moment bank (kernels.families.learning);
a refit then costs an F x F eigendecomposition plus O(lookback c (F + depth)) for scores and tree,
about 20 us at mid-range genes against 1 us for a ridge refit. Refits are therefore every 48-336 bars
(the linear classifier's 24-168, doubled), which keeps the family's cost per bar within ~10x an
indicator family's.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.families.learning import (N_FEATURES, features_finite_nb, learning_bank_nb, signal_from_score_nb,
                                        symmetric_eigen_nb, window_moments_nb)
from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb

BOUNDS = (
    GeneSpec("components", 2, 5, KIND_INT),
    GeneSpec("depth", 2, 6, KIND_INT),
    GeneSpec("quantile", 0.1, 0.9, KIND_FLOAT),  # split point within a node
    GeneSpec("lookback", 100, 500, KIND_INT),  # bars of training samples
    GeneSpec("refit", 48, 336, KIND_INT),  # bars between refits (2-14 days hourly; see the module docstring)
    GeneSpec("threshold", 0.0, 0.2, KIND_FLOAT),  # leaf value, in units of the 24-bar vol
)
_BOUNDS = bounds_array(BOUNDS)
MIN_LEAF = 10  # samples; a node splits only if both children get at least this many
MIN_SAMPLES = 4 * MIN_LEAF
SELECT_BUCKETS = 64
SELECT_SMALL = 24  # select_nb sorts at most this many values


@njit(cache=True)
def fit_pca_nb(moments: np.ndarray, out_weights: np.ndarray, out_offset: np.ndarray) -> bool:
    """Principal axes of the standardised features from window moments (E x E, see learning.py).

    Writes scores as affine maps of raw features: score_c = out_weights[c] @ x - out_offset[c]. Each
    axis' sign is fixed (largest loading positive) so equal data always splits the same way. False
    (outputs untouched) when the window is too small or a feature is constant over it.
    """
    count = moments[0, 0]
    if count < MIN_SAMPLES:
        return False
    mean = np.empty(N_FEATURES)
    scale = np.empty(N_FEATURES)
    for j in range(N_FEATURES):
        mean[j] = moments[0, 1 + j] / count
        var = moments[1 + j, 1 + j] / count - mean[j] * mean[j]
        if not var > 1e-12:
            return False
        scale[j] = np.sqrt(var)
    corr = np.empty((N_FEATURES, N_FEATURES))
    for j in range(N_FEATURES):
        for k in range(N_FEATURES):
            corr[j, k] = (moments[1 + j, 1 + k] / count - mean[j] * mean[k]) / (scale[j] * scale[k])
    values = np.empty(N_FEATURES)
    vectors = np.empty((N_FEATURES, N_FEATURES))
    symmetric_eigen_nb(corr, values, vectors)
    for c in range(out_weights.shape[0]):
        sign = 1.0 if vectors[np.argmax(np.abs(vectors[:, c])), c] > 0.0 else -1.0
        out_offset[c] = 0.0
        for j in range(N_FEATURES):
            out_weights[c, j] = sign * vectors[j, c] / scale[j]
            out_offset[c] += out_weights[c, j] * mean[j]
    return True


@njit(cache=True)
def _scores_nb(x: np.ndarray, s: int, weights: np.ndarray, offset: np.ndarray, out: np.ndarray) -> None:
    """Principal-component scores of bar s."""
    for c in range(weights.shape[0]):
        total = -offset[c]
        for j in range(N_FEATURES):
            total += weights[c, j] * x[j, s]
        out[c] = total


@njit(cache=True)
def _training_set_nb(x: np.ndarray, y: np.ndarray, usable: np.ndarray, start: int, stop: int, weights: np.ndarray,
                     offset: np.ndarray, out_z: np.ndarray, out_y: np.ndarray) -> int:
    """Scores out_z[c, i] and labels out_y[i] of the usable samples among bars start..stop-1; returns
    their count. Scores are computed row by row over contiguous bars (vectorised), then compacted."""
    m = stop - start
    for c in range(weights.shape[0]):
        row = out_z[c]
        for i in range(m):
            row[i] = -offset[c]
        for j in range(N_FEATURES):
            w, feature = weights[c, j], x[j]
            for i in range(m):
                row[i] += w * feature[start + i]
    count = 0
    for i in range(m):
        if usable[start + i]:
            for c in range(weights.shape[0]):
                out_z[c, count] = out_z[c, i]
            out_y[count] = y[start + i]
            count += 1
    return count


@njit(cache=True)
def _select_small_nb(a: np.ndarray, n: int, k: int) -> float:
    """k-th smallest of a[:n] by insertion sort (n small)."""
    for i in range(1, n):
        value = a[i]
        j = i - 1
        while j >= 0 and a[j] > value:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = value
    return a[k]


@njit(cache=True)
def select_nb(a: np.ndarray, k: int) -> float:
    """The k-th smallest value of `a` (0-based; `a` is used as scratch), O(len(a)) in practice.

    Bucket selection: spread the values over SELECT_BUCKETS equal-width buckets between their min and
    max, keep only the bucket holding rank k, repeat until few values remain, then sort those. Each
    round is three branch-free passes; on continuous data one or two rounds suffice. (A bucket can keep
    almost everything when one outlier stretches the range; the next round's range is then tight.)
    """
    n = len(a)
    counts = np.empty(SELECT_BUCKETS + 1, dtype=np.int64)  # + 1: the max lands exactly on the last edge
    while n > SELECT_SMALL:
        lo, hi = a[0], a[0]
        for i in range(n):
            lo = min(lo, a[i])
            hi = max(hi, a[i])
        if lo == hi:
            return lo
        scale = SELECT_BUCKETS / (hi - lo)
        counts[:] = 0
        for i in range(n):
            counts[int((a[i] - lo) * scale)] += 1
        bucket, below = 0, 0
        while below + counts[bucket] <= k:
            below += counts[bucket]
            bucket += 1
        kept = 0
        for i in range(n):  # compact the bucket's values to the front (kept <= i: a[i] is already read)
            value = a[i]
            a[kept] = value
            kept += int((value - lo) * scale) == bucket
        n, k = kept, k - below
    return _select_small_nb(a, n, k)


@njit(cache=True)
def _split_component_nb(z: np.ndarray, y: np.ndarray, start: int, stop: int) -> int:
    """The component whose scores are most correlated with the label over samples start..stop-1
    (largest |cov(z_c, y)| / std(z_c)): one pass per component instead of trying every split."""
    m = stop - start
    sum_y = 0.0
    for i in range(start, stop):
        sum_y += y[i]
    best_c, best_score = 0, -1.0
    for c in range(z.shape[0]):
        row = z[c]
        sum_z, sum_zz, sum_zy = 0.0, 0.0, 0.0
        for i in range(start, stop):
            sum_z += row[i]
            sum_zz += row[i] * row[i]
            sum_zy += row[i] * y[i]
        var = sum_zz - sum_z * sum_z / m
        score = abs(sum_zy - sum_z * sum_y / m) / np.sqrt(var) if var > 0.0 else 0.0
        if score > best_score:
            best_c, best_score = c, score
    return best_c


@njit(cache=True)
def _partition_nb(z: np.ndarray, y: np.ndarray, start: int, stop: int, c: int, threshold: float) -> int:
    """Reorder samples start..stop-1 (all of z's rows and y) so those with z[c] <= threshold come first;
    returns where the second block starts. Branch-free like select_nb."""
    store = start
    for i in range(start, stop):
        left = z[c, i] <= threshold
        for k in range(z.shape[0]):
            value = z[k, i]
            z[k, i] = z[k, store]
            z[k, store] = value
        value = y[i]
        y[i] = y[store]
        y[store] = value
        store += left
    return store


@njit(cache=True)
def _grow_tree_nb(z: np.ndarray, y: np.ndarray, count: int, depth: int, quantile: float, out_comp: np.ndarray,
                  out_thr: np.ndarray, out_value: np.ndarray) -> None:
    """Grow a heap-indexed tree (children of node i: 2i+1, 2i+2) on samples 0..count-1 of (z, y).

    z[c, i]: score of sample i on component c. Each node splits on its most label-correlated component
    at that component's `quantile` within the node, if both children keep MIN_LEAF samples.
    out_comp[i] = split component, out_thr[i] its threshold (go left when <=), out_value[i] the node's
    mean label; leaves above the last level are completed by _complete_tree_nb. The samples are reordered in place so that each node's are a
    contiguous range [start, stop). Cost O(count * depth * components).
    """
    n_nodes = len(out_comp)
    start = np.zeros(n_nodes, dtype=np.int64)
    stop = np.zeros(n_nodes, dtype=np.int64)
    stop[0] = count
    buf = np.empty(count)
    out_comp[:] = -1
    for node in range(n_nodes):  # heap order visits parents before children
        a, b = start[node], stop[node]
        if b == a:
            continue  # below a leaf
        out_value[node] = y[a:b].sum() / (b - a)
        if node >= n_nodes // 2 or b - a < 2 * MIN_LEAF:  # max depth, or too small to split
            continue
        c = _split_component_nb(z, y, a, b)
        buf[:b - a] = z[c, a:b]
        threshold = select_nb(buf[:b - a], int(quantile * (b - a - 1)))
        middle = _partition_nb(z, y, a, b, c, threshold)
        if middle - a < MIN_LEAF or b - middle < MIN_LEAF:
            continue  # ties or an extreme quantile: stays a leaf
        out_comp[node], out_thr[node] = c, threshold
        start[2 * node + 1], stop[2 * node + 1] = a, middle
        start[2 * node + 2], stop[2 * node + 2] = middle, b
    _complete_tree_nb(out_comp, out_thr, out_value)


@njit(cache=True)
def _complete_tree_nb(comp: np.ndarray, thr: np.ndarray, value: np.ndarray) -> None:
    """Turn every leaf above the last level into a split that always goes left (component 0, threshold
    +inf) down to a last-level copy of its value, so prediction walks exactly `depth` levels with no
    data-dependent branch (a mispredicted branch per level cost more than the rest of a prediction)."""
    for node in range(len(comp) // 2):  # heap order: a parent is completed before its children
        if comp[node] < 0:
            comp[node], thr[node] = 0, np.inf
            for child in (2 * node + 1, 2 * node + 2):
                comp[child], value[child] = -1, value[node]


@njit(cache=True)
def _predict_tree_nb(z: np.ndarray, comp: np.ndarray, thr: np.ndarray, value: np.ndarray, depth: int) -> float:
    """The leaf value reached by scores z in a completed tree of `depth` levels (_complete_tree_nb)."""
    node = 0
    for _ in range(depth):
        node = 2 * node + 1 + (z[comp[node]] > thr[node])
    return value[node]


@njit(cache=True)
def pca_tree_quantile_from_bank_1d_nb(genes: np.ndarray, x: np.ndarray, y: np.ndarray, usable: np.ndarray,
                                      cum: np.ndarray, out: np.ndarray) -> None:
    """The signal from a prebuilt learning bank (features x, labels y, usable samples, moments cum)."""
    n_comp, depth = int(param_nb(genes, _BOUNDS, 0)), int(param_nb(genes, _BOUNDS, 1))
    quantile, lookback = param_nb(genes, _BOUNDS, 2), int(param_nb(genes, _BOUNDS, 3))
    refit, threshold = int(param_nb(genes, _BOUNDS, 4)), param_nb(genes, _BOUNDS, 5)
    weights, offset = np.empty((n_comp, N_FEATURES)), np.empty(n_comp)
    z_train, y_train = np.empty((n_comp, lookback)), np.empty(lookback)
    z_now = np.empty(n_comp)
    n_nodes = 2 ** (depth + 1) - 1
    comp, thr, value = np.full(n_nodes, -1, dtype=np.int64), np.empty(n_nodes), np.empty(n_nodes)
    fitted = False
    for t in range(len(out)):
        if t % refit == 0 and fit_pca_nb(window_moments_nb(cum, t, lookback), weights, offset):
            # samples s in [t - lookback, t - 1]: their labels are known at t's close
            count = _training_set_nb(x, y, usable, max(t - lookback, 0), t, weights, offset, z_train, y_train)
            _grow_tree_nb(z_train, y_train, count, depth, quantile, comp, thr, value)
            fitted = True
        if not fitted or not features_finite_nb(x, t):
            out[t] = 0.0
            continue
        _scores_nb(x, t, weights, offset, z_now)
        out[t] = signal_from_score_nb(_predict_tree_nb(z_now, comp, thr, value, depth), threshold)


@njit(cache=True)
def pca_tree_quantile_1d_nb(genes: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                            close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    x, y, usable, cum = learning_bank_nb(high, low, close, volume)
    pca_tree_quantile_from_bank_1d_nb(genes, x, y, usable, cum, out)
