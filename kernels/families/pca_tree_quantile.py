"""Walk-forward PCA + shallow quantile-split regression tree on the learning features.

Every `refit` bars (t % refit == 0), on the last `lookback` bars' samples (labels known at t):
  1. standardise the features and take the top `components` eigenvectors of their correlation matrix;
  2. grow a tree of depth <= `depth` on the component scores: each node splits at the `quantile` of
     one component's scores in the node, the component most correlated with the label there (a
     one-pass choice: trying every component's split would cost `components` times more), if both
     children keep `min_leaf` samples; leaves predict their mean label (the next bar's vol-normalised
     return).
Between refits the last model predicts; the position is the sign of the leaf value when it clears
+-threshold. The window's mean and covariance come from the moment bank (kernels.families.learning).

`min_leaf` is the tree's regularisation, as the ridge penalty is the linear classifier's: a leaf's mean
label has a standard error of ~1 / sqrt(min_leaf) vol units, against thresholds of 0-0.2. When it was a
fixed 10, leaves mostly traded noise: on 300 random genomes per coin (6 coins, 2020-10 to 2023-12, first
60 % in sample, fees on), the tenth with the best in-sample Sharpe averaged -2.97 out of sample; with
the gene, -0.12, and the rank correlation of in- and out-of-sample Sharpe rose from 0.46 to 0.61.

Cost, about 56 ns per bar for the signal on uniformly random genes (one thread, 8,760 hourly bars): a
refit is an 8 x 8 eigen-decomposition (~2.5 us, a latency-bound chain of rotations) plus O(lookback *
components * depth) for scores and tree, and refits are every 48-336 bars (the linear classifier's
24-168, doubled). What keeps it there:
- a window whose root cannot split (`min_leaf` too large for it; ~17 % of random genomes) is a single
  leaf, the window's mean label: no decomposition, no scores;
- a refit allocates nothing: every buffer lives as long as the genome's pass;
- the training scores are one vectorised pass per component (learning.affine_row_nb);
- the tree grows level by level on contiguous rows (scores and labels) that a split copies, stably
  partitioned, into the other of two buffers; the root's sums come from the decomposition and a
  child's from its parent's pass, so choosing a split component costs no pass over the samples;
- node sums are reassociated so that numba vectorises them; the split point is found by counting
  passes that close in on the quantile (select_nb), not by sorting;
- hot loops index with unsigned integers (numba then skips its negative-index handling, which blocks
  vectorisation) and create no array views (each costs a reference count);
- prediction first merges subtrees whose leaves all give the same signal (_prediction_tree_nb), so a
  bar walks fewer levels, often none, and only the components the walk reads are scored.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from kernels.families.learning import (LABEL, N_FEATURES, N_MOMENTS, affine_row_nb, features_finite_nb,
                                        learning_bank_nb, signal_from_score_nb, symmetric_eigen_nb,
                                        window_moments_nb)
from kernels.genome import KIND_FLOAT, KIND_INT, KIND_LOG, GeneSpec, bounds_array, param_nb

BOUNDS = (
    GeneSpec("components", 2, 5, KIND_INT),
    GeneSpec("depth", 2, 6, KIND_INT),
    GeneSpec("quantile", 0.1, 0.9, KIND_FLOAT),  # split point within a node
    GeneSpec("lookback", 100, 500, KIND_INT),  # bars of training samples
    GeneSpec("refit", 48, 336, KIND_INT),  # bars between refits (2-14 days hourly; see the module docstring)
    GeneSpec("threshold", 0.0, 0.2, KIND_FLOAT),  # leaf value, in units of the 24-bar vol
    GeneSpec("min_leaf", 10, 100, KIND_LOG),  # samples; a node splits only if both children keep this many
)
_BOUNDS = bounds_array(BOUNDS)
MIN_SAMPLES = 40  # usable samples a window needs to be fitted at all
SELECT_FEW = 8  # select_nb narrows its pivots once this few values remain in its bracket
SELECT_PASSES = 32  # counting passes before select_nb falls back to sorting its bracket (ties)


# Cost model, for scheduling only (kernels.evaluate balances its threads with it; no result depends on
# it): ns on one core of the 2-core dev machine, positions plus simulation, fitted to 150 random genomes on
# 8,760 hourly BTC bars (R^2 0.95; the cost varies ~45x with the genes).
_COST_NS_PER_BAR = 12.8
_COST_NS_PER_REFIT = 2590.0  # moments, decomposition, training scores
_COST_NS_PER_SAMPLE_PASS = 0.97  # tree growth: passes over the window's samples
_COST_NS_PER_SINGLE_LEAF = 300.0  # a refit whose window cannot split: moments and standardisation only


@njit(cache=True, inline="always")
def _splittable_nb(m: int, quantile: float, min_leaf: int) -> bool:
    """Whether a node of m samples may split: its `quantile`'s rank k (0-based) leaves min_leaf samples on
    either side (k + 1 at or below it, m - k - 1 above)."""
    k = int(quantile * (m - 1))
    return k + 1 >= min_leaf and m - k - 1 >= min_leaf


@njit(cache=True)
def cost_estimate_nb(genes: np.ndarray, n_bars: int) -> float:
    """Estimated ns to evaluate this genome on n_bars: a per-bar part plus, per refit, a fixed part and
    the tree's passes (per level that can still split: a selection, the children's sums and a partition
    of every row, ~components + 2 passes); a window too small for a split is a single leaf, almost free."""
    n_comp, depth = int(param_nb(genes, _BOUNDS, 0)), int(param_nb(genes, _BOUNDS, 1))
    quantile, lookback = param_nb(genes, _BOUNDS, 2), int(param_nb(genes, _BOUNDS, 3))
    refit, min_leaf = int(param_nb(genes, _BOUNDS, 4)), int(param_nb(genes, _BOUNDS, 6))
    refits = (n_bars + refit - 1) // refit
    if not _splittable_nb(lookback, quantile, min_leaf):
        return n_bars * _COST_NS_PER_BAR + refits * _COST_NS_PER_SINGLE_LEAF
    # Level L's nodes hold ~lookback / 2^L samples and split only with 2 * min_leaf of them.
    levels = min(depth, int(np.log2(lookback / (2 * min_leaf))) + 1)
    passes = n_comp + levels * (n_comp + 2)
    return n_bars * _COST_NS_PER_BAR + refits * (_COST_NS_PER_REFIT + _COST_NS_PER_SAMPLE_PASS * lookback * passes)


class _PcaScratch(NamedTuple):
    """fit_pca_nb's buffers."""

    moments: np.ndarray  # float64[E, E] training window's moments
    corr: np.ndarray  # float64[F, F] correlation matrix, then eigen scratch
    vectors: np.ndarray  # float64[F, F] eigenvectors (columns)
    values: np.ndarray  # float64[F] eigenvalues
    mean: np.ndarray  # float64[F] features' window mean
    scale: np.ndarray  # float64[F] and standard deviation


