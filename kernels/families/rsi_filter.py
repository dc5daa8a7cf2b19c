"""RSI filter (Wilder RSI).

mode 0, mean reversion: long below `oversold`, short above `overbought`, out when RSI crosses back to 50.
mode 1, trend pullback: trend = close vs its EMA(trend_window); in an up-trend buy a dip below `oversold`
and hold until RSI exceeds `overbought` or the trend turns; mirror image in a down-trend.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.indicators import ema_1d_nb, rsi_1d_nb

MODE_MEAN_REVERSION = 0
MODE_TREND_PULLBACK = 1
BOUNDS = (
    GeneSpec("period", 5, 30, KIND_INT),  # bars
    GeneSpec("oversold", 15.0, 40.0, KIND_FLOAT),  # RSI points
    GeneSpec("overbought", 60.0, 85.0, KIND_FLOAT),  # RSI points
    GeneSpec("mode", 0, 1, KIND_INT),
    GeneSpec("trend_window", 50, 200, KIND_INT),  # bars, mode 1 only
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def _mean_reversion_step_nb(side: float, rsi: float, oversold: float, overbought: float) -> float:
    if rsi < oversold:
        return 1.0
    if rsi > overbought:
        return -1.0
    if (side > 0.0 and rsi >= 50.0) or (side < 0.0 and rsi <= 50.0):
        return 0.0
    return side


@njit(cache=True)
def _pullback_step_nb(side: float, rsi: float, trend: float, oversold: float, overbought: float) -> float:
    if side * trend < 0.0:  # the trend turned against the position
        side = 0.0
    if trend > 0.0:
        if rsi < oversold:
            return 1.0
        return 0.0 if rsi > overbought else side
    if trend < 0.0:
        if rsi > overbought:
            return -1.0
        return 0.0 if rsi < oversold else side
    return side


@njit(cache=True)
def rsi_filter_1d_nb(genes: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                     close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    period = int(param_nb(genes, _BOUNDS, 0))
    oversold, overbought = param_nb(genes, _BOUNDS, 1), param_nb(genes, _BOUNDS, 2)
    mode = int(param_nb(genes, _BOUNDS, 3))
    n = len(close)
    rsi = np.empty(n)
    trend_ema = np.empty(n)
    rsi_1d_nb(close, period, rsi)
    ema_1d_nb(close, int(param_nb(genes, _BOUNDS, 4)), trend_ema)
    side = 0.0
    for t in range(n):
        if np.isnan(rsi[t]) or (mode == MODE_TREND_PULLBACK and np.isnan(trend_ema[t])):
            side = 0.0
        elif mode == MODE_MEAN_REVERSION:
            side = _mean_reversion_step_nb(side, rsi[t], oversold, overbought)
        else:
            trend = np.sign(close[t] - trend_ema[t])
            side = _pullback_step_nb(side, rsi[t], trend, oversold, overbought)
        out[t] = side
