"""``uce run``: the nightly job — evolve, serialize, validate, deploy — with a run report at the end."""
from __future__ import annotations

import argparse
import os
import time

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from exchange.errors import ConfigurationError
from exchange.hyperliquid.secrets import PRIVATE_KEY_BLOCK, PRIVATE_KEY_ENV, load_wallet
from flows.commands.common import data_dir, fail
from flows.commands.progress import RunDisplay
from flows.commands.stage import rerun
from flows.jit_cache import start_compiling, wait_compiled
from flows.parameters import FLAT_FIELDS, run_config
from flows.process_guard import guard_children
from flows.ray_auth import cluster_refusal, token_auth_for
from tasks.market.source import load_market_data
from tasks.market.store import MarketDataError, MarketStore
from tasks.market.windows import split_windows
from tasks.orchestration.costs import DEFAULT_CPU_HOUR_PRICE, cost_refusal, expected_cost
from tasks.orchestration.safety import SCOPES
from tasks.run.config import EvolveConfig, RunConfig, ValidationConfig
from tasks.run.config_file import ConfigError, config_toml
from tasks.run.run_dir import STAGES, RunDir, run_status


def _default(model: type[BaseModel], name: str) -> object:
    return model.model_fields[name].default


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run", help="run the whole pipeline once",
        description="Settings come from the built-in defaults, then --test-mode's sizes, then --config FILE, "
                    "then these flags. `uce run --print-config` prints the result as a config file.")
    p.add_argument("--config", metavar="FILE",
                   help="TOML or YAML run configuration: sections and keys as in --print-config, e.g. [costs] "
                        "taker_fee = 0.0007")
    p.add_argument("--print-config", action="store_true",
                   help="print the effective configuration (defaults, --config and flags) as TOML and exit")
    e, v = EvolveConfig, ValidationConfig
    p.add_argument("--strategies", metavar="N",
                   help=f"genomes per generation over all islands ({_default(e, 'strategies')})")
    p.add_argument("--batch-size", metavar="N", help=f"genomes per island / Ray task ({_default(e, 'batch_size')})")
    p.add_argument("--generations", metavar="N", help=f"generations to evolve ({_default(e, 'generations')})")
    p.add_argument("--hours", metavar="H", help=f"time budget of the run ({_default(RunConfig, 'hours')})")
    p.add_argument("--validation-mode", choices=("full", "fast", "minimal"), help=f"({_default(v, 'mode')})")
    p.add_argument("--cost-limit", metavar="USD",
                   help="refuse to start if the estimated cost (the expected evaluations at the rate measured on "
                        "earlier runs, on the run's CPUs, at --cpu-hour-price) exceeds this (USD)")
    p.add_argument("--force", action="store_true", help="start even when the estimate exceeds --cost-limit")
    p.add_argument("--cpu-hour-price", type=float, default=DEFAULT_CPU_HOUR_PRICE,
                   help=f"USD per CPU-hour ({DEFAULT_CPU_HOUR_PRICE})")
    p.add_argument("--safety-scope", choices=tuple(SCOPES), default="production",
                   help="time limit per evaluation batch: " + ", ".join(f"{s.name} {s.time_limit_s:g} s"
                                                                      for s in SCOPES.values()) + " (production)")
    p.add_argument("--test-mode", action="store_true", default=None,
                   help="small and fast: 50 strategies, islands of 10, 5 generations, minimal validation")
    p.add_argument("--coins", help="comma-separated as Hyperliquid spells them, e.g. BTC,ETH,kPEPE "
                                   f"({','.join(_default(RunConfig, 'coins'))})")
    p.add_argument("--interval", help=f"bar interval ({_default(RunConfig, 'interval')})")
    p.add_argument("--seed", metavar="N", help=f"({_default(RunConfig, 'seed')})")
    p.add_argument("--ray-address", help="HOST:PORT of an existing Ray cluster (default: embedded Ray)")
    p.add_argument("--workers", metavar="N",
                   help="CPUs for the embedded Ray (default: all of this machine's); with --ray-address, the "
                        "cluster's CPUs for the cost estimate")
    p.add_argument("--run-id", help="name of the run folder (default: UTC time)")
    p.add_argument("--validation-concurrency", metavar="N",
                   help=f"validation batches in flight, one task each ({_default(v, 'concurrency')})")
    p.add_argument("--testnet", action="store_true", default=None,
                   help="gate 3 trades forward in real time on the Hyperliquid testnet instead of replaying the live "
                        f"window on the loopback venue; key from ${PRIVATE_KEY_ENV} or the Prefect Secret block "
                        f"'{PRIVATE_KEY_BLOCK}'")
    p.add_argument("--testnet-minutes", metavar="MINUTES",
                   help=f"with --testnet: wall-clock minutes each candidate trades ({_default(v, 'testnet_minutes')})")
    p.add_argument("--testnet-url", metavar="URL",
                   help="with --testnet: 'testnet' or the URL of a Hyperliquid-compatible API such as `uce venue` "
                        "(testnet)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run --run-id from its first unfinished stage, with its recorded settings")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the existing run --run-id: its artifacts are deleted before the new run starts")
    p.add_argument("--refresh-from", metavar="URL", default="",
                   help="first fetch new candles and funding for --coins from mainnet, testnet or a URL (as `uce "
                        "data fetch` does); a failed fetch is reported and the run goes on with the store")
    p.set_defaults(func=run)