class _TreeScratch(NamedTuple):
    """_grow_tree_nb's buffers."""

    rows: np.ndarray  # float64[2, C + 1, lookback] training scores (rows 0..C-1) and labels (row C); two
    #                   buffers that alternate between tree levels
    dest: np.ndarray  # uint64[lookback] partition destinations
    start: np.ndarray  # int64[nodes] first sample of each node (in its level's buffer)
    stop: np.ndarray  # int64[nodes]
    sums: np.ndarray  # float64[nodes, C, 3] each node's sum z, sum z^2, sum z y per component
    label_sums: np.ndarray  # float64[nodes] each node's sum y


@njit(cache=True)
def _new_pca_scratch_nb() -> _PcaScratch:
    return _PcaScratch(np.empty((N_MOMENTS, N_MOMENTS)), np.empty((N_FEATURES, N_FEATURES)),
                       np.empty((N_FEATURES, N_FEATURES)), np.empty(N_FEATURES), np.empty(N_FEATURES),
                       np.empty(N_FEATURES))


@njit(cache=True)
def _new_tree_scratch_nb(n_comp: int, n_nodes: int, lookback: int) -> _TreeScratch:
    return _TreeScratch(np.empty((2, n_comp + 1, lookback)), np.empty(lookback, dtype=np.uint64),
                        np.empty(n_nodes, dtype=np.int64), np.empty(n_nodes, dtype=np.int64),
                        np.empty((n_nodes, n_comp, 3)), np.empty(n_nodes))


