"""EMA crossover: long while the fast EMA is above the slow EMA by more than a confirmation band, short
while below it by more than the band; inside the band the previous side is kept (hysteresis)."""
from __future__ import annotations

import numpy as np
from numba import njit

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
    """The crossover signal in {-1, 0, 1} from precomputed EMAs (0 until both are defined)."""
    side = 0.0
    for t in range(len(out)):
        fast, slow = fast_ema[t], slow_ema[t]
        if np.isnan(fast) or np.isnan(slow):
            side = 0.0
        elif fast > slow * (1.0 + band):
            side = 1.0
        elif fast < slow * (1.0 - band):
            side = -1.0
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