# The flags whose text is a number, by the flat parameter they set, and that parameter's flag.
_NUMBERS: dict[str, type[int] | type[float]] = {
    "strategies": int, "batch_size": int, "generations": int, "hours": float, "cost_limit": float, "seed": int,
    "workers": int, "validation_concurrency": int, "testnet_minutes": float}
_FLAGS = {name: "--" + name.replace("_", "-") for name in FLAT_FIELDS}


def _number(text: str, flag: str, kind: type[int] | type[float]) -> int | float:
    """`text` as an int or float; a ConfigError naming the flag otherwise (argparse would print its usage too)."""
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{flag}: {text!r} is not {'an integer' if kind is int else 'a number'}") from None


def build_config(args: argparse.Namespace) -> RunConfig:
    """The run's configuration: defaults, test mode's sizes, --config and the flags that were given."""
    flat = {name: getattr(args, name) for name in FLAT_FIELDS}
    for name, kind in _NUMBERS.items():
        if flat[name] is not None:
            flat[name] = _number(flat[name], _FLAGS[name], kind)
    return run_config(flat, config_file=args.config or "", flat_names=_FLAGS)


def _existing_run_refusal(run: RunDir, *, overwrite: bool) -> str | None:
    """Why a new run may not take ``run``'s id (one line), or None: the id is free, or --overwrite."""
    manifest = run.manifest()
    if not manifest:
        return None
    status = run_status(manifest)
    if status == "running":
        return f"run {run.run_id} is still running (process {manifest['process']['pid']}); choose another --run-id"
    if overwrite:
        return None
    return (f"run {run.run_id} already exists ({status}): --resume continues its unfinished stages, --overwrite "
            "replaces it (its artifacts are deleted first), or choose another --run-id")


def _resume(args: argparse.Namespace) -> int:
    """`uce run --resume --run-id ID`: the run's first unfinished stage and those after it, as it was set up."""
    if not args.run_id:
        return fail("--resume needs --run-id: the run to continue (`uce runs` lists them)")
    given = [_FLAGS[name] for name in FLAT_FIELDS if name != "run_id" and getattr(args, name) is not None]
    if args.config or args.overwrite or given:
        extra = ", ".join(given + ["--config"] * bool(args.config) + ["--overwrite"] * args.overwrite)
        return fail(f"--resume continues run {args.run_id} with its recorded settings; leave out {extra}")
    try:
        target = RunDir.for_run(data_dir(args), args.run_id)
    except ValueError as err:
        return fail(str(err))
    stages = target.manifest().get("stages", {})
    unfinished = [s for s in STAGES if stages.get(s, {}).get("status") != "completed"]
    if target.manifest() and not unfinished:
        Console().print(f"run {args.run_id} has completed every stage; nothing to resume")
        return 0
    return rerun(args, args.run_id, unfinished[0] if unfinished else STAGES[0])


def _key_refusal() -> str | None:
    """Why --testnet cannot trade: no usable key in the environment or the Prefect Secret block (None if
    there is one). The message names where the key was looked for, never the key."""
    try:
        load_wallet()
    except ConfigurationError as err:
        return str(err)
    return None