@njit(cache=True, inline="always")
def standardise_nb(scratch: _PcaScratch) -> bool:
    """The features' window mean and standard deviation (scratch.mean, scratch.scale) from the window
    moments in scratch.moments (E x E, see learning.py). False when the window is too small (MIN_SAMPLES)
    or a feature is constant over it: the window cannot be fitted."""
    moments, mean, scale = scratch.moments, scratch.mean, scratch.scale
    count = moments[0, 0]
    if count < MIN_SAMPLES:
        return False
    for j in range(N_FEATURES):
        mean[j] = moments[1 + j, 0] / count
        var = moments[1 + j, 1 + j] / count - mean[j] * mean[j]
        if not var > 1e-12:
            return False
        scale[j] = np.sqrt(var)
    return True


@njit(cache=True, inline="always")
def fit_pca_nb(scratch: _PcaScratch, out_weights: np.ndarray, out_bias: np.ndarray) -> None:
    """Principal axes of the standardised features (after standardise_nb) from the window moments.

    Writes scores as affine maps of raw features: score_c = out_weights[c] @ x + out_bias[c]. Each
    axis' sign is fixed (largest loading positive) so equal data always splits the same way.
    """
    moments, corr, vectors, values, mean, scale = scratch
    count = moments[0, 0]
    for j in range(N_FEATURES):
        for k in range(j + 1):
            corr[j, k] = (moments[1 + j, 1 + k] / count - mean[j] * mean[k]) / (scale[j] * scale[k])
            corr[k, j] = corr[j, k]
    symmetric_eigen_nb(corr, values, vectors)
    for c in range(out_weights.shape[0]):
        largest = 0
        for j in range(1, N_FEATURES):
            if abs(vectors[j, c]) > abs(vectors[largest, c]):
                largest = j
        sign = 1.0 if vectors[largest, c] > 0.0 else -1.0
        offset = 0.0
        for j in range(N_FEATURES):
            out_weights[c, j] = sign * vectors[j, c] / scale[j]
            offset += out_weights[c, j] * mean[j]
        out_bias[c] = -offset


@njit(cache=True, inline="always")
def _training_set_nb(x: np.ndarray, y: np.ndarray, usable: np.ndarray, start: int, stop: int, weights: np.ndarray,
                     bias: np.ndarray, count: int, out_rows: np.ndarray) -> None:
    """Scores out_rows[c, i] and labels out_rows[C, i] of the `count` usable samples among bars
    start..stop-1, in bar order. Every bar is scored; when some are unusable (warm-up, zero vol: the moment
    bank's count says so) they are squeezed out."""
    n_comp, m = weights.shape[0], stop - start
    for c in range(n_comp):
        affine_row_nb(x, start, stop, weights, bias, c, out_rows)
    out_rows[n_comp, :m] = y[start:stop]
    if count == m:
        return
    kept = 0
    for i in range(m):
        if usable[start + i]:
            for r in range(n_comp + 1):
                out_rows[r, kept] = out_rows[r, i]
            kept += 1


