"""Benchmark of the evolve stage (not a test). Run from the repo root:

    python bench/evolution.py                # 2 runs: the first includes Ray workers' JIT load / compile
    python bench/evolution.py --workers 1 --runs 1

The default run's evolution — 500 strategies = 10 islands x 50, 20 generations, epochs of 5, validation
off (only run_evolution) — on real hourly BTC from ../shared/data: the last 459 days, with the out-of-sample
windows shortened (60 + 20 + 14 days) so that train is 365 days. It goes through the real path: a market
store, run_evolution inside a Prefect flow on embedded Ray, with a local Prefect server
(flows.prefect_api). Ray is started once, so later runs measure warm workers; the first run's figure
includes loading (or compiling) the numba kernels in every worker.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# bench/ holds a script named kernels.py: drop this folder from the import path so that `kernels` is the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import pandas as pd
import ray
from prefect import flow

from flows.prefect_api import prefect_api
from flows.ray_runner import EMBEDDED_RAY, ray_task_runner
from tasks.evolve.evolution import run_evolution
from tasks.market.source import load_market_data
from tasks.market.store import MarketStore
from tasks.market.windows import split_windows
from tasks.run.config import EvolveConfig, RunConfig, ValidationConfig, WindowConfig
from tasks.run.run_dir import RunDir

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
WINDOWS = WindowConfig(validation_days=60, replay_days=20, live_days=14)  # train = the first 365 days
DAYS = 365 + 60 + 20 + 14


@flow(name="bench-evolution")
def evolve_only(config: RunConfig, data_dir: str) -> dict:
    """The pipeline's first stage alone."""
    market = load_market_data(MarketStore(Path(data_dir) / "market"), config.coins, config.interval, config.costs)
    windows = split_windows(market, config.windows)
    return run_evolution(RunDir.for_run(Path(data_dir), config.run_id), market, windows, config)


def fill_store(root: Path) -> None:
    """The last DAYS days of BTC candles and their funding history into a market store at ``root``."""
    store = MarketStore(root)
    candles = pd.read_parquet(DATA / "candles-1h" / "BTC.parquet").iloc[-DAYS * 24:]
    store.merge_candles("BTC", "1h", candles, source="bench")
    funding = pd.read_parquet(DATA / "funding-1h" / "BTC.parquet")
    store.merge_funding("BTC", funding[funding["timestamp"] >= candles["timestamp"].iloc[0]], source="bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the embedded Ray (2)")
    parser.add_argument("--runs", type=int, default=2, help="runs on the same Ray (2)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="uce-bench-") as tmp:
        root = Path(tmp)
        fill_store(root / "market")
        ray.init(**EMBEDDED_RAY, num_cpus=args.workers)
        try:
            with prefect_api(root / "prefect"):
                runner = ray_task_runner(None, args.workers)
                for i in range(args.runs):
                    config = RunConfig(run_id=f"bench-{i + 1}", seed=args.seed, windows=WINDOWS,
                                       evolve=EvolveConfig(), validation=ValidationConfig(mode="minimal"))
                    started = time.perf_counter()
                    summary = evolve_only.with_options(task_runner=runner)(config=config, data_dir=str(root))
                    wall = time.perf_counter() - started
                    report(i, summary, wall, args.workers)
        finally:
            ray.shutdown()


def report(i: int, summary: dict, wall: float, workers: int) -> None:
    label = "first run (workers load/compile the kernels)" if i == 0 else f"run {i + 1} (warm workers)"
    regimes = summary["regimes"]
    top = sorted(regimes["family_weights"].items(), key=lambda kv: -kv[1])[:3]
    print(f"{label}, {workers} Ray CPUs:")
    print(f"  run_evolution {summary['seconds']:.1f} s (flow incl. its start and end {wall:.1f} s); "
          f"{summary['evaluations']} evaluations (+{summary['pilot_evaluations']} pilot), "
          f"{summary['evaluations_per_second']:.0f} evaluations/s; generations {summary['generations']}"
          f"/{summary['generations_planned']}{' STOPPED BY BUDGET' if summary['stopped_by_budget'] else ''}")
    best = summary["top_by_regime"][0] if summary["top_by_regime"] else None
    if best:
        print(f"  best: {best['family']} fitness {best['fitness']:.2f}; latest regime {regimes['latest_regime']}; "
              f"heaviest init families {', '.join(f'{f} {w:.0%}' for f, w in top)}")


if __name__ == "__main__":
    main()
