"""Benchmark of the evaluation kernels against vectorbt 1.2.0 (not a test). Run from the repo root:

    python bench/kernels.py            # (a) EMA crossover and (b) mixed 14-family population, 1,000 x 8,760
    python bench/kernels.py --memory   # 10,000 genomes x 35,040 bars must add < 1 GB of RSS

Same process, same data (the last 8,760 hourly BTC bars of ../shared/data), fees and slippage on, JIT
warmed up before timing on both sides; best of --repeats runs for the kernel (a run lasts ~0.1 s, so
a run that another process preempts is easy to discard), of VBT_REPEATS for vectorbt. The kernel's runs
are split: half before vectorbt's, half after, so both sides' best runs are drawn from the same ~15 s
(on this VM the same kernel's best of 20 varied 22-38 ms between back-to-back runs a minute apart). Funding is zero
here because vectorbt has no funding model (the kernel's cost does not depend on the rate's value).

(a) The kernel's evaluate() on 1,000 EMA-crossover genomes (band 0, 1x long-only, no stops) vs vectorbt:
    MA.run for the fast and the slow windows, entries while fast > slow, exits while fast < slow (the
    same trades as the kernel's target), Portfolio.from_signals, then total_return, sharpe_ratio and
    max_drawdown per column.
(b) evaluate() on 1,000 genomes spread evenly over the 14 families (random genes, stops off) — it computes
    the positions AND simulates — vs vectorbt Portfolio.from_orders(size_type="targetpercent") given those
    positions ready-made (NaN where unchanged), plus the same three metrics. The last line's "mixed" is
    this ratio. A second line times the fused simulator alone on the same ready-made positions (like for
    like with vectorbt's side), to show how much of (b) is the families' signal work.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

# This script is itself named kernels.py: drop its folder from the import path so that `kernels` below is
# the package, not this file.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

#               stale compiled callee runs after an edit; tests/conftest.py does the same)
import numba
import numpy as np
import pandas as pd
from numba import njit, prange

import flows  # noqa: F401  (before numba: points its cache at a folder keyed on the kernel sources, so no
from kernels.evaluate import Costs, Market, evaluate, positions
from kernels.families import FAMILY_NAMES, N_FAMILIES
from kernels.families.ema_crossover import ema_crossover_windows_nb
from kernels.genome import (FIRST_FAMILY_GENE, GENE_DIRECTION, GENE_LEVERAGE, GENE_STOP_LOSS, GENE_TAKE_PROFIT, N_GENES,
                            decode_risk_nb)
from kernels.metrics import METRIC_NAMES, N_METRICS
from kernels.simulate import simulate_1d_nb

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "candles-1h"
BARS = 8760
GENOMES = 1000
COSTS = Costs()
LEVERAGE_ONE = np.log(4.0) / np.log(12.0)  # leverage gene decoding to 1.0x (log scale 0.25..3)
TOTAL_RETURN = METRIC_NAMES.index("total_return")
VBT_REPEATS = 2


def load_market(bars: int) -> tuple[Market, pd.DatetimeIndex]:
    """The last `bars` hourly BTC bars, zero funding."""
    df = pd.read_parquet(DATA / "BTC.parquet").iloc[-bars:]
    arrays = [df[k].to_numpy(np.float64) for k in ("open", "high", "low", "close", "volume")]
    return Market(*arrays, np.zeros(bars), 8760.0), pd.DatetimeIndex(df["timestamp"])


def best_time(fn, repeats: int) -> tuple[float, float, object]:
    """(wall seconds, process CPU seconds, result) of the fastest of `repeats` runs."""
    best, cpu, result = np.inf, np.inf, None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall = time.perf_counter() - start
        if wall < best:
            best, cpu = wall, time.process_time() - start_cpu
    return best, cpu, result


def ema_genomes(rng: np.random.Generator, n: int) -> np.ndarray:
    genes = rng.uniform(size=(n, N_GENES))
    genes[:, GENE_LEVERAGE] = LEVERAGE_ONE
    genes[:, [GENE_STOP_LOSS, GENE_TAKE_PROFIT, GENE_DIRECTION]] = 0.0  # stops off, long-only
    genes[:, FIRST_FAMILY_GENE + 2] = 0.0  # confirmation band 0: the plain crossover
    return genes


def vbt_ema(vbt, close: pd.Series, fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """vectorbt's EMA-crossover backtest and metrics: float64[3, S] (total return, Sharpe, max drawdown)."""
    fast_ma = vbt.MA.run(close, window=fast, ewm=True).ma.to_numpy()
    slow_ma = vbt.MA.run(close, window=slow, ewm=True).ma.to_numpy()
    pf = vbt.Portfolio.from_signals(close.to_numpy()[:, None], fast_ma > slow_ma, fast_ma < slow_ma,
                                    fees=COSTS.fee, slippage=COSTS.slippage, freq="1h")
    return np.array([pf.total_return(), pf.sharpe_ratio(), pf.max_drawdown()])


