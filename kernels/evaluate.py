"""The GA's entry point: metrics of a population of genomes on one market, in one parallel pass.

    evaluate(market, families, genes, bounds, costs) -> float64[S, K, N_METRICS]
    positions(market, family, genes, stop=None)      -> float64[stop]   (one genome or ensemble)
    returns(market, families, genes, bounds, costs)  -> float64[S, N]   (per-bar returns, a few genomes)

Ensembles: evaluate/returns take keyword-only `families_b` (int64[S], -1 = ordinary genome) and `genes_b`
(float64[S, N_GENES]), positions takes `family_b` and `genes_b`; an ensemble's target is the mean of its two
members' targets (each with its own leverage and long-only clipping) and its stops are member a's, as
kernels.ga.population describes.

Honesty: the market is sliced to bars 0..bounds[-1] before anything runs, so no later bar can leak into
the metrics; each family only reads bars 0..t for its position at t (tests/kernels/test_lookahead.py).

Speed: `prange` over one block of genomes per thread, the blocks balanced by estimated cost (a genome
can cost ~100x another), each genome with one N-length signal buffer that its family fills and the fused
simulator reads, sizing it by the genome's risk genes where it changes (no S x N array, no sizing pass).
Work that depends on the market only is done once per call in "banks" that the per-genome pass reads:
the EMA of every window used by an EMA-crossover genome (kernels.families.ema_crossover), the learning
features and moment sums (kernels.learn.features), a table of rolling highs and lows over 2^j bars
that answers any Donchian, stochastic or Ichimoku window in two lookups (kernels.rolling_extremes), and
the squared log returns of realised volatility (kernels.indicators). Other families compute their
indicators per genome: their windows vary continuously or their cost is already near the simulator's.
"""
from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from kernels.families import FAMILY_NAMES, N_FAMILIES, check_family, donchian_breakout, ichimoku, stochastic
from kernels.families.dispatch import apply_risk_1d_nb, positions_1d_nb, signal_1d_nb, sizing_nb
from kernels.families.donchian_breakout import donchian_breakout_from_table_1d_nb
from kernels.families.ema_crossover import ema_bank_nb, ema_crossover_from_bank_1d_nb, ema_crossover_windows_nb
from kernels.families.ichimoku import ichimoku_from_table_1d_nb
from kernels.families.linear_classifier import linear_classifier_from_bank_1d_nb
from kernels.families.pca_tree_quantile import cost_estimate_nb as pca_tree_cost_nb
from kernels.families.pca_tree_quantile import pca_tree_quantile_from_bank_1d_nb
from kernels.families.stochastic import stochastic_from_table_1d_nb
from kernels.families.vol_scaling import vol_scaling_from_bank_1d_nb
from kernels.genome import N_GENES, decode_risk_nb
from kernels.indicators import squared_log_returns_1d_nb
from kernels.learn.features import N_FEATURES, N_MOMENTS, learning_bank_nb
from kernels.metrics import N_METRICS
from kernels.rolling_extremes import extremes_table_nb
from kernels.simulate import simulate_signal_1d_nb

__all__ = ["Market", "Costs", "evaluate", "positions", "returns"]

_EMA = FAMILY_NAMES.index("ema_crossover")
_LINEAR = FAMILY_NAMES.index("linear_classifier")
_PCA_TREE = FAMILY_NAMES.index("pca_tree_quantile")
_DONCHIAN = FAMILY_NAMES.index("donchian_breakout")
_STOCHASTIC = FAMILY_NAMES.index("stochastic")
_ICHIMOKU = FAMILY_NAMES.index("ichimoku")
_VOL_SCALING = FAMILY_NAMES.index("vol_scaling")
_TABLE_LEVELS = max(donchian_breakout.TABLE_LEVELS, stochastic.TABLE_LEVELS, ichimoku.TABLE_LEVELS)
# A genome's cost per bar by family, ns on one core of the 2-core dev machine (positions plus simulation,
# random genes, 8,760 hourly BTC bars), for balancing the threads only: a wrong figure costs speed, never
# a result. The PCA tree's cost varies ~45x with its genes, so it has its own estimate.
_NS_PER_BAR = np.array([{
    "ema_crossover": 6.4, "donchian_breakout": 6.1, "rsi_filter": 8.3, "stochastic": 13.8, "sma_trend": 5.7,
    "atr_breakout": 8.6, "ichimoku": 8.9, "vwap_reversion": 11.8, "vol_scaling": 13.9, "funding_carry": 3.8,
    "linear_classifier": 20.1, "pca_tree_quantile": 63.4, "bollinger": 9.5, "nadaraya_watson": 16.1,
}[name] for name in FAMILY_NAMES])


