"""RSI filter (Wilder RSI).

mode 0, mean reversion: long below `oversold`, short above `overbought`, out when RSI crosses back to 50.
mode 1, trend pullback: trend = close vs its EMA(trend_window); in an up-trend buy a dip below `oversold`
and hold until RSI exceeds `overbought` or the trend turns; mirror image in a down-trend.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb

__all__ = ["MODE_MEAN_REVERSION", "MODE_TREND_PULLBACK", "BOUNDS", "rsi_filter_1d_nb"]

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
    """Entry below `oversold` / above `overbought` wins; else a long survives while RSI < 50, a short
    while RSI > 50. Selects on a float side (no branch to mispredict as RSI wanders around 50)."""
    entry = (1.0 if rsi < oversold else 0.0) - (1.0 if rsi > overbought else 0.0)
    survivor = (1.0 if rsi < 50.0 else 0.0) - (1.0 if rsi > 50.0 else 0.0)
    kept = side if side == survivor else 0.0
    return entry if entry != 0.0 else kept


@njit(cache=True)
def _pullback_step_nb(side: float, rsi: float, trend: float, oversold: float, overbought: float) -> float:
    """A side against the trend is dropped; with the trend, a dip (rally) past the threshold enters and
    the opposite threshold exits; without a trend (close = EMA) the side is kept."""
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


@njit(cache=True, error_model="numpy")
def rsi_filter_1d_nb(genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                     close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring).

    RSI and the trend EMA run in the same pass. Wilder's averages are carried times `period`
    (gains = period * avg_gain), so a bar costs gains = gains * decay + gain with decay = (period - 1) /
    period, no division on the dependency chain; RSI = 100 gains / (gains + losses) is unchanged by the
    scale (kernels.indicators.rsi_1d_nb gives the same RSI to ~1e-15; 50 when nothing moved). The EMA is
    ema_1d_nb's, to the bit. error_model="numpy": the RSI division has no zero check (guarded anyway).
    """
    period = int(param_nb(genes, _BOUNDS, 0))
    oversold, overbought = param_nb(genes, _BOUNDS, 1), param_nb(genes, _BOUNDS, 2)
    mode = int(param_nb(genes, _BOUNDS, 3))
    trend_window = int(param_nb(genes, _BOUNDS, 4))
    n = len(close)
    if n == 0:
        return
    first = period if mode == MODE_MEAN_REVERSION else max(period, trend_window - 1)  # first bar with a signal
    decay = (period - 1.0) / period
    alpha = 2.0 / (trend_window + 1.0)
    gains, losses, ema = 0.0, 0.0, close[0]
    side = 0.0
    out[0] = 0.0
    now, before, out_now = close[1:], close[:n - 1], out[1:]  # aligned on i = t - 1: no index wraparound
    for i in range(n - 1):
        change = now[i] - before[i]
        if i < period:  # seed: sums of the first `period` changes
            gains += max(change, 0.0)
            losses += max(-change, 0.0)
        else:
            gains = gains * decay + max(change, 0.0)
            losses = losses * decay + max(-change, 0.0)
        ema = alpha * now[i] + (1.0 - alpha) * ema
        total = gains + losses
        rsi = 100.0 * gains / total if total > 0.0 else 50.0
        if mode == MODE_MEAN_REVERSION:
            side = _mean_reversion_step_nb(side, rsi, oversold, overbought)
        else:
            side = _pullback_step_nb(side, rsi, np.sign(now[i] - ema), oversold, overbought)
        side = side if i + 1 >= first else 0.0
        out_now[i] = side
