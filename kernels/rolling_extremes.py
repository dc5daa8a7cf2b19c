"""Rolling highs and lows, and the indicators made of them: causal, out[t] from bars 0..t only.

    rolling_max_min_1d_nb(high, low, window, out_max, out_min)   one window, O(N) (van Herk / Gil-Werman)
    extremes_table_nb(high, low, levels) -> (table_max, table_min)   every window below 2^levels ...
    table_max_min_1d_nb / table_midpoint_1d_nb(table_max, table_min, window, ...)   ... in two lookups

The extremes table is market-wide: evaluate() builds it once and the Donchian, stochastic and Ichimoku
families read any window from it (kernels.families.*_from_table_1d_nb), bit-identical to a rolling
max / min per genome (max and min are exact). Conventions as kernels.indicators: preallocated `out`
arrays of length N, NaN during the warm-up.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.indicators import check_window_nb

__all__ = ["rolling_max_min_1d_nb", "extremes_levels_nb", "extremes_table_nb", "table_max_min_1d_nb",
           "table_midpoint_1d_nb", "percent_k_1d_nb"]


@njit(cache=True)
def _running_extremes_nb(high: np.ndarray, low: np.ndarray, out_max: np.ndarray, out_min: np.ndarray) -> None:
    """Running max of `high` and min of `low` from the first element on (views, so also backwards).

    One loop for both series: their two max / min dependency chains overlap instead of running one
    after the other."""
    best_max, best_min = -np.inf, np.inf
    for i in range(len(high)):
        best_max = max(best_max, high[i])
        best_min = min(best_min, low[i])
        out_max[i] = best_max
        out_min[i] = best_min


@njit(cache=True)
def rolling_max_min_1d_nb(high: np.ndarray, low: np.ndarray, window: int, out_max: np.ndarray,
                          out_min: np.ndarray) -> None:
    """Rolling max of `high` and min of `low` over bars t-window+1..t, O(N); NaN for t < window - 1.

    van Herk / Gil-Werman: the bars are cut into blocks of `window`; a backward sweep stores the max from
    each bar to its block's end (suffix), a forward sweep the max from its block's start to the bar. The
    window ending at t spans the end of one block and the start of the next: max(suffix[t - window + 1],
    forward[t]). suffix[j] looks forward to its block's end, at most j + window - 1 = t, so no value after
    t is used (and max is exact, so the result does not depend on where the data ends).
    """
    check_window_nb(window)
    n = len(high)
    suffix_max = np.empty(n)
    suffix_min = np.empty(n)
    for start in range(0, n, window):
        stop = min(start + window, n)
        _running_extremes_nb(high[start:stop][::-1], low[start:stop][::-1], suffix_max[start:stop][::-1],
                             suffix_min[start:stop][::-1])
        _running_extremes_nb(high[start:stop], low[start:stop], out_max[start:stop], out_min[start:stop])
    head = min(window - 1, n)
    suffix_max, suffix_min = suffix_max[:n - head], suffix_min[:n - head]  # aligned views: no index wraparound
    tail_max, tail_min = out_max[head:], out_min[head:]
    for i in range(n - head):  # in place in one loop: vectorises (a helper could not tell out from an input)
        tail_max[i] = max(suffix_max[i], tail_max[i])
        tail_min[i] = min(suffix_min[i], tail_min[i])
    out_max[:head] = np.nan
    out_min[:head] = np.nan


@njit(cache=True)
def _table_level_nb(window: int) -> int:
    """floor(log2(window)): the table row whose span 2^level covers at least half of the window."""
    level = 0
    while 2 << level <= window:
        level += 1
    return level


@njit(cache=True)
def extremes_levels_nb(window: int) -> int:
    """Rows an extremes table needs to serve windows of up to `window` bars."""
    return _table_level_nb(window) + 1


@njit(cache=True)
def extremes_table_nb(high: np.ndarray, low: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Sparse table of rolling extremes: float64[levels, N] pair, row j = max of `high` / min of `low` over
    bars t-2^j+1..t (over bars 0..t while t < 2^j - 1). Row j is row j - 1 doubled: max(row[t],
    row[t - 2^(j-1)]), a vectorised pass; rows of high and low share the loop.

    Any window of w < 2^levels bars is then two lookups (table_max_min_1d_nb): the market-wide table
    serves every window, so a population can share it.
    """
    n = len(high)
    table_max, table_min = np.empty((levels, n)), np.empty((levels, n))
    if levels > 0:
        table_max[0] = high
        table_min[0] = low
    for j in range(1, levels):
        span = 1 << (j - 1)
        head = min(span, n)
        table_max[j, :head] = table_max[j - 1, :head]
        table_min[j, :head] = table_min[j - 1, :head]
        _combine_extremes_nb(table_max[j - 1, span:], table_min[j - 1, span:], table_max[j - 1, :n - span],
                             table_min[j - 1, :n - span], table_max[j, span:], table_min[j, span:])
    return table_max, table_min