@njit(cache=True)
def _root_sums_nb(pca: _PcaScratch, weights: np.ndarray, out_sums: np.ndarray) -> float:
    """The root's per-component sums (sum z, sum z^2, sum z y; see _TreeScratch.sums) from the fitted PCA,
    without a pass over the samples; returns the label sum. Over the window the scores are centred (sum
    z = 0) with sum z^2 = count * eigenvalue (unit-variance features), and sum z y is the weights applied
    to the features' covariance with the label (window moments)."""
    moments, values, mean = pca.moments, pca.values, pca.mean
    count, label_sum = moments[0, 0], moments[LABEL, 0]
    for c in range(weights.shape[0]):
        sum_zy = 0.0
        for j in range(N_FEATURES):
            sum_zy += weights[c, j] * (moments[LABEL, 1 + j] - mean[j] * label_sum)
        out_sums[c, 0], out_sums[c, 1], out_sums[c, 2] = 0.0, count * values[c], sum_zy
    return label_sum


@njit(cache=True, inline="always")
def _split_component_nb(sums: np.ndarray, node: int, m: int, label_sum: float) -> tuple[int, float, float]:
    """(component, its mean, its std) for a node of m samples from its sums (see _TreeScratch): the
    component whose scores are most correlated with the label, largest |cov(z_c, y)| / std(z_c) (a
    choice from sums kept for every node, instead of trying every split)."""
    best_c, best_score, best_mean, best_std = 0, -1.0, 0.0, 0.0
    for c in range(sums.shape[1]):
        sum_z, sum_zz, sum_zy = sums[node, c, 0], sums[node, c, 1], sums[node, c, 2]
        var = sum_zz - sum_z * sum_z / m
        score = abs(sum_zy - sum_z * label_sum / m) / np.sqrt(var) if var > 0.0 else 0.0
        if score > best_score:
            best_c, best_score = c, score
            best_mean, best_std = sum_z / m, np.sqrt(max(var, 0.0) / m)
    return best_c, best_mean, best_std


@njit(cache=True, inline="always")
def _left_sums_nb(rows: np.ndarray, buf: int, r: int, key: int, a: int, m: int,
                  threshold: float) -> tuple[float, float, float]:
    """(sum z, sum z^2, sum z y) with z = rows[buf, r] and y the labels (last row), over the samples
    a..a+m-1 that have rows[buf, key] <= threshold: a child's sums, from its parent's contiguous samples."""
    b, row, key_row, labels = np.uint64(buf), np.uint64(r), np.uint64(key), np.uint64(rows.shape[1] - 1)
    first = np.uint64(a)
    sum_z = sum_zz = sum_zy = 0.0
    for i in range(m):
        k = first + np.uint64(i)
        z = rows[b, row, k] if rows[b, key_row, k] <= threshold else 0.0
        sum_z += z
        sum_zz += z * z
        sum_zy += z * rows[b, labels, k]
    return sum_z, sum_zz, sum_zy


@njit(cache=True, inline="always")
def _count_at_most_nb(rows: np.ndarray, buf: int, r: int, a: int, m: int, low: float,
                      high: float) -> tuple[int, int]:
    """How many of rows[buf, r, a:a+m] are <= low and <= high (one vectorised pass)."""
    b, row, first = np.uint64(buf), np.uint64(r), np.uint64(a)
    n_low = n_high = 0
    for i in range(m):
        value = rows[b, row, first + np.uint64(i)]
        n_low += value <= low
        n_high += value <= high
    return n_low, n_high


@njit(cache=True, inline="always")
def _only_value_nb(rows: np.ndarray, buf: int, r: int, a: int, m: int, lo: float, hi: float) -> float:
    """The value of rows[buf, r, a:a+m] in (lo, hi], when there is exactly one: a sum of it and zeros, exact
    in any order (so it may be vectorised)."""
    b, row, first = np.uint64(buf), np.uint64(r), np.uint64(a)
    total = 0.0
    for i in range(m):
        value = rows[b, row, first + np.uint64(i)]
        total += value if lo < value <= hi else 0.0
    return total