def run(args: argparse.Namespace) -> int:
    if args.resume:
        return _resume(args)
    try:
        config = build_config(args)
        if args.print_config:
            print(config_toml(config), end="")
            return 0
        root = data_dir(args)
        if refusal := _existing_run_refusal(RunDir.for_run(root, config.run_id), overwrite=args.overwrite):
            return fail(refusal)
        # Fail in a second on bad data, before Prefect and Ray start (unless the run fetches its data first).
        source = f"data refreshed from {args.refresh_from} first"
        if not args.refresh_from:
            market = load_market_data(MarketStore(root / "market"), config.coins, config.interval, config.costs)
            split_windows(market, config.windows)
            source = market.source
    except (ConfigError, MarketDataError, ValueError) as err:
        return fail(str(err))
    # --testnet's key comes from the environment or the Prefect Secret block; a block needs a Prefect API:
    # the user's own (PREFECT_API_URL) answers now, the run's local server only once it is up below.
    key_pending = config.validation.testnet
    if key_pending and (os.environ.get(PRIVATE_KEY_ENV) or os.environ.get("PREFECT_API_URL")):
        if refusal := _key_refusal():
            return fail(refusal)
        key_pending = False
    estimate = expected_cost(config, config.workers or os.cpu_count() or 1, args.cpu_hour_price,
                             runs_dir=root / "runs")
    refusal = cost_refusal(estimate, config.cost_limit, force=args.force)
    if refusal:
        return fail(refusal)
    console = Console()
    console.print(f"run [bold]{config.run_id}[/]: {source}; {config.evolve.strategies} strategies × "
                  f"{config.evolve.generations} generations on {config.evolve.islands} island(s); "
                  f"estimated cost {estimate.describe()}")
    if config.ray_address and (refusal := cluster_refusal(config.ray_address)):
        return fail(refusal)
    token_auth_for(config.ray_address)  # before Ray is imported
    guard_children()
    from flows.pipeline import run_pipeline  # heavy imports (Prefect, Ray) only once the input is known good
    from flows.prefect_api import prefect_api

    started = time.perf_counter()
    compiling = start_compiling()  # a cold cache compiles while the Prefect server starts
    with prefect_api(root / "prefect"):
        if key_pending and (refusal := _key_refusal()):
            return fail(refusal)
        wait_compiled(compiling)
        with RunDisplay(console) as show:
            report = run_pipeline(config, root, config_file=args.config or "", safety_scope=args.safety_scope,
                                  cpu_hour_price=args.cpu_hour_price, force=args.force,
                                  refresh_from=args.refresh_from, overwrite=args.overwrite, on_event=show)
    _print_summary(console, report, RunDir.for_run(root, config.run_id), time.perf_counter() - started)
    return 0


def _print_summary(console: Console, report: dict, run: RunDir, seconds: float) -> None:
    """The run's last screen: the funnel, the best validated strategies, resources and where the report is."""
    from tasks.orchestration.ui_artifacts import top_strategies  # Prefect is loaded by now

    summary = report["execution_summary"]
    console.print(f"\nrun [bold]{report['run_id']}[/] {report['status']} in {seconds:.1f} s: "
                  f"evaluated {summary['strategies_evaluated']} genomes ({summary['strategies_generated']} distinct) → "
                  f"{summary['candidates']} candidates → {summary['strategies_validated']} validated → "
                  f"{summary['strategies_deployed']} deployed")
    if note := report.get("phase_performance", {}).get("stop_note"):
        console.print(f"[yellow]{note}[/]")
    if rows := top_strategies(run, "validate")[:5]:
        table = Table(title="best candidates after validation", title_justify="left")
        for column in ("strategy", "coin", "family", "Sharpe", "max DD"):
            table.add_column(column, no_wrap=True, min_width=len(column), max_width=14)
        table.add_column("verdict", overflow="ellipsis", no_wrap=True, max_width=26)
        for row in rows:
            table.add_row(str(row.get("strategy_id", ""))[:8], str(row.get("coin", "")), str(row.get("family", "")),
                          _fixed(row.get("gate1_sharpe"), "{:.2f}"), _fixed(row.get("gate1_max_drawdown"), "{:.1%}"),
                          _verdict(row))
        console.print(table)
    resources = run.manifest().get("resources", {})
    console.print(f"{resources.get('workers')} CPUs: {resources.get('cpu_hours', 0):.4f} CPU-hours, estimated cost "
                  f"${resources.get('estimated_cost_usd', 0):.4f} at ${resources.get('cpu_hour_price')}/CPU-hour")
    resilience = run.manifest().get("resilience") or {}
    if resilience.get("failures") or resilience.get("violations"):
        console.print(f"resilience: {resilience['state']} ({resilience['failures']} failures, "
                      f"{resilience['recovered']} recovered, {resilience['violations']} safety-scope violations)")
    console.print(f"report: {run.root / 'report.html'}")


def _verdict(row: dict) -> str:
    """"passed", or the first reason a gate gave ("Sharpe -2.19 < 1.0")."""
    if row.get("passed"):
        return "passed"
    first = str(row.get("reasons") or "").split(";")[0]
    first = first.split(": ", 1)[-1] if first.startswith("gate") else first
    return "not significant (StepM)" if first.startswith("not significant") else first


def _fixed(value: object, form: str) -> str:
    return form.format(value) if isinstance(value, (int, float)) and value == value else "—"