def vbt_orders(vbt, close: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """vectorbt from_orders on ready-made targets (float64[N, S]) and metrics: float64[3, S]."""
    size = targets.copy()
    size[1:][targets[1:] == targets[:-1]] = np.nan  # order only where the target changes
    pf = vbt.Portfolio.from_orders(close[:, None], size, size_type="targetpercent", fees=COSTS.fee,
                                   slippage=COSTS.slippage, freq="1h")
    return np.array([pf.total_return(), pf.sharpe_ratio(), pf.max_drawdown()])


def time_both(kernel, reference, repeats: int) -> tuple[tuple[float, float], tuple[float, float], object, object]:
    """((wall, CPU) of the kernel's best run, (wall, CPU) of the reference's best run, their results): half
    the kernel's runs before the reference's, half after."""
    *before, ours = best_time(kernel, (repeats + 1) // 2)
    *theirs_time, theirs = best_time(reference, VBT_REPEATS)
    *after, _ = best_time(kernel, repeats // 2)
    return min(tuple(before), tuple(after)), tuple(theirs_time), ours, theirs


def compare(ours: tuple[float, float], theirs: tuple[float, float], genomes: int, bars: int) -> float:
    """Print both sides' wall time (and process CPU time) and rate; returns the wall-clock speedup."""
    for label, (wall, cpu) in (("kernel", ours), ("vectorbt", theirs)):
        print(f"  {label:9s}: {wall:8.4f} s wall ({cpu:8.4f} s CPU) = {genomes * bars / wall / 1e6:9.1f} M "
              "bar-evaluations/s")
    return theirs[0] / ours[0]


def bench_ema(vbt, market: Market, rng: np.random.Generator, repeats: int) -> float:
    genes = ema_genomes(rng, GENOMES)
    families = np.zeros(GENOMES, dtype=np.int64)
    bounds = np.array([0, BARS - 1])
    windows = ema_crossover_windows_nb(genes)
    close = pd.Series(market.close)
    evaluate(market, families[:4], genes[:4], bounds, COSTS)  # JIT warm-up (cache load)
    vbt_ema(vbt, close, windows[:4, 0], windows[:4, 1])
    print(f"(a) EMA crossover: {GENOMES} genomes x {BARS} bars, fee {COSTS.fee:.4%}, slippage {COSTS.slippage:.2%}")
    ours_time, theirs_time, ours, theirs = time_both(
        lambda: evaluate(market, families, genes, bounds, COSTS),
        lambda: vbt_ema(vbt, close, windows[:, 0], windows[:, 1]), repeats)
    speedup = compare(ours_time, theirs_time, GENOMES, BARS)
    diff = np.abs(ours[:, 0, TOTAL_RETURN] - theirs[0])
    print(f"  same strategies: |total return kernel - vectorbt| median {np.median(diff):.1e}, max {diff.max():.1e} "
          "(vectorbt from_signals buys with cash net of fees, the kernel targets 1.0x equity)")
    return speedup


def bench_mixed(vbt, market: Market, rng: np.random.Generator, repeats: int) -> float:
    families = np.arange(GENOMES, dtype=np.int64) % N_FAMILIES
    rng.shuffle(families)
    genes = rng.uniform(size=(GENOMES, N_GENES))
    genes[:, [GENE_STOP_LOSS, GENE_TAKE_PROFIT]] = 0.0  # from_orders has no stops
    bounds = np.array([0, BARS - 1])
    targets = np.column_stack([positions(market, f, g) for f, g in zip(families, genes)])
    evaluate(market, families[:N_FAMILIES * 2], genes[:N_FAMILIES * 2], bounds, COSTS)
    vbt_orders(vbt, market.close, targets[:, :4])
    print(f"(b) mixed population: {GENOMES} genomes over all {N_FAMILIES} families x {BARS} bars "
          "(kernel: positions + simulation; vectorbt: simulation of the given positions)")
    ours_time, theirs_time, ours, theirs = time_both(
        lambda: evaluate(market, families, genes, bounds, COSTS), lambda: vbt_orders(vbt, market.close, targets),
        repeats)
    speedup = compare(ours_time, theirs_time, GENOMES, BARS)
    unlevered = np.array([decode_risk_nb(g)[0] < 1.0 for g in genes])  # vectorbt cannot borrow: compare L < 1
    diff = np.abs(ours[unlevered, 0, TOTAL_RETURN] - theirs[0][unlevered])
    print(f"  same positions, leverage < 1 ({unlevered.sum()} genomes): |total return kernel - vectorbt| "
          f"max {diff.max():.1e}")
    per_family(market, families, genes, bounds)
    simulation_only(market, targets, bounds, theirs_time[0], repeats)
    return speedup


@njit(parallel=True)
def _simulate_all_nb(targets, open_, high, low, close, funding, bounds, fee, slippage, bars_per_year, out):
    for i in prange(targets.shape[0]):
        simulate_1d_nb(targets[i], open_, high, low, close, funding, bounds, 0.0, 0.0, fee,
                       slippage, bars_per_year, out[i], np.empty(0))


def simulation_only(market: Market, targets: np.ndarray, bounds: np.ndarray, vbt_seconds: float,
                    repeats: int) -> None:
    """Like for like with vectorbt's side of (b): the fused simulator alone on the same ready-made positions."""
    out = np.empty((targets.shape[1], len(bounds) - 1, N_METRICS))
    args = (np.ascontiguousarray(targets.T), market.open, market.high, market.low, market.close, market.funding,
            bounds, COSTS.fee, COSTS.slippage, market.bars_per_year, out)
    _simulate_all_nb(*args)
    wall, cpu, _ = best_time(lambda: _simulate_all_nb(*args), repeats)
    genomes, bars = targets.shape[1], targets.shape[0]
    print(f"  simulation only, same positions as vectorbt: {wall:.4f} s wall ({cpu:.4f} s CPU) = "
          f"{genomes * bars / wall / 1e6:.1f} M bar-evaluations/s, {vbt_seconds / wall:.0f}x vectorbt")


def per_family(market: Market, families: np.ndarray, genes: np.ndarray, bounds: np.ndarray) -> None:
    """Kernel cost per family: wall ns per bar per genome, all threads (includes each call's fixed costs)."""
    costs = []
    for f in range(N_FAMILIES):
        mask = families == f
        wall, _, _ = best_time(lambda: evaluate(market, families[mask], genes[mask], bounds, COSTS), 3)
        costs.append(f"{FAMILY_NAMES[f]} {wall / mask.sum() / BARS * 1e9:.1f}")
    print("  wall ns per bar per genome by family (positions + simulation, all threads):", ", ".join(costs))


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def bench_memory(rng: np.random.Generator, genomes: int = 10_000, bars: int = 35_040) -> None:
    """evaluate() on `genomes` x `bars`: peak RSS above the baseline (sampled every 5 ms)."""
    df = pd.read_parquet(DATA / "BTC.parquet")
    log_ret = np.diff(np.log(df["close"].to_numpy()))
    steps = np.resize(log_ret, bars - 1)  # BTC holds 27,952 bars: repeat its returns to reach `bars`
    close = df["close"].iloc[0] * np.exp(np.r_[0.0, np.cumsum(steps)])
    ratio_high = np.resize((df["high"] / df["close"]).to_numpy(), bars)
    ratio_low = np.resize((df["low"] / df["close"]).to_numpy(), bars)
    market = Market(np.r_[close[0], close[:-1]], close * ratio_high, close * ratio_low, close,
                    np.resize(df["volume"].to_numpy(), bars), np.full(bars, 1.25e-5), 8760.0)
    families = np.arange(genomes, dtype=np.int64) % N_FAMILIES
    genes = rng.uniform(size=(genomes, N_GENES))
    bounds = np.linspace(0, bars - 1, 5).astype(np.int64)  # 4 walk-forward segments
    evaluate(market, families[:28], genes[:28], bounds)
    baseline = peak = rss_bytes()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    out = evaluate(market, families, genes, bounds)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    extra = (max(peak, rss_bytes()) - baseline) / 2**30
    print(f"memory: {genomes} genomes x {bars} bars x {len(bounds) - 1} segments in {seconds:.1f} s "
          f"({genomes * bars / seconds / 1e6:.0f} M bar-evaluations/s), result {out.nbytes / 2**20:.1f} MiB, "
          f"extra peak RSS {extra:.3f} GiB ({'OK' if extra < 1.0 else 'OVER'} the 1 GiB budget)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memory", action="store_true", help="run the 10,000 x 35,040 memory check instead")
    parser.add_argument("--repeats", type=int, default=40, help="timed kernel runs (vectorbt: VBT_REPEATS)")
    args = parser.parse_args()
    rng = np.random.default_rng(2024)
    print(f"numba threads: {numba.get_num_threads()}, load average before: "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} (other processes slow both sides)")
    if args.memory:
        bench_memory(rng)
        return
    import vectorbt as vbt  # slow import; only the comparison needs it

    market, index = load_market(BARS)
    print(f"data: BTC 1h, {BARS} bars, {index[0]:%Y-%m-%d %H:%M} .. {index[-1]:%Y-%m-%d %H:%M} UTC")
    ema = bench_ema(vbt, market, rng, args.repeats)
    mixed = bench_mixed(vbt, market, rng, args.repeats)
    print(f"kernel/vectorbt speedup: EMA {ema:.0f}×, mixed {mixed:.0f}×")


if __name__ == "__main__":
    main()
