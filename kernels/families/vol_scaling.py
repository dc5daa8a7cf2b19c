"""Volatility scaling: the sign of the trend (close vs close `trend_window` bars ago) sized by
min(target_vol / realised vol, 1), so the position's expected volatility stays near the target.

Squared-returns bank: the log per bar is the costly part and does not depend on the genome, so
evaluate() can compute kernels.indicators.squared_log_returns_1d_nb once per market and every genome
reads it (`vol_scaling_from_bank_1d_nb`, bit-identical to `vol_scaling_1d_nb`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from kernels.genome import KIND_INT, KIND_LOG, GeneSpec, bounds_array, param_nb
from kernels.indicators import realized_vol_1d_nb, realized_vol_from_squares_1d_nb

__all__ = ["BOUNDS", "vol_scaling_1d_nb", "vol_scaling_from_bank_1d_nb"]

BOUNDS = (
    GeneSpec("vol_window", 10, 60, KIND_INT),  # bars
    GeneSpec("target_vol", 0.002, 0.03, KIND_LOG),  # per bar (0.005 per hour ~ 47 % a year)
    GeneSpec("trend_window", 20, 200, KIND_INT),  # bars
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True, error_model="numpy")
def _size_nb(close: np.ndarray, vol_window: int, target_vol: float, trend_window: int, out: np.ndarray) -> None:
    """In place: out (the realised vol) becomes sign(close - close trend_window bars ago) x min(target /
    vol, 1), flat until both exist. No dependency between bars, so it vectorises: error_model="numpy"
    drops the per-division zero check (target / 0 = inf sizes a zero-vol bar at 1 without a branch)."""
    n = len(close)
    head = min(max(vol_window, trend_window), n)
    out[:head] = 0.0
    vol, now, then = out[head:], close[head:], close[head - trend_window:n - trend_window]
    for i in range(n - head):
        vol[i] = np.sign(now[i] - then[i]) * min(target_vol / vol[i], 1.0)


@njit(cache=True)
def vol_scaling_1d_nb(genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                      close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    vol_window = int(param_nb(genes, _BOUNDS, 0))
    realized_vol_1d_nb(close, vol_window, out)
    _size_nb(close, vol_window, param_nb(genes, _BOUNDS, 1), int(param_nb(genes, _BOUNDS, 2)), out)


@njit(cache=True)
def vol_scaling_from_bank_1d_nb(genes: np.ndarray, close: np.ndarray, squares: np.ndarray, out: np.ndarray) -> None:
    """The signal from squares = squared_log_returns_1d_nb(close)."""
    vol_window = int(param_nb(genes, _BOUNDS, 0))
    realized_vol_from_squares_1d_nb(squares, vol_window, out)
    _size_nb(close, vol_window, param_nb(genes, _BOUNDS, 1), int(param_nb(genes, _BOUNDS, 2)), out)