@njit(cache=True, inline="always")
def select_nb(rows: np.ndarray, buf: int, r: int, a: int, m: int, k: int, guess: float, spread: float) -> float:
    """The k-th smallest (0-based) of rows[buf, r, a:a+m].

    Counting passes close a bracket (lo, hi] around it until it holds that value alone, which one more
    pass extracts; every pass is vectorised (a bucket or partition step costs ~10x more per value). Each
    counts the values <= two pivots that straddle the current estimate: first `guess` -+ spread / 4 (the
    caller's expectation, e.g. mean + std * normal quantile, with spread = its uncertainty); while one
    side is open, a step of `spread` that doubles; once bracketed, the linearly interpolated rank -+ one
    value's width (half a width when few values remain). About five passes on PCA scores. Exact whatever
    the guess: ties, or a spread that is 0 or far off, only cost passes; when only ties remain (or after
    SELECT_PASSES) the bracket's values are copied out and sorted.
    """
    lo, hi, below, upto = -np.inf, np.inf, 0, m  # invariant: #(values <= lo) = below <= k < upto = #(<= hi)
    step = spread if spread > 0.0 else 1.0
    estimate, half_width = guess, 0.25 * step
    for _ in range(SELECT_PASSES):
        if upto - below == 1:
            return _only_value_nb(rows, buf, r, a, m, lo, hi)
        p_low, p_high = max(estimate - half_width, lo), min(estimate + half_width, hi)
        if not (lo < p_high and p_low < hi and p_low <= p_high):
            break  # the bracket cannot be split in floating point: only ties remain
        n_low, n_high = _count_at_most_nb(rows, buf, r, a, m, p_low, p_high)
        if n_high <= k:
            lo, below = p_high, n_high
        elif n_low <= k:
            lo, below, hi, upto = p_low, n_low, p_high, n_high
        else:
            hi, upto = p_low, n_low
        if lo == -np.inf:
            estimate, half_width, step = hi - step, 0.5 * step, 2.0 * step
        elif hi == np.inf:
            estimate, half_width, step = lo + step, 0.5 * step, 2.0 * step
        else:
            width = (hi - lo) / (upto - below)  # mean gap between the bracket's values
            estimate = lo + width * (k + 0.5 - below)
            half_width = width if upto - below > SELECT_FEW else 0.5 * width
    if upto - below == 1:
        return _only_value_nb(rows, buf, r, a, m, lo, hi)
    bracket = np.empty(upto - below)  # rare (ties): allocate
    n = 0
    for i in range(m):
        value = rows[buf, r, a + i]
        if lo < value <= hi:
            bracket[n] = value
            n += 1
    return np.sort(bracket)[k - below]


@njit(cache=True, inline="always")
def _normal_quantile_nb(q: float) -> float:
    """Rough standard-normal quantile (logistic approximation, within ~0.05 for q in [0.05, 0.95]): only a
    starting pivot for select_nb."""
    return np.log(q / (1.0 - q)) / 1.702


@njit(cache=True, inline="always")
def _label_sums_nb(rows: np.ndarray, buf: int, c: int, a: int, m: int,
                   threshold: float) -> tuple[int, float, float]:
    """(how many of rows[buf, c, a:a+m] are <= threshold, their labels' sum, the other labels' sum)."""
    b, row, labels, first = np.uint64(buf), np.uint64(c), np.uint64(rows.shape[1] - 1), np.uint64(a)
    n_left, sum_left, sum_right = 0, 0.0, 0.0
    for i in range(m):
        k = first + np.uint64(i)
        left = rows[b, row, k] <= threshold
        n_left += left
        sum_left += rows[b, labels, k] if left else 0.0
        sum_right += 0.0 if left else rows[b, labels, k]
    return n_left, sum_left, sum_right


