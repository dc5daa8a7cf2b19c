"""A shallow regression tree whose nodes split at a quantile of one score: the pca_tree_quantile family's
model (kernels.families.pca_tree_quantile), grown on contiguous rows of scores and labels.

    grow_tree_nb(scratch, count, depth, quantile, min_leaf, out_comp, out_thr, out_value)

Heap-indexed (children of node i are 2i+1 and 2i+2), 2^(depth+1) - 1 nodes. Each node splits on the
component whose scores are most correlated with the label there (a one-pass choice from sums kept for
every node: trying every component's split would cost `components` times more), at that component's
`quantile` within the node, if both children keep `min_leaf` samples; every node's value is its mean
label, and leaves above the last level are completed down to it (always-left splits), so a prediction
walks exactly `depth` levels.

Cost O(count * depth * components), allocation-free (TreeScratch lives as long as a genome's pass):
- the tree grows level by level on contiguous rows (scores and labels) that a split copies, stably
  partitioned, into the other of two buffers; a child's sums come from its parent's pass (the root's are
  the caller's), so choosing a split component costs no pass over the samples;
- node sums are reassociated so that numba vectorises them; the split point is found by counting
  passes that close in on the quantile (kernels.learn.order_statistics.kth_smallest_nb), not by sorting;
- hot loops index with unsigned integers (numba then skips its negative-index handling, which blocks
  vectorisation) and create no array views (each costs a reference count).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from kernels.learn.order_statistics import kth_smallest_nb

__all__ = ["TreeScratch", "new_tree_scratch_nb", "splittable_nb", "grow_tree_nb"]


@njit(cache=True, inline="always")
def splittable_nb(m: int, quantile: float, min_leaf: int) -> bool:
    """Whether a node of m samples may split: its `quantile`'s rank k (0-based) leaves min_leaf samples on
    either side (k + 1 at or below it, m - k - 1 above)."""
    k = int(quantile * (m - 1))
    return k + 1 >= min_leaf and m - k - 1 >= min_leaf


class TreeScratch(NamedTuple):
    """grow_tree_nb's buffers."""

    rows: np.ndarray  # float64[2, C + 1, lookback] training scores (rows 0..C-1) and labels (row C); two
    #                   buffers that alternate between tree levels
    dest: np.ndarray  # uint64[lookback] partition destinations
    start: np.ndarray  # int64[nodes] first sample of each node (in its level's buffer)
    stop: np.ndarray  # int64[nodes]
    sums: np.ndarray  # float64[nodes, C, 3] each node's sum z, sum z^2, sum z y per component
    label_sums: np.ndarray  # float64[nodes] each node's sum y


@njit(cache=True)
def new_tree_scratch_nb(n_comp: int, n_nodes: int, lookback: int) -> TreeScratch:
    return TreeScratch(np.empty((2, n_comp + 1, lookback)), np.empty(lookback, dtype=np.uint64),
                       np.empty(n_nodes, dtype=np.int64), np.empty(n_nodes, dtype=np.int64),
                       np.empty((n_nodes, n_comp, 3)), np.empty(n_nodes))


@njit(cache=True, inline="always")
def _split_component_nb(sums: np.ndarray, node: int, m: int, label_sum: float) -> tuple[int, float, float]:
    """(component, its mean, its std) for a node of m samples from its sums (see TreeScratch): the
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
def _normal_quantile_nb(q: float) -> float:
    """Rough standard-normal quantile (logistic approximation, within ~0.05 for q in [0.05, 0.95]): only a
    starting pivot for kth_smallest_nb."""
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
def grow_tree_nb(scratch: TreeScratch, count: int, depth: int, quantile: float, min_leaf: int,
                 out_comp: np.ndarray, out_thr: np.ndarray, out_value: np.ndarray) -> None:
    """Grow a heap-indexed tree of 2^(depth+1) - 1 nodes on samples 0..count-1 of rows[0] = scratch.rows[0]
    (rows[0, c, i]: score of sample i on component c; rows[0, C, i]: its label), whose sums (see
    TreeScratch) are in scratch.sums[0] and scratch.label_sums[0].

    Each node splits on its most label-correlated component at that component's `quantile` within the
    node (go left when <=), if the quantile's rank leaves min_leaf samples on either side (splittable_nb)
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
            if not splittable_nb(m, quantile, min_leaf):  # too small to split (or below a leaf)
                continue
            c, mean, std = _split_component_nb(sums, node, m, label_sums[node])
            k = int(quantile * (m - 1))
            guess = mean + std * _normal_quantile_nb((k + 0.5) / m)
            threshold = kth_smallest_nb(rows, buf, c, a, m, k, guess, 0.25 * std)
            n_left, sum_left, sum_right = _label_sums_nb(rows, buf, c, a, m, threshold)
            if n_left < min_leaf or m - n_left < min_leaf:
                continue  # ties at the threshold: stays a leaf
            out_comp[node], out_thr[node] = c, threshold
            left, right = 2 * node + 1, 2 * node + 2
            start[left], stop[left], start[right], stop[right] = a, a + n_left, a + n_left, a + m
            out_value[left], out_value[right] = sum_left / n_left, sum_right / (m - n_left)
            label_sums[left], label_sums[right] = sum_left, sum_right
            if level + 1 == depth or not (splittable_nb(n_left, quantile, min_leaf)
                                         or splittable_nb(m - n_left, quantile, min_leaf)):
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