class Market(NamedTuple):
    """One coin's bars, oldest first: float64[N] arrays of equal length (funding: rate per bar, positive =
    longs pay) and the number of bars per year (8760 for hourly bars)."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    funding: np.ndarray
    bars_per_year: float


class Costs(NamedTuple):
    """Trading costs as fractions of traded notional: fee 0.00045 = Hyperliquid base taker 4.5 bp;
    slippage 0.0001 = 1 bp worse fill price."""

    fee: float = 0.00045
    slippage: float = 0.0001


class _Banks(NamedTuple):
    """Market-only work shared by all genomes of a call (empty arrays when no genome needs it)."""

    ema: np.ndarray  # float64[W, N]
    ema_row: np.ndarray  # int64[max window + 1]: row of `ema` for a window, -1 if absent
    x: np.ndarray  # float64[N_FEATURES, N] learning features
    y: np.ndarray  # float64[N] labels
    usable: np.ndarray  # bool[N]
    cum: np.ndarray  # float64[N + 1, N_MOMENTS, N_MOMENTS] cumulative moments
    table_max: np.ndarray  # float64[_TABLE_LEVELS, N] rolling highs over 2^j bars (kernels.rolling_extremes)
    table_min: np.ndarray  # float64[_TABLE_LEVELS, N] rolling lows over 2^j bars
    squares: np.ndarray  # float64[N] squared log returns


def evaluate(market: Market, families: np.ndarray, genes: np.ndarray, bounds: np.ndarray,
             costs: Costs = Costs(), *, families_b: np.ndarray | None = None,
             genes_b: np.ndarray | None = None) -> np.ndarray:
    """Metrics float64[S, K, N_METRICS] (kernels.metrics.METRIC_NAMES) of S genomes over the K segments
    of `bounds` (int64[K+1] bar indices, see kernels.simulate). Reads no bar after bounds[-1]."""
    population = _check_population(families, genes, families_b, genes_b)
    bounds = _check_bounds(bounds, len(market.close))
    arrays = _sliced(market, int(bounds[-1]) + 1)
    metrics = np.empty((len(population[0]), len(bounds) - 1, N_METRICS))
    _run(arrays, population, bounds, costs, float(market.bars_per_year), metrics, np.empty((len(metrics), 0)))
    return metrics


def returns(market: Market, families: np.ndarray, genes: np.ndarray, bounds: np.ndarray,
            costs: Costs = Costs(), *, families_b: np.ndarray | None = None,
            genes_b: np.ndarray | None = None) -> np.ndarray:
    """Per-bar returns float64[S, N] of S genomes (equity change from close t-1 to close t; 0 outside
    [bounds[0], bounds[-1]]), for reports and correlations: S x N memory, so a few genomes at a time."""
    population = _check_population(families, genes, families_b, genes_b)
    bounds = _check_bounds(bounds, len(market.close))
    stop = int(bounds[-1]) + 1
    arrays = _sliced(market, stop)
    per_bar = np.zeros((len(population[0]), stop))
    _run(arrays, population, bounds, costs, float(market.bars_per_year),
         np.empty((len(per_bar), len(bounds) - 1, N_METRICS)), per_bar)
    out = np.zeros((len(per_bar), len(market.close)))
    out[:, :stop] = per_bar
    return out


def positions(market: Market, family: int, genes: np.ndarray, stop: int | None = None, *, family_b: int = -1,
              genes_b: np.ndarray | None = None) -> np.ndarray:
    """Target positions float64[stop] of one genome computed on bars 0..stop-1 only (all bars if None); with
    ``family_b >= 0`` of the ensemble with member b (``genes_b``), as evaluate() trades it."""
    ensemble = family_b >= 0
    if ensemble and genes_b is None:
        raise ValueError(f"family_b={family_b} names an ensemble's member b: its genes_b are missing")
    families_b = np.array([family_b], dtype=np.int64) if ensemble else None
    genes_b2d = np.asarray(genes_b, dtype=np.float64).reshape(1, -1) if ensemble else None
    families, genes2d, families_b, genes_b2d = _check_population(
        np.array([check_family(family)]), np.asarray(genes, dtype=np.float64).reshape(1, -1), families_b, genes_b2d)
    n = len(market.close)
    stop = n if stop is None else int(stop)
    if not 1 <= stop <= n:
        raise ValueError(f"stop={stop} must be in [1, {n}] (the number of bars to use)")
    arrays = _sliced(market, stop)
    out = np.empty(stop)
    positions_1d_nb(families[0], genes2d[0], *arrays, out)
    if ensemble:
        other = np.empty(stop)
        positions_1d_nb(families_b[0], genes_b2d[0], *arrays, other)
        _ensemble_mean_1d_nb(out, other)
    return out


def _run(arrays: tuple[np.ndarray, ...], population: tuple[np.ndarray, ...], bounds: np.ndarray, costs: Costs,
         bars_per_year: float, out_metrics: np.ndarray, out_returns: np.ndarray) -> None:
    """Evaluate the population into out_metrics (and out_returns unless it has 0 columns), rows in the
    caller's order, with the genomes dealt to the threads by estimated cost (_thread_blocks)."""
    order, starts = _thread_blocks(*population, len(arrays[0]), numba.get_num_threads())
    ordered = tuple(a[order] for a in population)  # fancy indexing copies: contiguous, writable
    metrics = np.empty_like(out_metrics)
    per_bar = np.empty((len(order), out_returns.shape[1]))
    _evaluate_nb(*ordered, *arrays, _build_banks(arrays, *ordered), starts, bounds, costs.fee, costs.slippage,
                 bars_per_year, metrics, per_bar)
    out_metrics[order] = metrics
    out_returns[order] = per_bar