@njit(cache=True, inline="always")
def _partition_nb(rows: np.ndarray, buf: int, a: int, m: int, c: int, threshold: float, n_left: int,
                  dest: np.ndarray) -> None:
    """Copy samples a..a+m-1 (all rows) from buffer rows[buf] to the other buffer, those with
    rows[buf, c] <= threshold first, each side in its original order: destinations are computed once
    (branch-free), then each row is scattered."""
    src, dst, key, first = np.uint64(buf), np.uint64(1 - buf), np.uint64(c), np.uint64(a)
    right_start, n_left_before = first + np.uint64(n_left), np.uint64(0)
    for i in range(m):
        go_left = rows[src, key, first + np.uint64(i)] <= threshold
        dest[i] = first + n_left_before if go_left else right_start + np.uint64(i) - n_left_before
        n_left_before += np.uint64(go_left)
    for r in range(rows.shape[1]):
        row = np.uint64(r)
        for i in range(m):
            rows[dst, row, dest[i]] = rows[src, row, first + np.uint64(i)]


@njit(cache=True, fastmath={"reassoc"})
def _grow_tree_nb(scratch: _TreeScratch, count: int, depth: int, quantile: float, min_leaf: int,
                  out_comp: np.ndarray, out_thr: np.ndarray, out_value: np.ndarray) -> None:
    """Grow a heap-indexed tree of 2^(depth+1) - 1 nodes on samples 0..count-1 of rows[0] = scratch.rows[0]
    (rows[0, c, i]: score of sample i on component c; rows[0, C, i]: its label), whose sums (see
    _TreeScratch) are in scratch.sums[0] and scratch.label_sums[0].

    Each node splits on its most label-correlated component at that component's `quantile` within the
    node (go left when <=), if the quantile's rank leaves min_leaf samples on either side (_splittable_nb)
    and, ties included, both children keep them. out_comp[i] = split component (-1:
    leaf), out_thr[i] its threshold, out_value[i] the node's mean label; leaves above the last level are
    completed by _complete_tree_nb. Level by level, a node's samples are the contiguous range
    [start, stop) of rows[level % 2]; a split with a child that may split again computes the children's
    sums (the left child's in one masked pass per component, the right child's as the parent's minus
    those) and copies the samples partitioned into rows[1 - level % 2]. Cost O(count * depth * components).
    The buffers are indexed, never sliced, in the loops: a view costs a reference count (~15 ns).

    fastmath "reassoc" lets numba vectorise the sums over a node's samples (~10x faster than one addition
    after the other). Their rounding then depends on the CPU's vector width; only a near-exact tie
    between two components' scores, or a leaf's mean within an ulp of the threshold, could notice.
    """
    rows, dest, start, stop, sums, label_sums = scratch
    n_comp = rows.shape[1] - 1
    out_comp[:] = -1
    start[:], stop[:] = 0, 0  # nodes below a leaf stay empty
    stop[0] = count
    out_value[0] = label_sums[0] / count
    for level in range(depth):
        buf = level % 2  # this level's samples are in rows[buf]
        for node in range(2 ** level - 1, 2 ** (level + 1) - 1):
            a, m = start[node], stop[node] - start[node]
            if not _splittable_nb(m, quantile, min_leaf):  # too small to split (or below a leaf)
                continue
            c, mean, std = _split_component_nb(sums, node, m, label_sums[node])
            k = int(quantile * (m - 1))
            guess = mean + std * _normal_quantile_nb((k + 0.5) / m)
            threshold = select_nb(rows, buf, c, a, m, k, guess, 0.25 * std)
            n_left, sum_left, sum_right = _label_sums_nb(rows, buf, c, a, m, threshold)
            if n_left < min_leaf or m - n_left < min_leaf:
                continue  # ties at the threshold: stays a leaf
            out_comp[node], out_thr[node] = c, threshold
            left, right = 2 * node + 1, 2 * node + 2
            start[left], stop[left], start[right], stop[right] = a, a + n_left, a + n_left, a + m
            out_value[left], out_value[right] = sum_left / n_left, sum_right / (m - n_left)
            label_sums[left], label_sums[right] = sum_left, sum_right
            if level + 1 == depth or not (_splittable_nb(n_left, quantile, min_leaf)
                                          or _splittable_nb(m - n_left, quantile, min_leaf)):
                continue  # neither child will split
            for r in range(n_comp):
                sum_z, sum_zz, sum_zy = _left_sums_nb(rows, buf, r, c, a, m, threshold)
                sums[left, r, 0], sums[left, r, 1], sums[left, r, 2] = sum_z, sum_zz, sum_zy
                sums[right, r, 0] = sums[node, r, 0] - sum_z
                sums[right, r, 1] = sums[node, r, 1] - sum_zz
                sums[right, r, 2] = sums[node, r, 2] - sum_zy
            _partition_nb(rows, buf, a, m, c, threshold, n_left, dest)
    _complete_tree_nb(out_comp, out_thr, out_value)


