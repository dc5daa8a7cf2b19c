"""``uce run``: the nightly job — evolve, serialize, validate, deploy — with a run report at the end."""
from __future__ import annotations

import argparse
import os
import time

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from flows.commands.common import data_dir, fail
from tasks.config import EvolveConfig, RunConfig, ValidationConfig, test_mode_config
from tasks.market_source import load_market_data
from tasks.market_store import MarketDataError, MarketStore
from tasks.run_dir import RunDir, new_run_id
from tasks.windows import split_windows

# A typical spot price for one vCPU-hour (USD); --cpu-hour-price overrides it.
DEFAULT_CPU_HOUR_PRICE = 0.02


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="run the whole pipeline once")
    p.add_argument("--strategies", type=int, default=500, help="genomes per generation over all islands (500)")
    p.add_argument("--batch-size", type=int, default=50, help="genomes per island / Ray task (50)")
    p.add_argument("--generations", type=int, default=20, help="generations to evolve (20)")
    p.add_argument("--hours", type=float, default=4.0, help="time budget of the run (4.0)")
    p.add_argument("--validation-mode", choices=("full", "fast", "minimal"), default="full")
    p.add_argument("--cost-limit", type=float, help="refuse to start if the estimated cost exceeds this (USD)")
    p.add_argument("--cpu-hour-price", type=float, default=DEFAULT_CPU_HOUR_PRICE, help="USD per CPU-hour")
    p.add_argument("--test-mode", action="store_true",
                   help="small and fast: 50 strategies, islands of 10, 5 generations, minimal validation")
    p.add_argument("--coins", default="BTC", help="comma-separated, e.g. BTC,ETH (BTC)")
    p.add_argument("--interval", default="1h", help="bar interval (1h)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--ray-address", help="HOST:PORT of an existing Ray cluster (default: embedded Ray)")
    p.add_argument("--workers", type=int, help="CPUs for the embedded Ray (default: all of this machine's)")
    p.add_argument("--run-id", help="name of the run folder (default: UTC time)")
    p.set_defaults(func=run)


_FLAGS = {"strategies": "--strategies", "batch_size": "--batch-size", "generations": "--generations",
          "hours": "--hours", "workers": "--workers", "cost_limit": "--cost-limit", "coins": "--coins", "run_id": "--run-id"}


def build_config(args: argparse.Namespace) -> RunConfig:
    common = dict(
        run_id=args.run_id or new_run_id(),
        coins=tuple(c.strip().upper() for c in args.coins.split(",") if c.strip()),
        interval=args.interval, seed=args.seed, hours=args.hours, cost_limit=args.cost_limit,
        ray_address=args.ray_address, workers=args.workers,
    )
    if args.test_mode:
        return test_mode_config(**common)
    return RunConfig(
        **common,
        evolve=EvolveConfig(strategies=args.strategies, batch_size=args.batch_size, generations=args.generations),
        validation=ValidationConfig(mode=args.validation_mode),
    )


def _one_line(err: ValidationError) -> str:
    first = err.errors()[0]
    field = str(first["loc"][-1]) if first["loc"] else ""
    flag = _FLAGS.get(field, field)
    return f"{flag}: {first['msg'].removeprefix('Value error, ')}" if flag else first["msg"]


def run(args: argparse.Namespace) -> int:
    try:
        config = build_config(args)
        root = data_dir(args)
        RunDir.for_run(root, config.run_id)
        # Fail in a second on bad data, before Prefect and Ray start.
        market = load_market_data(MarketStore(root / "market"), config.coins, config.interval, config.costs)
        split_windows(market, config.windows)
    except ValidationError as err:
        return fail(_one_line(err))
    except (MarketDataError, ValueError) as err:
        return fail(str(err))
    cpus = config.workers or os.cpu_count() or 1
    estimate = cpus * config.hours * args.cpu_hour_price
    if config.cost_limit is not None and estimate > config.cost_limit:
        return fail(f"estimated cost ${estimate:.2f} ({cpus} CPUs × {config.hours} h × ${args.cpu_hour_price}/CPU-h) "
                    f"exceeds --cost-limit ${config.cost_limit:.2f}")
    console = Console()
    console.print(f"run [bold]{config.run_id}[/]: {market.source}; {config.evolve.strategies} strategies × "
                  f"{config.evolve.generations} generations on {config.evolve.islands} island(s)")
    from flows.pipeline import run_pipeline  # heavy imports (Prefect, Ray) only once the input is known good
    from flows.prefect_api import prefect_api

    started = time.perf_counter()
    with prefect_api(root / "prefect"):
        report = run_pipeline(config, root)
    _print_summary(console, report, RunDir.for_run(root, config.run_id), time.perf_counter() - started)
    return 0


def _print_summary(console: Console, report: dict, run: RunDir, seconds: float) -> None:
    summary = report["execution_summary"]
    table = Table(title=f"run {report['run_id']} — {report['status']} in {seconds:.1f} s")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, secs in report["stage_seconds"].items():
        table.add_row(stage, f"{secs:.1f}" if secs is not None else "-")
    console.print(table)
    console.print(
        f"evaluated {summary['strategies_evaluated']} genomes ({summary['strategies_generated']} distinct) → "
        f"{summary['candidates']} candidates → {summary['strategies_validated']} validated → "
        f"{summary['strategies_deployed']} deployed"
    )
    console.print(f"artifacts: {run.root}")
