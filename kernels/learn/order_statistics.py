"""The k-th smallest value of a slice of a row buffer, by counting passes instead of sorting.

    kth_smallest_nb(rows, buf, r, a, m, k, guess, spread) == np.sort(rows[buf, r, a:a + m])[k]

The regression tree (kernels.learn.regression_tree) splits each node at an order statistic of its
samples' scores; the samples sit in a row of a 3-D buffer (rows[buf, r, :]), so the slice is read in
place, indexed and never viewed (a view costs a reference count, ~15 ns).
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["SELECT_FEW", "SELECT_PASSES", "kth_smallest_nb"]

SELECT_FEW = 8  # kth_smallest_nb narrows its pivots once this few values remain in its bracket
SELECT_PASSES = 32  # counting passes before kth_smallest_nb falls back to sorting its bracket (ties)


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
def kth_smallest_nb(rows: np.ndarray, buf: int, r: int, a: int, m: int, k: int, guess: float,
                    spread: float) -> float:
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
