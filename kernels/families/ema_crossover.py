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

__all__ = ["BOUNDS", "ema_crossover_signal_1d_nb", "ema_crossover_1d_nb", "ema_crossover_windows_nb", "ema_bank_nb",
           "ema_crossover_from_bank_1d_nb"]

BOUNDS = (
    GeneSpec("fast_window", 5, 50, KIND_INT),  # bars
    GeneSpec("slow_window", 20, 200, KIND_INT),  # bars
    GeneSpec("band", 0.0, 0.02, KIND_FLOAT),  # fraction of the slow EMA
)
_BOUNDS = bounds_array(BOUNDS)


@njit(cache=True)
def _windows_nb(genes: np.ndarray) -> tuple[int, int]:
    """(fast, slow) EMA windows of one genome: what an EMA bank must hold for it."""
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
    # Slices from `start`: indices from 0 spare numba a negative-index check per access (2x faster).
    _crossover_sides_nb(fast_ema[start:], slow_ema[start:], 1.0 + band, 1.0 - band, out[start:])


@njit(cache=True, inline="always")
def _crossover_sides_nb(fast_ema: np.ndarray, slow_ema: np.ndarray, up: float, down: float,
                        out: np.ndarray) -> None:
    """+1 above the band, -1 below it, the previous side inside it (0 before any side)."""
    side = 0.0
    for t in range(len(out)):
        fast, slow = fast_ema[t], slow_ema[t]
        side = 1.0 if fast > slow * up else (-1.0 if fast < slow * down else side)
        out[t] = side


@njit(cache=True)
def ema_crossover_1d_nb(genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                        close: np.ndarray, volume: np.ndarray, funding: np.ndarray, out: np.ndarray) -> None:
    """Signal in [-1, 1] per bar (see module docstring)."""
    fast_window, slow_window = _windows_nb(genes)
    fast_ema = np.empty(len(close))
    slow_ema = np.empty(len(close))
    ema_1d_nb(close, fast_window, fast_ema)
    ema_1d_nb(close, slow_window, slow_ema)
    ema_crossover_signal_1d_nb(fast_ema, slow_ema, param_nb(genes, _BOUNDS, 2), out)


@njit(cache=True)
def ema_crossover_windows_nb(genes: np.ndarray) -> np.ndarray:
    """int64[S, 2]: the (fast, slow) EMA windows of each genome row of genes[S, N_GENES]."""
    out = np.empty((genes.shape[0], 2), dtype=np.int64)
    for i in range(genes.shape[0]):
        out[i, 0], out[i, 1] = _windows_nb(genes[i])
    return out


@njit(cache=True, parallel=True)
def ema_bank_nb(close: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """float64[len(windows), N]: row k is the EMA of `close` over windows[k] bars (as ema_1d_nb, bit for bit).

    An EMA is a chain of dependent multiply-adds, so one alone runs at the adder's latency; four
    computed side by side fill the pipeline (the bank took ~3x longer one window at a time)."""
    if len(windows) and windows.min() < 1:
        raise ValueError("EMA windows must be >= 1")
    groups = (len(windows) + 3) // 4
    padded = np.empty(4 * groups, dtype=np.int64)
    padded[:len(windows)] = windows
    padded[len(windows):] = windows[-1] if len(windows) else 1
    bank = np.empty((4 * groups, len(close)))
    for g in prange(groups):
        _ema_four_nb(close, padded[4 * g:4 * g + 4], bank[4 * g:4 * g + 4])
    return bank[:len(windows)]


@njit(cache=True)
def _ema_four_nb(x: np.ndarray, windows: np.ndarray, out: np.ndarray) -> None:
    """out[k] = ema_1d_nb(x, windows[k]) for four windows, in one pass (same arithmetic, same order)."""
    a0, a1, a2, a3 = (2.0 / (windows[0] + 1.0), 2.0 / (windows[1] + 1.0), 2.0 / (windows[2] + 1.0),
                      2.0 / (windows[3] + 1.0))
    b0, b1, b2, b3 = 1.0 - a0, 1.0 - a1, 1.0 - a2, 1.0 - a3
    n = len(x)
    if n == 0:
        return
    v0 = v1 = v2 = v3 = x[0]
    out[0, 0], out[1, 0], out[2, 0], out[3, 0] = v0, v1, v2, v3
    r0, r1, r2, r3 = out[0, 1:], out[1, 1:], out[2, 1:], out[3, 1:]
    xs = x[1:]
    for t in range(n - 1):
        xt = xs[t]
        v0 = a0 * xt + b0 * v0
        v1 = a1 * xt + b1 * v1
        v2 = a2 * xt + b2 * v2
        v3 = a3 * xt + b3 * v3
        r0[t], r1[t], r2[t], r3[t] = v0, v1, v2, v3
    for k in range(4):
        out[k, :min(windows[k] - 1, n)] = np.nan


@njit(cache=True)
def ema_crossover_from_bank_1d_nb(genes: np.ndarray, bank: np.ndarray, row_of_window: np.ndarray,
                                  out: np.ndarray) -> None:
    """The signal from an EMA bank: bank[row_of_window[w]] is the EMA over w bars."""
    fast_window, slow_window = _windows_nb(genes)
    ema_crossover_signal_1d_nb(bank[row_of_window[fast_window]], bank[row_of_window[slow_window]],
                               param_nb(genes, _BOUNDS, 2), out)
