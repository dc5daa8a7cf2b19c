"""Ichimoku cloud, with the cloud as known at bar t (spans projected `kijun` bars earlier, no chikou).

mode 0, TK cross: long while tenkan > kijun, short while below.
mode 1, cloud breakout: long while the close is above the cloud, short below it, flat inside.
mode 2, both: the TK side when the close is on the same side of the cloud, else flat.

Extremes table: the three lines are rolling midpoints of high and low over three windows, all read
from one sparse table of rolling extremes (kernels.rolling_extremes.extremes_table_nb); the table does not
depend on the genome, so evaluate() can build it once per market (`ichimoku_from_table_1d_nb`,
bit-identical to `ichimoku_1d_nb`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.rolling_extremes import extremes_levels_nb, extremes_table_nb, table_midpoint_1d_nb

__all__ = ["MODE_TK_CROSS", "MODE_CLOUD", "MODE_BOTH", "BOUNDS", "TABLE_LEVELS", "ichimoku_from_table_1d_nb",
           "ichimoku_1d_nb"]

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
TABLE_LEVELS = 7  # extremes-table rows that cover every window of BOUNDS (senkou_b <= 80 < 2^7)


@njit(cache=True)
def _ichimoku_side_nb(tenkan: float, kijun: float, span_a: float, span_b: float, price: float, tk_weight: float,
                      cloud_weight: float) -> float:
    """The mode's side from the lines at t and the cloud (spans) drawn earlier; 0 if any is NaN (warm-up).

    tk = sign(tenkan - kijun), cloud = sign of the close outside the cloud. Mode weights (tk, cloud):
    TK cross (1, 0), cloud (0, 1), both (1, 1), which takes tk where it agrees with the cloud."""
    top, bottom = max(span_a, span_b), min(span_a, span_b)
    tk = (1.0 if tenkan > kijun else 0.0) - (1.0 if tenkan < kijun else 0.0)
    cloud = (1.0 if price > top else 0.0) - (1.0 if price < bottom else 0.0)
    side = cloud if tk_weight == 0.0 else (tk if cloud_weight == 0.0 or tk == cloud else 0.0)
    defined = tenkan == tenkan and kijun == kijun and span_a == span_a and span_b == span_b
    return side if defined else 0.0


@njit(cache=True)
def ichimoku_from_table_1d_nb(genes: np.ndarray, close: np.ndarray, table_max: np.ndarray, table_min: np.ndarray,
                              out: np.ndarray) -> None:
    """The signal from extremes_table_nb(high, low, >= TABLE_LEVELS rows).

    Stateless per bar: the last pass reads the lines at t and `kijun` bars earlier through aligned views
    and is branch-free, so it vectorises.
    """
    tenkan_window, kijun_window = int(param_nb(genes, _BOUNDS, 0)), int(param_nb(genes, _BOUNDS, 1))
    mode = int(param_nb(genes, _BOUNDS, 3))
    n = len(close)
    tenkan, kijun, senkou_b = np.empty(n), np.empty(n), np.empty(n)
    table_midpoint_1d_nb(table_max, table_min, tenkan_window, tenkan)
    table_midpoint_1d_nb(table_max, table_min, kijun_window, kijun)
    table_midpoint_1d_nb(table_max, table_min, int(param_nb(genes, _BOUNDS, 2)), senkou_b)
    lag = min(kijun_window, n)  # the cloud at t was drawn `kijun` bars earlier
    out[:lag] = 0.0
    tk_weight = 1.0 if mode != MODE_CLOUD else 0.0
    cloud_weight = 1.0 if mode != MODE_TK_CROSS else 0.0
    tenkan_now, kijun_now, close_now, out_now = tenkan[lag:], kijun[lag:], close[lag:], out[lag:]
    tenkan_then, kijun_then, senkou_b_then = tenkan[:n - lag], kijun[:n - lag], senkou_b[:n - lag]
    for i in range(n - lag):
        span_a = 0.5 * (tenkan_then[i] + kijun_then[i])
        out_now[i] = _ichimoku_side_nb(tenkan_now[i], kijun_now[i], span_a, senkou_b_then[i], close_now[i],
                                       tk_weight, cloud_weight)


@njit(cache=True)
def ichimoku_1d_nb(genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                   close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring); builds the rows of the table this genome needs."""
    levels = extremes_levels_nb(max(int(param_nb(genes, _BOUNDS, 2)), int(param_nb(genes, _BOUNDS, 1))))
    table_max, table_min = extremes_table_nb(high, low, levels)
    ichimoku_from_table_1d_nb(genes, close, table_max, table_min, out)
