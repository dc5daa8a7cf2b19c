"""Ichimoku cloud, with the cloud as known at bar t (spans projected `kijun` bars earlier, no chikou).

mode 0, TK cross: long while tenkan > kijun, short while below.
mode 1, cloud breakout: long while the close is above the cloud, short below it, flat inside.
mode 2, both: the TK side when the close is on the same side of the cloud, else flat.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.indicators import ichimoku_1d_nb as ichimoku_lines_1d_nb

MODE_TK_CROSS = 0
MODE_CLOUD = 1
MODE_BOTH = 2
BOUNDS = (
    GeneSpec("tenkan", 7, 12, KIND_INT),  # bars
    GeneSpec("kijun", 20, 34, KIND_INT),  # bars; also the cloud's displacement
    GeneSpec("senkou_b", 40, 80, KIND_INT),  # bars
    GeneSpec("mode", 0, 2, KIND_INT),
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def ichimoku_1d_nb(genes: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                   close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    kijun_window = int(param_nb(genes, _BOUNDS, 1))
    mode = int(param_nb(genes, _BOUNDS, 3))
    n = len(close)
    tenkan, kijun, span_a, span_b = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    ichimoku_lines_1d_nb(high, low, int(param_nb(genes, _BOUNDS, 0)), kijun_window, int(param_nb(genes, _BOUNDS, 2)),
                         kijun_window, tenkan, kijun, span_a, span_b)
    for t in range(n):
        tk = np.sign(tenkan[t] - kijun[t])  # NaN in warm-up
        top, bottom = max(span_a[t], span_b[t]), min(span_a[t], span_b[t])
        cloud = 1.0 if close[t] > top else (-1.0 if close[t] < bottom else 0.0)
        if np.isnan(tk) or np.isnan(span_a[t]) or np.isnan(span_b[t]):
            out[t] = 0.0
        elif mode == MODE_TK_CROSS:
            out[t] = tk
        elif mode == MODE_CLOUD:
            out[t] = cloud
        else:
            out[t] = tk if tk == cloud else 0.0
