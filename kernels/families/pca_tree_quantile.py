"""Walk-forward PCA + shallow quantile-split regression tree on the learning features.

Every `refit` bars (t % refit == 0), on the last `lookback` bars' samples (labels known at t):
  1. standardise the features and take the top `components` eigenvectors of their correlation matrix;
  2. grow a tree of depth <= `depth` on the component scores: each node splits at the `quantile` of
     one component's scores in the node, the component most correlated with the label there (a
     one-pass choice: trying every component's split would cost `components` times more), if both
     children keep `min_leaf` samples; leaves predict their mean label (the next bar's vol-normalised
     return).
Between refits the last model predicts; the position is the sign of the leaf value when it clears
+-threshold. The window's mean and covariance come from the moment bank (kernels.learn.features).

The learning blocks live in kernels.learn (PCA: pca, linalg; the tree: regression_tree,
order_statistics); this module holds the family: its genes, its cost model, and the glue that fits
and predicts (training set, root sums, prediction tree).

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
- the training scores are one vectorised pass per component (kernels.learn.features.affine_row_nb);
- the tree's root sums come from the decomposition (_root_sums_nb), and the tree grows on contiguous
  rows with vectorised passes and no sorting (kernels.learn.regression_tree);
- prediction first merges subtrees whose leaves all give the same signal (_prediction_tree_nb), so a
  bar walks fewer levels, often none, and only the components the walk reads are scored.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, KIND_LOG, GeneSpec, bounds_array, param_nb
from kernels.learn.features import (LABEL, N_FEATURES, affine_row_nb, features_finite_nb, learning_bank_nb,
                                    signal_from_score_nb, window_moments_nb)
from kernels.learn.pca import PcaScratch, fit_pca_nb, new_pca_scratch_nb, standardise_nb
from kernels.learn.regression_tree import TreeScratch, grow_tree_nb, new_tree_scratch_nb, splittable_nb

__all__ = ["BOUNDS", "MIN_SAMPLES", "cost_estimate_nb", "pca_tree_quantile_from_bank_1d_nb", "pca_tree_quantile_1d_nb"]

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


# Cost model, for scheduling only (kernels.evaluate balances its threads with it; no result depends on
# it): ns on one core of the 2-core dev machine, positions plus simulation, fitted to 150 random genomes on
# 8,760 hourly BTC bars (R^2 0.95; the cost varies ~45x with the genes).
_COST_NS_PER_BAR = 12.8
_COST_NS_PER_REFIT = 2590.0  # moments, decomposition, training scores
_COST_NS_PER_SAMPLE_PASS = 0.97  # tree growth: passes over the window's samples
_COST_NS_PER_SINGLE_LEAF = 300.0  # a refit whose window cannot split: moments and standardisation only


@njit(cache=True)
def cost_estimate_nb(genes: np.ndarray, n_bars: int) -> float:
    """Estimated ns to evaluate this genome on n_bars: a per-bar part plus, per refit, a fixed part and
    the tree's passes (per level that can still split: a selection, the children's sums and a partition
    of every row, ~components + 2 passes); a window too small for a split is a single leaf, almost free."""
    n_comp, depth = int(param_nb(genes, _BOUNDS, 0)), int(param_nb(genes, _BOUNDS, 1))
    quantile, lookback = param_nb(genes, _BOUNDS, 2), int(param_nb(genes, _BOUNDS, 3))
    refit, min_leaf = int(param_nb(genes, _BOUNDS, 4)), int(param_nb(genes, _BOUNDS, 6))
    refits = (n_bars + refit - 1) // refit
    if not splittable_nb(lookback, quantile, min_leaf):
        return n_bars * _COST_NS_PER_BAR + refits * _COST_NS_PER_SINGLE_LEAF
    # Level L's nodes hold ~lookback / 2^L samples and split only with 2 * min_leaf of them.
    levels = min(depth, int(np.log2(lookback / (2 * min_leaf))) + 1)
    passes = n_comp + levels * (n_comp + 2)
    return n_bars * _COST_NS_PER_BAR + refits * (_COST_NS_PER_REFIT + _COST_NS_PER_SAMPLE_PASS * lookback * passes)


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
def _root_sums_nb(pca: PcaScratch, weights: np.ndarray, out_sums: np.ndarray) -> float:
    """The root's per-component sums (sum z, sum z^2, sum z y; see TreeScratch.sums) from the fitted PCA,
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
              depth: int, quantile: float, min_leaf: int, pca: PcaScratch, tree: TreeScratch, weights: np.ndarray,
              bias: np.ndarray, comp: np.ndarray, thr: np.ndarray, value: np.ndarray) -> bool:
    """Refit the model (weights, bias, comp, thr, value) at the close of bar t on samples s in
    [t - lookback, t - 1] (their labels are known at t's close). False (model untouched) when the window
    cannot be standardised."""
    window_moments_nb(cum, t, lookback, pca.moments)
    if not standardise_nb(pca, MIN_SAMPLES):
        return False
    count = int(pca.moments[0, 0])  # usable samples in the window
    if splittable_nb(count, quantile, min_leaf):
        fit_pca_nb(pca, weights, bias)
        _training_set_nb(x, y, usable, max(t - lookback, 0), t, weights, bias, count, tree.rows[0])
        tree.label_sums[0] = _root_sums_nb(pca, weights, tree.sums[0])
    else:  # a single leaf, the window's mean label: no scores needed (prediction reads none)
        tree.label_sums[0] = pca.moments[LABEL, 0]
    grow_tree_nb(tree, count, depth, quantile, min_leaf, comp, thr, value)
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
    pca, tree = new_pca_scratch_nb(), new_tree_scratch_nb(n_comp, n_nodes, lookback)
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
def pca_tree_quantile_1d_nb(genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                            close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    x, y, usable, cum = learning_bank_nb(high, low, close, volume)
    pca_tree_quantile_from_bank_1d_nb(genes, x, y, usable, cum, out)
