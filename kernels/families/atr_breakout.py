"""ATR volatility breakout with an ATR trailing stop: enter long when the close jumps more than
`breakout` x ATR above the previous close (short on the same drop); exit when the close falls
`trail` x ATR below the best close since entry (rises above the lowest, for a short)."""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.indicators import atr_1d_nb

BOUNDS = (
    GeneSpec("atr_window", 7, 30, KIND_INT),  # bars
    GeneSpec("breakout", 0.5, 3.0, KIND_FLOAT),  # x ATR of the previous bar
    GeneSpec("trail", 1.0, 5.0, KIND_FLOAT),  # x ATR
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def atr_breakout_1d_nb(genes: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                       close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    breakout, trail = param_nb(genes, _BOUNDS, 1), param_nb(genes, _BOUNDS, 2)
    n = len(close)
    atr = np.empty(n)
    atr_1d_nb(high, low, close, int(param_nb(genes, _BOUNDS, 0)), atr)
    side, extreme = 0.0, 0.0  # extreme: best close since entry
    for t in range(n):
        if t == 0 or np.isnan(atr[t - 1]):
            out[t] = 0.0
            continue
        if side > 0.0:
            extreme = max(extreme, close[t])
            if close[t] < extreme - trail * atr[t]:
                side = 0.0
        elif side < 0.0:
            extreme = min(extreme, close[t])
            if close[t] > extreme + trail * atr[t]:
                side = 0.0
        move = close[t] - close[t - 1]
        if move > breakout * atr[t - 1] and side <= 0.0:
            side, extreme = 1.0, close[t]
        elif -move > breakout * atr[t - 1] and side >= 0.0:
            side, extreme = -1.0, close[t]
        out[t] = side
