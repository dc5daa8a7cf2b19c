"""SMA trend filter: long while the fast SMA is above the slow SMA by more than `strength`, short while
below by more than it, flat when the trend is weaker (no position in a range-bound market)."""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb

__all__ = ["BOUNDS", "sma_trend_1d_nb"]

BOUNDS = (
    GeneSpec("fast_window", 20, 100, KIND_INT),  # bars
    GeneSpec("slow_window", 100, 300, KIND_INT),  # bars
    GeneSpec("strength", 0.0, 0.05, KIND_FLOAT),  # min |fast / slow - 1|
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def _side_nb(fast_total: float, slow_total: float, fast_window: int, slow_window: int, up: float,
             down: float) -> float:
    """1 / -1 / 0 for fast / slow above up, below down, or between (prices are positive).

    fast / slow is compared as fast_total * slow_window against slow_total * fast_window: no division."""
    fast, slow = fast_total * slow_window, slow_total * fast_window
    return 1.0 if fast > slow * up else (-1.0 if fast < slow * down else 0.0)


@njit(cache=True)
def sma_trend_1d_nb(genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                    close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring).

    Both SMAs run in one pass as running sums, each updated by (entering - leaving) close: one add per
    bar on each sum's dependency chain. Flat until the slow window is full (fast_window <= slow_window).
    """
    fast_window, slow_window = int(param_nb(genes, _BOUNDS, 0)), int(param_nb(genes, _BOUNDS, 1))
    strength = param_nb(genes, _BOUNDS, 2)
    up, down = 1.0 + strength, 1.0 - strength
    n = len(close)
    fast_total, slow_total = 0.0, 0.0
    for t in range(min(slow_window, n)):  # filling the slow window
        fast_total += close[t] - (close[t - fast_window] if t >= fast_window else 0.0)
        slow_total += close[t]
        full = t == slow_window - 1
        out[t] = _side_nb(fast_total, slow_total, fast_window, slow_window, up, down) if full else 0.0
    for t in range(slow_window, n):
        fast_total += close[t] - close[t - fast_window]
        slow_total += close[t] - close[t - slow_window]
        out[t] = _side_nb(fast_total, slow_total, fast_window, slow_window, up, down)
