"""Parallel efficiency of the evolve stage from 1 to 2 Ray workers (not a test). From the repo root:

    python bench/parallel_efficiency.py            # 4 islands x 200 genomes, 20 generations, 2 repeats

efficiency = T1 / (2 x T2), T_n the seconds of run_evolution (islands on n CPUs) — 1.0 is perfect scaling.
A worker is one CPU, as Ray counts it: the kernels' own threads are pinned to 1 (NUMBA_NUM_THREADS, passed
to the workers), or the single worker would already use every core through numba's prange.
Each Ray is started once and warmed up with a small evolution first, so the figures exclude worker start
and JIT loading. Data: real hourly BTC from ../shared/data when present (train = the data minus the
out-of-sample windows), else the offline sample (shorter, so Ray's per-task cost weighs more).
Runs through the real path: run_evolution inside a Prefect flow on Ray, with a local Prefect server.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

# bench/ holds a script named kernels.py: drop this folder from the import path so that `kernels` is the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba is imported; Ray workers get it too

import pandas as pd  # noqa: E402
import ray  # noqa: E402
from prefect import flow  # noqa: E402

from flows.prefect_api import prefect_api  # noqa: E402
from flows.ray_runner import EMBEDDED_RAY, UceRayTaskRunner, worker_runtime_env  # noqa: E402
from tasks.evolve.evolution import run_evolution  # noqa: E402
from tasks.market.source import load_market_data  # noqa: E402
from tasks.market.store import MarketStore  # noqa: E402
from tasks.market.windows import split_windows  # noqa: E402
from tasks.run.config import EvolveConfig, RunConfig, ValidationConfig  # noqa: E402
from tasks.run.run_dir import RunDir  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@flow(name="bench-parallel-efficiency", task_runner=UceRayTaskRunner())
def evolve_only(config: RunConfig, data_dir: str) -> dict:
    """The evolve stage alone, its islands submitted as in the pipeline (policies included)."""
    market = load_market_data(MarketStore(Path(data_dir) / "market"), config.coins, config.interval, config.costs)
    windows = split_windows(market, config.windows)
    return run_evolution(RunDir.for_run(Path(data_dir), config.run_id), market, windows, config)


def fill_store(root: Path) -> str:
    """BTC candles and funding from ../shared/data into a store at ``root``; the source's name."""
    if not (SHARED / "candles-1h" / "BTC.parquet").exists():
        return "offline sample"
    store = MarketStore(root)
    store.merge_candles("BTC", "1h", pd.read_parquet(SHARED / "candles-1h" / "BTC.parquet"), source="bench")
    store.merge_funding("BTC", pd.read_parquet(SHARED / "funding-1h" / "BTC.parquet"), source="bench")
    return f"{SHARED}/candles-1h/BTC.parquet"


def timed(workers: int, root: Path, evolve: EvolveConfig, repeats: int) -> list[float]:
    """Seconds of run_evolution on a Ray with ``workers`` CPUs, after a warm-up evolution."""
    ray.init(num_cpus=workers, runtime_env=worker_runtime_env(), **EMBEDDED_RAY)
    try:
        warm = EvolveConfig(strategies=2 * workers * 10, batch_size=10, generations=1)
        evolve_only(RunConfig(run_id=f"warm-{workers}", evolve=warm, validation=ValidationConfig(mode="minimal")),
                    str(root))
        return [evolve_only(RunConfig(run_id=f"w{workers}-{i}", evolve=evolve,
                                      validation=ValidationConfig(mode="minimal")), str(root))["seconds"]
                for i in range(repeats)]
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--islands", type=int, default=4)
    parser.add_argument("--population", type=int, default=200, help="genomes per island")
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    evolve = EvolveConfig(strategies=args.islands * args.population, batch_size=args.population,
                          generations=args.generations)
    with tempfile.TemporaryDirectory(prefix="uce-bench-") as tmp:
        root = Path(tmp)
        source = fill_store(root / "market")
        with prefect_api(root / "prefect"):
            t1 = timed(1, root, evolve, args.repeats)
            t2 = timed(2, root, evolve, args.repeats)
    m1, m2 = statistics.median(t1), statistics.median(t2)
    print(f"data: {source}; {args.islands} islands x {args.population} genomes, {args.generations} generations")
    print(f"1 worker:  {', '.join(f'{t:.1f}' for t in t1)} s (median {m1:.1f} s)")
    print(f"2 workers: {', '.join(f'{t:.1f}' for t in t2)} s (median {m2:.1f} s)")
    print(f"speed-up {m1 / m2:.2f}x, parallel efficiency 1 -> 2 workers: {m1 / (2 * m2):.0%}")


if __name__ == "__main__":
    main()