def _thread_blocks(families: np.ndarray, genes: np.ndarray, families_b: np.ndarray, genes_b: np.ndarray,
                   n_bars: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """(order, starts): thread b evaluates genomes order[starts[b]:starts[b + 1]].

    Costs differ ~100x between genomes (a PCA-tree genome with a deep tree and frequent refits against an
    SMA one), and prange hands each thread a fixed share: the blocks are filled longest first, each
    genome to the least loaded block, by estimated cost (_NS_PER_BAR, the PCA tree's own estimate; an
    ensemble costs both members)."""
    cost = _genome_costs_nb(families, genes, families_b, genes_b, n_bars, _NS_PER_BAR)
    return _least_loaded_blocks_nb(cost, max(threads, 1))


@njit(cache=True)
def _genome_costs_nb(families: np.ndarray, genes: np.ndarray, families_b: np.ndarray, genes_b: np.ndarray,
                     n_bars: int, ns_per_bar: np.ndarray) -> np.ndarray:
    """Estimated ns per genome (see _thread_blocks)."""
    cost = np.empty(len(families))
    for i in range(len(families)):
        cost[i] = _member_cost_nb(families[i], genes[i], n_bars, ns_per_bar)
        if families_b[i] >= 0:
            cost[i] += _member_cost_nb(families_b[i], genes_b[i], n_bars, ns_per_bar)
    return cost


@njit(cache=True, inline="always")
def _member_cost_nb(family: int, genes: np.ndarray, n_bars: int, ns_per_bar: np.ndarray) -> float:
    return pca_tree_cost_nb(genes, n_bars) if family == _PCA_TREE else ns_per_bar[family] * n_bars


@njit(cache=True)
def _least_loaded_blocks_nb(cost: np.ndarray, blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Longest-processing-time-first: in decreasing cost, each item joins the block with the least total
    so far. Returns (order, starts) as _thread_blocks; within a block, items keep their input order."""
    block = np.empty(len(cost), dtype=np.int64)
    load = np.zeros(blocks)
    count = np.zeros(blocks, dtype=np.int64)
    for i in np.argsort(-cost, kind="mergesort"):
        b = np.argmin(load)
        block[i] = b
        load[b] += cost[i]
        count[b] += 1
    starts = np.zeros(blocks + 1, dtype=np.int64)
    starts[1:] = np.cumsum(count)
    return np.argsort(block, kind="mergesort"), starts


def _check_population(families: np.ndarray, genes: np.ndarray, families_b: np.ndarray | None = None,
                      genes_b: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(families, genes, families_b, genes_b) as contiguous int64 / float64; members b default to none."""
    families = _kernel_array(families, np.int64)
    genes = _kernel_array(genes, np.float64)
    size = len(families)
    families_b = np.full(size, -1, np.int64) if families_b is None else _kernel_array(families_b, np.int64)
    genes_b = np.full((size, N_GENES), 0.5) if genes_b is None else _kernel_array(genes_b, np.float64)
    for name, f, g, lowest in (("", families, genes, 0), ("_b", families_b, genes_b, -1)):
        if f.shape != (size,) or g.shape != (size, N_GENES):
            raise ValueError(f"families{name} shape {f.shape} and genes{name} shape {g.shape} must be ({size},) "
                             f"and ({size}, {N_GENES})")
        if size and not (f.min() >= lowest and f.max() < N_FAMILIES):
            raise ValueError(f"families{name} must be ids in {lowest}..{N_FAMILIES - 1}, got min {f.min()} "
                             f"max {f.max()}")
        if not np.all((g >= 0.0) & (g <= 1.0)):
            raise ValueError(f"genes{name} must all lie in [0, 1] (NaN is not allowed)")
    return families, genes, families_b, genes_b


def _kernel_array(a: np.ndarray, dtype: type) -> np.ndarray:
    """`a` as a C-contiguous, writable array of `dtype` (copied only when it is not one already).

    numba compiles one variant per argument type, and read-only arrays (Parquet columns, Ray's object
    store) are a different type from writable ones: a cold run compiled `_evaluate_nb` five times
    (~45 s each) before every caller handed it the same kind of array."""
    return np.require(a, dtype=dtype, requirements=("C_CONTIGUOUS", "WRITEABLE"))


def _check_bounds(bounds: np.ndarray, n: int) -> np.ndarray:
    bounds = _kernel_array(bounds, np.int64)
    if bounds.ndim != 1 or len(bounds) < 2 or bounds[0] < 0 or bounds[-1] >= n or np.any(np.diff(bounds) <= 0):
        raise ValueError(f"bounds={bounds!r} must be >= 2 strictly increasing bar indices in [0, {n - 1}]")
    return bounds


def _sliced(market: Market, stop: int) -> tuple[np.ndarray, ...]:
    """(open, high, low, close, volume, funding)[:stop] as contiguous float64, checked finite and aligned."""
    if not market.bars_per_year > 0:
        raise ValueError(f"bars_per_year={market.bars_per_year!r} must be > 0")
    arrays = []
    for name in ("open", "high", "low", "close", "volume", "funding"):
        a = np.asarray(getattr(market, name))
        if a.ndim != 1 or len(a) != len(market.close):
            raise ValueError(f"market.{name} has shape {a.shape}; expected ({len(market.close)},) like close")
        a = _kernel_array(a[:stop], np.float64)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"market.{name} has a non-finite value at bar {int(np.argmin(np.isfinite(a)))}")
        arrays.append(a)
    return tuple(arrays)


def _build_banks(arrays: tuple[np.ndarray, ...], families: np.ndarray, genes: np.ndarray, families_b: np.ndarray,
                 genes_b: np.ndarray) -> _Banks:
    """The banks the population (both ensemble members) needs; placeholders for unused ones."""
    _, high, low, close, volume, _ = arrays
    members = np.r_[families, families_b]
    member_genes = np.vstack([genes, genes_b])
    windows = np.unique(ema_crossover_windows_nb(member_genes[members == _EMA]))
    ema_row = np.full(int(windows.max(initial=0)) + 1, -1, dtype=np.int64)
    ema_row[windows] = np.arange(len(windows))
    ema = ema_bank_nb(close, windows)
    if np.any((members == _LINEAR) | (members == _PCA_TREE)):
        x, y, usable, cum = learning_bank_nb(high, low, close, volume)
    else:
        x, y = np.empty((N_FEATURES, 0)), np.empty(0)
        usable, cum = np.empty(0, dtype=np.bool_), np.empty((0, N_MOMENTS, N_MOMENTS))
    if np.isin(members, (_DONCHIAN, _STOCHASTIC, _ICHIMOKU)).any():
        table_max, table_min = extremes_table_nb(high, low, _TABLE_LEVELS)
    else:
        table_max = table_min = np.empty((0, 0))
    squares = np.empty(len(close) if np.any(members == _VOL_SCALING) else 0)
    if len(squares):
        squared_log_returns_1d_nb(close, squares)
    return _Banks(ema, ema_row, x, y, usable, cum, table_max, table_min, squares)


@njit(cache=True)
def _signal_1d_nb(family: int, genes: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                  close: np.ndarray, volume: np.ndarray, funding: np.ndarray, banks: _Banks, out: np.ndarray) -> None:
    """signal_1d_nb, reading the banks where a family has one (bit-identical results)."""
    if family == _EMA:
        ema_crossover_from_bank_1d_nb(genes, banks.ema, banks.ema_row, out)
    elif family == _LINEAR:
        linear_classifier_from_bank_1d_nb(genes, banks.x, banks.cum, out)
    elif family == _PCA_TREE:
        pca_tree_quantile_from_bank_1d_nb(genes, banks.x, banks.y, banks.usable, banks.cum, out)
    elif family == _DONCHIAN:
        donchian_breakout_from_table_1d_nb(genes, close, volume, banks.table_max, banks.table_min, out)
    elif family == _STOCHASTIC:
        stochastic_from_table_1d_nb(genes, close, banks.table_max, banks.table_min, out)
    elif family == _ICHIMOKU:
        ichimoku_from_table_1d_nb(genes, close, banks.table_max, banks.table_min, out)
    elif family == _VOL_SCALING:
        vol_scaling_from_bank_1d_nb(genes, close, banks.squares, out)
    else:
        signal_1d_nb(family, genes, open, high, low, close, volume, funding, out)


@njit(cache=True)
def _ensemble_target_1d_nb(families: tuple[int, int], genes_a: np.ndarray, genes_b: np.ndarray,
                           open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                           volume: np.ndarray, funding: np.ndarray, banks: _Banks, out: np.ndarray) -> None:
    """The mean of the two members' target positions, each sized by its own risk genes."""
    _signal_1d_nb(families[0], genes_a, open, high, low, close, volume, funding, banks, out)
    apply_risk_1d_nb(genes_a, out)
    other = np.empty(len(out))
    _signal_1d_nb(families[1], genes_b, open, high, low, close, volume, funding, banks, other)
    apply_risk_1d_nb(genes_b, other)
    _ensemble_mean_1d_nb(out, other)


@njit(cache=True)
def _ensemble_mean_1d_nb(out: np.ndarray, other: np.ndarray) -> None:
    """An ensemble's target from its members' sized targets: out[t] = (out[t] + other[t]) / 2, in place."""
    for t in range(len(out)):
        out[t] = 0.5 * (out[t] + other[t])


@njit(cache=True, parallel=True)
def _evaluate_nb(families: np.ndarray, genes: np.ndarray, families_b: np.ndarray, genes_b: np.ndarray,
                 open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
                 funding: np.ndarray, banks: _Banks, starts: np.ndarray, bounds: np.ndarray, fee: float,
                 slippage: float, bars_per_year: float, out_metrics: np.ndarray, out_returns: np.ndarray) -> None:
    """Per genome: signal -> simulate, sized on the fly, into out_metrics[i] (and out_returns[i] unless
    it has 0 columns). An ensemble's target is built first and simulated as it is. Thread b runs the
    genomes starts[b]..starts[b+1]-1 (one prange iteration per block: prange splits by count)."""
    for b in prange(len(starts) - 1):
        for i in range(starts[b], starts[b + 1]):
            signal = np.empty(len(close))  # the genome's only N-length buffer (two for an ensemble)
            if families_b[i] >= 0:
                _ensemble_target_1d_nb((families[i], families_b[i]), genes[i], genes_b[i], open, high, low,
                                       close, volume, funding, banks, signal)
                low_clip, high_clip, leverage = -np.inf, np.inf, 1.0
            else:
                _signal_1d_nb(families[i], genes[i], open, high, low, close, volume, funding, banks, signal)
                low_clip, high_clip, leverage = sizing_nb(genes[i])
            _, stop_loss, take_profit, _ = decode_risk_nb(genes[i])  # an ensemble stops on member a's genes
            simulate_signal_1d_nb(signal, low_clip, high_clip, leverage, open, high, low, close, funding,
                                  bounds, stop_loss, take_profit, fee, slippage, bars_per_year, out_metrics[i],
                                  out_returns[i])