@njit(cache=True, inline="always")
def _complete_tree_nb(comp: np.ndarray, thr: np.ndarray, value: np.ndarray) -> None:
    """Turn every leaf above the last level into a split that always goes left (component 0, threshold
    +inf) down to a last-level copy of its value, so every leaf sits on the last level."""
    for node in range(len(comp) // 2):  # heap order: a parent is completed before its children
        if comp[node] < 0:
            comp[node], thr[node] = 0, np.inf
            for child in (2 * node + 1, 2 * node + 2):
                comp[child], value[child] = -1, value[node]


@njit(cache=True, inline="always")
def _prediction_tree_nb(comp: np.ndarray, thr: np.ndarray, value: np.ndarray, depth: int, threshold: float,
                        out_sig: np.ndarray, out_used: np.ndarray) -> int:
    """Prepare a completed tree for prediction; returns the number of levels a prediction must walk.

    out_sig[i] = the signal of node i when all leaves below it give the same one (NaN otherwise). Such
    nodes become always-left, so a walk of the returned depth D ends at a node whose out_sig is the
    answer (D = 0: the whole tree gives one signal). out_used[c]: component c is read by the walk.
    """
    for node in range(2 ** depth - 1, 2 ** (depth + 1) - 1):
        out_sig[node] = signal_from_score_nb(value[node], threshold)
    walk = 0
    out_used[:] = False
    for level in range(depth - 1, -1, -1):  # children before parents
        for node in range(2 ** level - 1, 2 ** (level + 1) - 1):
            left, right = out_sig[2 * node + 1], out_sig[2 * node + 2]
            out_sig[node] = left if left == right else np.nan  # NaN == NaN is False: mixed stays mixed
            if out_sig[node] == out_sig[node]:
                comp[node], thr[node] = 0, np.inf
            else:
                walk = max(walk, level + 1)
                out_used[comp[node]] = True
    return walk


@njit(cache=True, inline="always")
def _predict_segment_nb(x: np.ndarray, usable: np.ndarray, start: int, stop: int, weights: np.ndarray,
                        bias: np.ndarray, comp: np.ndarray, thr: np.ndarray, sig: np.ndarray, walk: int,
                        used: np.ndarray, scores: np.ndarray, nodes: np.ndarray, out: np.ndarray) -> None:
    """out[start:stop] = the model's signals: the used components are scored in one vectorised pass, then
    all bars walk down one level at a time (a bar's walk is a chain of dependent loads; interleaving the
    bars overlaps them); bars with a non-finite feature are flat (a usable sample has finite features,
    so only the others are checked)."""
    m = stop - start
    for c in range(len(used)):
        if used[c]:
            affine_row_nb(x, start, stop, weights, bias, c, scores)
    one, two = np.uint64(1), np.uint64(2)
    nodes[:m] = 0
    for _ in range(walk):
        for i in range(m):
            node = nodes[i]
            go_right = scores[np.uint64(comp[node]), np.uint64(i)] > thr[node]
            nodes[i] = two * node + one + (one if go_right else np.uint64(0))
    for i in range(m):
        t = start + i
        if usable[t]:
            out[t] = sig[nodes[i]]
        else:
            out[t] = sig[nodes[i]] if features_finite_nb(x, t) else 0.0


@njit(cache=True, inline="always")
def _refit_nb(x: np.ndarray, y: np.ndarray, usable: np.ndarray, cum: np.ndarray, t: int, lookback: int,
              depth: int, quantile: float, min_leaf: int, pca: _PcaScratch, tree: _TreeScratch, weights: np.ndarray,
              bias: np.ndarray, comp: np.ndarray, thr: np.ndarray, value: np.ndarray) -> bool:
    """Refit the model (weights, bias, comp, thr, value) at the close of bar t on samples s in
    [t - lookback, t - 1] (their labels are known at t's close). False (model untouched) when the window
    cannot be standardised."""
    window_moments_nb(cum, t, lookback, pca.moments)
    if not standardise_nb(pca):
        return False
    count = int(pca.moments[0, 0])  # usable samples in the window
    if _splittable_nb(count, quantile, min_leaf):
        fit_pca_nb(pca, weights, bias)
        _training_set_nb(x, y, usable, max(t - lookback, 0), t, weights, bias, count, tree.rows[0])
        tree.label_sums[0] = _root_sums_nb(pca, weights, tree.sums[0])
    else:  # a single leaf, the window's mean label: no scores needed (prediction reads none)
        tree.label_sums[0] = pca.moments[LABEL, 0]
    _grow_tree_nb(tree, count, depth, quantile, min_leaf, comp, thr, value)
    return True


@njit(cache=True)
def pca_tree_quantile_from_bank_1d_nb(genes: np.ndarray, x: np.ndarray, y: np.ndarray, usable: np.ndarray,
                                      cum: np.ndarray, out: np.ndarray) -> None:
    """The signal from a prebuilt learning bank (features x, labels y, usable samples, moments cum).

    The model (score_c = weights[c] @ x + bias[c]; a heap-indexed tree, children of node i 2i+1 and 2i+2,
    with split component comp (-1: leaf), threshold thr (go left when <=), mean label value and the
    signal sig of _prediction_tree_nb) and every buffer are allocated once for the whole pass.
    """
    n_comp, depth = int(param_nb(genes, _BOUNDS, 0)), int(param_nb(genes, _BOUNDS, 1))
    quantile, lookback = param_nb(genes, _BOUNDS, 2), int(param_nb(genes, _BOUNDS, 3))
    refit, threshold = int(param_nb(genes, _BOUNDS, 4)), param_nb(genes, _BOUNDS, 5)
    min_leaf = int(param_nb(genes, _BOUNDS, 6))
    n_nodes = 2 ** (depth + 1) - 1
    weights, bias = np.empty((n_comp, N_FEATURES)), np.empty(n_comp)
    comp, thr = np.full(n_nodes, -1, dtype=np.int64), np.empty(n_nodes)
    value, sig = np.empty(n_nodes), np.empty(n_nodes)
    pca, tree = _new_pca_scratch_nb(), _new_tree_scratch_nb(n_comp, n_nodes, lookback)
    scores, used = np.empty((n_comp, refit)), np.empty(n_comp, dtype=np.bool_)
    nodes = np.empty(refit, dtype=np.uint64)
    fitted, walk = False, 0
    for start in range(0, len(out), refit):  # refits at t % refit == 0; the model serves until the next
        stop = min(start + refit, len(out))
        if _refit_nb(x, y, usable, cum, start, lookback, depth, quantile, min_leaf, pca, tree, weights, bias, comp, thr,
                     value):
            fitted = True
            walk = _prediction_tree_nb(comp, thr, value, depth, threshold, sig, used)
        if fitted:
            _predict_segment_nb(x, usable, start, stop, weights, bias, comp, thr, sig, walk, used, scores, nodes, out)
        else:
            out[start:stop] = 0.0


@njit(cache=True)
def pca_tree_quantile_1d_nb(genes: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                            close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    x, y, usable, cum = learning_bank_nb(high, low, close, volume)
    pca_tree_quantile_from_bank_1d_nb(genes, x, y, usable, cum, out)
