"""Compile every kernel a run calls, once, on a tiny synthetic market.

numba compiles on first call and keeps the machine code in its on-disk cache (``cache=True``).
A cold run would otherwise compile the same kernels in every Ray worker at once, each competing for
the same cores; compiling here first, in one process, lets the workers load the cache instead.

    python -m kernels.warmup     # what `uce run` starts in the background on its way up

The argument types below must be the ones real runs pass (C-contiguous, writable float64/int64
arrays, see kernels.evaluate): numba compiles one variant per distinct set of argument types.
"""
from __future__ import annotations

import time

import numpy as np

from kernels.evaluate import Costs, Market, evaluate, positions, returns
from kernels.families import N_FAMILIES
from kernels.genome import N_GENES
from kernels.stats import deflated_sharpe_nb, effective_trials, pbo_cscv, sharpe_moments_1d_nb

__all__ = ["compile_kernels"]

_BARS = 400


def _synthetic_market(rng: np.random.Generator) -> Market:
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, _BARS)))
    open = np.r_[close[0], close[:-1]]
    spread = close * 0.005
    return Market(open, np.maximum(open, close) + spread, np.minimum(open, close) - spread, close,
                  np.full(_BARS, 10.0), np.full(_BARS, 1e-5), 8760.0)


def compile_kernels() -> float:
    """Call each kernel entry point once (all families, ensembles, per-bar returns, positions, the
    multiple-testing statistics); returns the seconds it took (~1 s when the cache is warm)."""
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    market = _synthetic_market(rng)
    families = np.arange(N_FAMILIES, dtype=np.int64)
    genes = rng.random((N_FAMILIES, N_GENES))
    bounds = np.array([50, 200, _BARS - 1], dtype=np.int64)
    ensembles = dict(families_b=families[::-1].copy(), genes_b=rng.random((N_FAMILIES, N_GENES)))
    evaluate(market, families, genes, bounds, Costs(), **ensembles)
    per_bar = returns(market, families, genes, bounds, Costs(), **ensembles)
    positions(market, 0, genes[0], _BARS // 2)
    sr, skew, kurt = sharpe_moments_1d_nb(per_bar[0])
    deflated_sharpe_nb(sr, _BARS, skew, kurt, 100.0, 0.01)
    effective_trials(100, per_bar.T.copy())
    pbo_cscv(per_bar.T.copy(), 4)
    return time.perf_counter() - started


if __name__ == "__main__":
    compile_kernels()
