"""EMA crossover: long while the fast EMA is above the slow EMA by more than a confirmation band, short
while below it by more than the band; inside the band the previous side is kept (hysteresis).

EMA bank: a population shares few distinct windows (at most 46 fast + 181 slow), so evaluate() computes
each window's EMA once (`ema_bank_nb`) and every genome only reads two rows of it
(`ema_crossover_from_bank_1d_nb`); the result is bit-identical to `ema_crossover_1d_nb`.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from kernels.genome import KIND_FLOAT, KIND_INT, GeneSpec, bounds_array, param_nb
from kernels.indicators import ema_1d_nb

BOUNDS = (
    GeneSpec("fast_window", 5, 50, KIND_INT),  # bars
    GeneSpec("slow_window", 20, 200, KIND_INT),  # bars
    GeneSpec("band", 0.0, 0.02, KIND_FLOAT),  # fraction of the slow EMA
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def ema_crossover_windows_nb(genes: np.ndarray) -> tuple[int, int]:
    """(fast, slow) EMA windows of a genome: what an EMA bank must hold for it."""
    return int(param_nb(genes, _BOUNDS, 0)), int(param_nb(genes, _BOUNDS, 1))


@njit(cache=True)
def ema_crossover_signal_1d_nb(fast_ema: np.ndarray, slow_ema: np.ndarray, band: float, out: np.ndarray) -> None:
    """The crossover signal in {-1, 0, 1} from precomputed EMAs (0 until both are defined).

    An EMA of finite prices is NaN only in its warm-up, so the NaN test runs over that prefix alone and
    the main loop is one compare-and-select per bar (it is the hot loop of the commonest family)."""
    n = len(out)
    start = 0
    while start < n and np.isnan(fast_ema[start] + slow_ema[start]):
        out[start] = 0.0
        start += 1
    side = 0.0
    up, down = 1.0 + band, 1.0 - band
    for t in range(start, n):
        fast, slow = fast_ema[t], slow_ema[t]
        side = 1.0 if fast > slow * up else (-1.0 if fast < slow * down else side)
        out[t] = side


@njit(cache=True)
def ema_crossover_1d_nb(genes: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                        close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    fast_window, slow_window = ema_crossover_windows_nb(genes)
    fast_ema = np.empty(len(close))
    slow_ema = np.empty(len(close))
    ema_1d_nb(close, fast_window, fast_ema)
    ema_1d_nb(close, slow_window, slow_ema)
    ema_crossover_signal_1d_nb(fast_ema, slow_ema, param_nb(genes, _BOUNDS, 2), out)


@njit(cache=True)
def ema_crossover_windows_2d_nb(genes: np.ndarray) -> np.ndarray:
    """int64[S, 2]: the (fast, slow) windows of each genome row."""
    out = np.empty((genes.shape[0], 2), dtype=np.int64)
    for i in range(genes.shape[0]):
        out[i, 0], out[i, 1] = ema_crossover_windows_nb(genes[i])
    return out


@njit(cache=True, parallel=True)
def ema_bank_nb(close: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """float64[len(windows), N]: row k is the EMA of `close` over windows[k] bars."""
    bank = np.empty((len(windows), len(close)))
    for k in prange(len(windows)):
        ema_1d_nb(close, windows[k], bank[k])
    return bank


@njit(cache=True)
def ema_crossover_from_bank_1d_nb(genes: np.ndarray, bank: np.ndarray, row_of_window: np.ndarray,
                                  out: np.ndarray) -> None:
    """The signal from an EMA bank: bank[row_of_window[w]] is the EMA over w bars."""
    fast_window, slow_window = ema_crossover_windows_nb(genes)
    ema_crossover_signal_1d_nb(bank[row_of_window[fast_window]], bank[row_of_window[slow_window]],
                               param_nb(genes, _BOUNDS, 2), out)