@njit(cache=True)
def _combine_extremes_nb(max_a: np.ndarray, min_a: np.ndarray, max_b: np.ndarray, min_b: np.ndarray,
                         out_max: np.ndarray, out_min: np.ndarray) -> None:
    """Element-wise out_max = max(max_a, max_b), out_min = min(min_a, min_b) (aligned views: vectorises)."""
    for i in range(len(out_max)):
        out_max[i] = max(max_a[i], max_b[i])
        out_min[i] = min(min_a[i], min_b[i])


@njit(cache=True)
def _table_span_nb(table_max: np.ndarray, window: int) -> tuple[int, int]:
    """(level, shift) for a window of an extremes table: with span = 2^level the largest power of two
    <= window, bars t-window+1..t are the row's spans ending at t and at t - shift (they overlap,
    harmless for a max), shift = window - span."""
    check_window_nb(window)
    level = _table_level_nb(window)
    if level >= table_max.shape[0]:
        raise ValueError("window needs more table levels (extremes_levels_nb(window))")
    return level, window - (1 << level)


@njit(cache=True)
def table_max_min_1d_nb(table_max: np.ndarray, table_min: np.ndarray, window: int, out_max: np.ndarray,
                        out_min: np.ndarray) -> None:
    """rolling_max_min_1d_nb from an extremes_table_nb (same values: max is exact); NaN for t < window - 1."""
    level, shift = _table_span_nb(table_max, window)
    n = table_max.shape[1]
    head = min(window - 1, n)
    row_max, row_min = table_max[level], table_min[level]
    _combine_extremes_nb(row_max[head:], row_min[head:], row_max[head - shift:n - shift],
                         row_min[head - shift:n - shift], out_max[head:], out_min[head:])
    out_max[:head] = np.nan
    out_min[:head] = np.nan


@njit(cache=True)
def table_midpoint_1d_nb(table_max: np.ndarray, table_min: np.ndarray, window: int, out: np.ndarray) -> None:
    """(rolling max of high + rolling min of low) / 2 over the last `window` bars (Ichimoku's lines), from
    an extremes_table_nb in one vectorised pass (the lookups of table_max_min_1d_nb); NaN for t < window - 1."""
    level, shift = _table_span_nb(table_max, window)
    n = table_max.shape[1]
    head = min(window - 1, n)
    max_now, max_then = table_max[level, head:], table_max[level, head - shift:n - shift]
    min_now, min_then = table_min[level, head:], table_min[level, head - shift:n - shift]
    tail = out[head:]
    for i in range(n - head):
        tail[i] = 0.5 * (max(max_now[i], max_then[i]) + min(min_now[i], min_then[i]))
    out[:head] = np.nan


@njit(cache=True, error_model="numpy")
def percent_k_1d_nb(highest: np.ndarray, lowest: np.ndarray, close: np.ndarray, out: np.ndarray) -> None:
    """%K = 100 (close - lowest) / (highest - lowest) from a rolling high / low; 50 when they are equal,
    NaN where they are NaN. Element-wise, so out may be highest or lowest, but a distinct out lets the
    divisions vectorise (error_model="numpy": no zero check per division; hh > ll guards it)."""
    for t in range(len(close)):
        hh, ll = highest[t], lowest[t]
        out[t] = 100.0 * (close[t] - ll) / (hh - ll) if hh > ll else (50.0 if hh == ll else np.nan)


