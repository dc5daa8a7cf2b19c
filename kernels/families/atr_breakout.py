"""ATR volatility breakout with an ATR trailing stop: enter long when the close jumps more than
`breakout` x ATR above the previous close (short on the same drop); exit when the close falls
`trail` x ATR below the best close since entry (rises above the lowest, for a short)."""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.indicators import true_range_nb

__all__ = ["BOUNDS", "atr_breakout_1d_nb"]

BOUNDS = (
    GeneSpec("atr_window", 7, 30, KIND_INT),  # bars
    GeneSpec("breakout", 0.5, 3.0, KIND_FLOAT),  # x ATR of the previous bar
    GeneSpec("trail", 1.0, 5.0, KIND_FLOAT),  # x ATR
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def atr_breakout_1d_nb(genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                       close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring).

    Wilder's ATR (the mean of the first `window` true ranges, then ATR = (ATR (window - 1) + TR) / window)
    is carried times the window: scaled = window x ATR follows scaled = scaled * (window - 1) / window + TR,
    so the dependency chain has no division, and the multipliers are divided by the window once. Flat until
    ATR[t - 1] exists (t >= window).
    """
    window = int(param_nb(genes, _BOUNDS, 0))
    breakout = param_nb(genes, _BOUNDS, 1) / window  # x window x ATR
    trail = param_nb(genes, _BOUNDS, 2) / window
    decay = (window - 1.0) / window
    n = len(close)
    scaled = 0.0  # window x ATR: the sum of the first `window` true ranges, then Wilder's update
    for t in range(min(window, n)):
        scaled += true_range_nb(high[t], low[t], close[t - 1]) if t > 0 else high[0] - low[0]
        out[t] = 0.0
    side, extreme = 0.0, 0.0  # extreme: best close since entry
    # views aligned on i = t - window (no index wraparound in the loop)
    high_t, low_t, close_t, out_t = high[window:], low[window:], close[window:], out[window:]
    before = close[window - 1:n - 1]
    for i in range(n - window):
        price, previous_close = close_t[i], before[i]
        previous = scaled
        scaled = scaled * decay + true_range_nb(high_t[i], low_t[i], previous_close)
        if side > 0.0:
            extreme = max(extreme, price)
            if price < extreme - trail * scaled:
                side = 0.0
        elif side < 0.0:
            extreme = min(extreme, price)
            if price > extreme + trail * scaled:
                side = 0.0
        move = price - previous_close
        if move > breakout * previous and side <= 0.0:
            side, extreme = 1.0, price
        elif -move > breakout * previous and side >= 0.0:
            side, extreme = -1.0, price
        out_t[i] = side
