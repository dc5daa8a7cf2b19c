"""The flows: the nightly run (evolve → serialize → validate → deploy) and the re-run of one stage.

Both take flat, typed parameters (the Prefect UI's run form shows them as plain fields) and run the
stages through tasks.orchestration.stages: each stage a cached task (a retried flow run recomputes nothing already
done), its work submitted under tasks.orchestration.policies (retries, circuit breakers), evaluation batches under a
safety scope (tasks.orchestration.safety), failures recorded in manifest.json["resilience"]. Ray starts inside the
flow, where the parameters say (flows.ray_runner).

In the Prefect UI a run shows: a progress artifact over the stages, a table of the top strategies after
each stage, the evolution's own progress and island table (tasks.orchestration.events), and a markdown summary.
"""
from __future__ import annotations

import contextvars
import logging
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import pandas as pd
from prefect import Task, flow
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, ConfigDict

from exchange.hyperliquid.secrets import load_wallet
from flows.parameters import run_config
from flows.ray_runner import UceRayTaskRunner, start_ray
from tasks.market.refresh import refresh_market_data
from tasks.market.source import MarketData, load_market_data
from tasks.market.store import MarketStore
from tasks.market.windows import split_windows
from tasks.orchestration.breakers import BreakerBoard, BreakerSettings
from tasks.orchestration.costs import DEFAULT_CPU_HOUR_PRICE, cost_refusal, expected_cost, usage
from tasks.orchestration.events import EventSink
from tasks.orchestration.policies import call, guarding, record_violation
from tasks.orchestration.resilience import ResilienceLog
from tasks.orchestration.safety import SCOPES, ScopeName
from tasks.orchestration.stages import StageContext, deploy, evolve, run_stage, serialize, validate
from tasks.orchestration.ui_artifacts import RunProgress, publish_stage_table, publish_summary
from tasks.report.html_page import write_report_html
from tasks.report.markdown_artifact import publish_report_artifact
from tasks.report.report_json import write_report
from tasks.run.config import RunConfig, ValidationMode, stored_config
from tasks.run.config_file import config_file_record
from tasks.run.run_dir import STAGES, RunDir, code_version, current_process, run_status, stage_input_problems

__all__ = ["CostLimitError", "RunExistsError", "StaleInputError", "local_runner", "rerun_stage", "run_pipeline",
           "ultra_compressed_evolution"]

log = logging.getLogger(__name__)
StageName = Literal["evolve", "serialize", "validate", "deploy"]
PIPELINE = (evolve, serialize, validate, deploy)  # the stage tasks, in order; a re-run takes a slice

# Live consumers of the evolution's events in this process (the CLI's progress display): run_pipeline sets it.
_LIVE_EVENTS: contextvars.ContextVar[EventSink | None] = contextvars.ContextVar("uce_live_events", default=None)


class RunOptions(BaseModel):
    """How a run is carried out, beside what it computes (RunConfig); the manifest keeps it as "orchestration"."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    safety_scope: ScopeName = "production"
    cpu_hour_price: float = DEFAULT_CPU_HOUR_PRICE
    force: bool = False  # run even when the cost estimate exceeds the limit
    refresh_from: str = ""  # where new market data is fetched from first; "" = nowhere


class CostLimitError(ValueError):
    """The run's estimated cost exceeds its cost limit (and it was not forced)."""


@flow(name="ultra_compressed_evolution", task_runner=UceRayTaskRunner())
def ultra_compressed_evolution(
    config_file: str = "",
    run_id: str = "",
    test_mode: bool | None = None,
    coins: str | None = None,
    interval: str | None = None,
    seed: int | None = None,
    hours: float | None = None,
    strategies: int | None = None,
    batch_size: int | None = None,
    generations: int | None = None,
    validation_mode: ValidationMode | None = None,
    safety_scope: ScopeName = "production",
    cost_limit: float | None = None,
    cpu_hour_price: float = DEFAULT_CPU_HOUR_PRICE,
    force: bool = False,
    ray_address: str = "",
    workers: int | None = None,
    data_dir: str = "data",
    validation_concurrency: int | None = None,
    testnet: bool | None = None,
    testnet_minutes: float | None = None,
    testnet_url: str | None = None,
    settings: dict | None = None,
    refresh_from: str = "",
    overwrite: bool = False,
) -> dict:
    """Evolve strategies on the train window, keep the ones that hold up out of sample, deploy the best.

    A parameter left empty takes its value from settings, then config_file, then the built-in default
    (`uce run --print-config` prints them all).

    Args:
        config_file: a TOML or YAML run configuration (`uce run --print-config` writes one); empty = none
        run_id: name of the run folder under data/runs; empty = the UTC time
        test_mode: small and fast (50 strategies, islands of 10, 5 generations, minimal validation)
        coins: comma-separated as Hyperliquid spells them, e.g. BTC,ETH,kPEPE (default BTC)
        interval: bar interval, e.g. 1h (default)
        seed: random seed of the evolution (42)
        hours: time budget of the run; evolution stops at half of it (4)
        strategies: genomes per generation over all islands (500)
        batch_size: genomes per island, one Ray task each (50)
        generations: generations to evolve (20)
        validation_mode: minimal (gate 1), fast (gates 1-2) or full (gates 1-3, default)
        safety_scope: time limit per evaluation batch (sandbox 15 s, restricted 10 s, production 30 s,
            experimental 60 s, research 180 s)
        cost_limit: refuse to run when the estimated cost (USD) exceeds this
        cpu_hour_price: USD per CPU-hour, for the cost estimate and report
        force: run even when the estimate exceeds cost_limit
        ray_address: HOST:PORT of an existing Ray cluster; empty = an embedded Ray
        workers: CPUs of the embedded Ray; empty = all of this machine's
        data_dir: the market store and run artifacts
        validation_concurrency: validation batches in flight, one task each (10)
        testnet: gate 3 trades forward in real time on the Hyperliquid testnet (key from $UCE_PRIVATE_KEY or
            the Prefect Secret block 'uce-private-key') instead of replaying the live window on the loopback venue
        testnet_minutes: wall-clock minutes each candidate trades forward with testnet (30)
        testnet_url: where testnet trades: 'testnet' or the URL of a Hyperliquid-compatible API (a `uce venue`)
        settings: any setting, nested like the config file, e.g. {"costs": {"taker_fee": 0.0007}}
        refresh_from: fetch new candles and funding for the run's coins from mainnet, testnet or a URL before
            evolving; empty = use the store as it is. A failed fetch is reported and the run goes on.
        overwrite: replace an existing run of the same run_id (its artifacts are deleted first); without it
            such a run is refused (the stage deployment continues one)
    """
    flat = dict(run_id=run_id, test_mode=test_mode, coins=coins, interval=interval, seed=seed, hours=hours,
                strategies=strategies, batch_size=batch_size, generations=generations,
                validation_mode=validation_mode, cost_limit=cost_limit, ray_address=ray_address, workers=workers,
                validation_concurrency=validation_concurrency, testnet=testnet, testnet_minutes=testnet_minutes,
                testnet_url=testnet_url)
    config = run_config(flat, config_file=config_file, settings=settings)
    if config.validation.testnet:
        load_wallet()  # no key: fail now, not hours later in gate 3 (the error names where it looked, never a key)
    run = RunDir.for_run(Path(data_dir).expanduser().resolve(), config.run_id)
    _claim(run, overwrite=overwrite)
    options = RunOptions(safety_scope=safety_scope, cpu_hour_price=cpu_hour_price, force=force,
                         refresh_from=refresh_from)
    run.update_manifest(run_id=config.run_id, status="running", code_version=code_version(),
                        parameters=config.model_dump(mode="json"), orchestration=options.model_dump(),
                        config_file=config_file_record(config_file) if config_file else None)
    with _executing(run, config, tuple(t.name for t in PIPELINE), rerun=False) as stage:
        stage(evolve)
        stage(serialize)
        stage(validate)
        stage(deploy)
    return stage.report


class RunExistsError(ValueError):
    """A new run was given the id of an existing one, or a run that is still running was to be touched."""


class StaleInputError(ValueError):
    """A stage re-run's inputs are not the files the previous stage wrote (missing or changed)."""


def _claim(run: RunDir, *, overwrite: bool) -> None:
    """Make ``run``'s folder this flow run's: refuse an existing run unless ``overwrite`` (then delete it
    first, so no artifact of the old run survives), but let a retry of this very flow run continue."""
    manifest = run.manifest()
    if not manifest or manifest.get("prefect", {}).get("flow_run_id") == str(flow_run.id):
        return
    status = run_status(manifest)
    if status == "running":
        raise RunExistsError(f"run {run.run_id} is still running (process {manifest['process']['pid']}); "
                             "wait for it or choose another run id")
    if not overwrite:
        raise RunExistsError(f"run {run.run_id} already exists ({status}): continue it with `uce run --resume "
                             f"--run-id {run.run_id}`, replace it with --overwrite, or choose another run id")
    log.warning("run %s (%s) is replaced: its artifacts are deleted", run.run_id, status)
    shutil.rmtree(run.root)


@flow(name="uce_stage", task_runner=UceRayTaskRunner())
def rerun_stage(run_id: str, stage: StageName = "validate", only: bool = False, ray_address: str = "",
                workers: int | None = None, data_dir: str = "data", force: bool = False) -> dict:
    """Re-run one stage of a run from the previous stage's artifact, with the run's own parameters, then
    the stages after it (cached ones come back at once) unless only is set.

    Args:
        run_id: the run folder under data/runs
        stage: evolve, serialize, validate or deploy
        only: re-run just this stage and leave the later ones as they are
        ray_address: HOST:PORT of an existing Ray cluster; empty = an embedded Ray
        workers: CPUs of the embedded Ray; empty = the run's own setting
        data_dir: the market store and run artifacts
        force: re-run even if the stage's input artifacts or the market data differ from what the run
            recorded (the difference is recorded in the manifest)
    """
    run = RunDir.for_run(Path(data_dir).expanduser().resolve(), run_id)
    manifest = run.manifest()
    if not manifest.get("parameters"):
        raise FileNotFoundError(f"{run.manifest_path} has no run parameters: is {run_id!r} a run of this data dir?")
    if run_status(manifest) == "running":
        raise RunExistsError(f"run {run_id} is still running (process {manifest['process']['pid']}); wait for it")
    index = STAGES.index(stage)
    if index and manifest.get("stages", {}).get(STAGES[index - 1], {}).get("status") != "completed":
        raise ValueError(f"stage {STAGES[index - 1]} of run {run_id} has not completed: re-run it first")
    _check_inputs(run, stage, force=force)
    config, dropped = stored_config(manifest["parameters"])
    if dropped:
        log.warning("run %s was made by an older version: its settings %s no longer exist and are ignored",
                    run_id, ", ".join(dropped))
    config = config.model_copy(
        update={"ray_address": ray_address or None, "workers": workers or manifest["parameters"].get("workers")})
    stage_tasks = PIPELINE[index:index + 1] if only else PIPELINE[index:]
    with _executing(run, config, tuple(t.name for t in stage_tasks), rerun=True, force=force) as run_one:
        for stage_task in stage_tasks:
            run_one(stage_task)
    return run_one.report


def _check_inputs(run: RunDir, stage: str, *, force: bool) -> None:
    """Refuse a re-run whose inputs are not what the previous stage wrote, unless forced (then record it)."""
    problems = stage_input_problems(run, stage)
    if problems and not force:
        raise StaleInputError(f"run {run.run_id}: {'; '.join(problems)}; re-run the stage before it, or pass "
                              "--force to use the files as they are (recorded in the manifest)")
    if problems:
        _record_forced(run, stage, problems)


def _record_forced(run: RunDir, stage: str, problems: list[str]) -> None:
    log.warning("re-running %s of run %s on inputs it did not record (forced): %s", stage, run.run_id,
                "; ".join(problems))
    forced = run.manifest().get("forced_reruns", [])
    run.update_manifest(forced_reruns=[*forced, {"stage": stage, "at": time.time(), "problems": problems}])


def _run_market(run: RunDir, store: MarketStore, config: RunConfig, *, rerun: bool, force: bool) -> MarketData:
    """The run's market data: the store's now, or for a re-run the bars the run saw (the store may have grown
    since), which must be the same data; a re-run over changed data needs --force."""
    recorded = run.manifest().get("data") or {}
    until = {c: pd.Timestamp(v["last"]) for c, v in recorded.get("coins", {}).items()} if rerun else None
    market = load_market_data(store, config.coins, config.interval, config.costs, until=until)
    if rerun and recorded.get("fingerprint") and recorded["fingerprint"] != market.fingerprint:
        problem = f"the market data differs from what the run saw (fingerprint {recorded['fingerprint'][:12]}…)"
        if not force:
            raise StaleInputError(f"run {run.run_id}: {problem}; pass --force to re-run on the store as it is")
        _record_forced(run, "data", [problem])
    return market


class _Stages:
    """Runs the stage tasks a flow names, one call each, recording each in the manifest; ``report`` is the
    run's report.json once the ``_executing`` block has ended."""

    def __init__(self, ctx: StageContext, resilience: ResilienceLog, progress: RunProgress, cache: Path, *,
                 rerun: bool) -> None:
        self._ctx, self._resilience, self._progress, self._cache = ctx, resilience, progress, cache
        self._refresh = rerun  # a re-run recomputes its first stage even on a cache hit
        self.seconds = 0.0
        self.report: dict = {}

    def __call__(self, stage_task: Task) -> None:
        stage = stage_task.name
        _route_event({"event": "stage", "stage": stage, "state": "started"})
        done = run_stage(self._ctx, stage_task, resilience=self._resilience, cache=self._cache, refresh=self._refresh)
        self._refresh = False
        self.seconds += done["seconds"]
        _route_event({"event": "stage", "stage": stage, "state": "finished", "seconds": done["seconds"],
                      "cached": done["cached"], "summary": done["summary"]})
        self._resilience.stage_recovered(stage)  # failures an earlier attempt of this stage gave up on
        publish_stage_table(self._ctx.run, stage)
        self._progress.done(stage)


@contextmanager
def _executing(run: RunDir, config: RunConfig, planned: tuple[str, ...], *, rerun: bool,
               force: bool = False) -> Iterator[_Stages]:
    """The run's Ray, cost check, market data and policies around the ``planned`` stages the block runs; at
    its end the run's status, cost and reports. A re-run reads the market data the run saw (``force``: or
    the store's, if that changed)."""
    started = time.time()
    options = RunOptions.model_validate(run.manifest().get("orchestration") or {})
    price = options.cpu_hour_price
    root = run.root.parent.parent
    board = BreakerBoard(root / "breakers", BreakerSettings.from_env())
    resilience = ResilienceLog(run, board)
    run.update_manifest(status="running", prefect={"flow_run_id": str(flow_run.id), "flow_run_name": flow_run.name},
                        started=run.manifest().get("started") or started, process=current_process())
    cpus = 0
    stages: _Stages | None = None
    try:
        cpus = start_ray(config.ray_address, config.workers)
        _check_cost(run, config, options, cpus)
        progress = RunProgress(run, planned)
        if not rerun and options.refresh_from:
            _refresh_market(run, MarketStore(root / "market"), options.refresh_from, config)
        with guarding(resilience, board):
            market = call(_run_market, run, MarketStore(root / "market"), config, rerun=rerun, force=force)
            windows = split_windows(market, config.windows)
            run.update_manifest(data=market.describe(), windows=windows.describe())
            ctx = StageContext(run, config, market, windows, SCOPES[options.safety_scope], on_event=_route_event)
            stages = _Stages(ctx, resilience, progress, root / "cache", rerun=rerun)
            yield stages
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM through the CLI: `uce run --resume` continues it
        _finish(run, "interrupted", started, stages.seconds if stages is not None else 0.0, cpus, price)
        raise
    except BaseException:
        _finish(run, "failed", started, stages.seconds if stages is not None else 0.0, cpus, price)
        raise
    done = all(run.manifest().get("stages", {}).get(s, {}).get("status") == "completed" for s in STAGES)
    stages.report = _finish(run, "completed" if done else "partial", started, stages.seconds, cpus, price)


def _check_cost(run: RunDir, config: RunConfig, options: RunOptions, cpus: int) -> None:
    """Record the run's cost estimate; refuse the run when it exceeds the limit (unless forced)."""
    estimate = expected_cost(config, cpus, options.cpu_hour_price, runs_dir=run.root.parent)
    run.update_manifest(resources=run.manifest().get("resources", {}) | {
        "workers": cpus, "cpu_hour_price": options.cpu_hour_price, "estimate_usd": round(estimate.usd, 4),
        "estimate_basis": estimate.basis, "cost_limit": config.cost_limit})
    refusal = cost_refusal(estimate, config.cost_limit, force=options.force)
    if refusal:
        raise CostLimitError(refusal)


def _refresh_market(run: RunDir, store: MarketStore, endpoint: str, config: RunConfig) -> None:
    """New candles and funding for the run's coins before it evolves; a failure is recorded, not raised:
    the run goes on with what the store has (the store keeps every page merged before the failure)."""
    record = refresh_market_data(store, endpoint, config.coins, config.interval)
    run.update_manifest(data_refresh=record)
    if record["ok"]:  # a failure was logged where it happened
        log.info("data refresh from %s: %d new bar(s)", endpoint, record["new_bars"])


def _route_event(event: dict) -> None:
    """The evolution's events: safety-scope violations to the resilience log, everything to the live sink.

    A module-level function, so it pickles by reference: it travels inside the stage's parameters (Ray
    ships the Prefect context to workers), while the live sink it looks up per event may hold a terminal
    (the CLI's progress bar)."""
    if event["event"] == "violation":
        record_violation(event)
    if (live := _LIVE_EVENTS.get()) is not None:
        live(event)


def _finish(run: RunDir, status: str, started: float, stage_seconds: float, cpus: int, price: float) -> dict:
    """Status, this execution's resources and cost, report.json and the summary artifact."""
    finished = time.time()
    seconds = finished - started
    manifest = run.manifest()
    resources = manifest.get("resources", {})
    executions = resources.get("executions", []) + [{
        "flow_run_id": manifest.get("prefect", {}).get("flow_run_id"), "started": started, "seconds": round(seconds, 3),
        "stage_seconds": round(stage_seconds, 3), "overhead_seconds": round(seconds - stage_seconds, 3),
        "cpus": cpus, **usage(cpus, seconds, price)}]
    total = {k: round(sum(e[k] for e in executions), 6) for k in ("cpu_hours", "estimated_cost_usd")}
    run.update_manifest(status=status, finished=finished, resources=resources | total | {"executions": executions})
    report = write_report(run)
    publish_summary(run)
    try:  # the HTML page is for people; a failure to draw it must not fail a finished run
        write_report_html(run, report)
        publish_report_artifact(run)
    except Exception as exc:  # noqa: BLE001
        log.warning("report.html could not be built: %s: %s", type(exc).__name__, exc)
    return report


@contextmanager
def _live_events(on_event: EventSink | None) -> Iterator[None]:
    token = _LIVE_EVENTS.set(on_event)
    try:
        yield
    finally:
        _LIVE_EVENTS.reset(token)


def local_runner(workers: int | None = None) -> ThreadPoolTaskRunner:
    """Threads in this process instead of Ray: for small runs and re-runs (``uce stage --local``)."""
    return ThreadPoolTaskRunner(max_workers=workers)


def run_pipeline(config: RunConfig, data_dir: Path, *, config_file: str = "", safety_scope: ScopeName = "production",
                 cpu_hour_price: float = DEFAULT_CPU_HOUR_PRICE, force: bool = False, refresh_from: str = "",
                 overwrite: bool = False, on_event: EventSink | None = None) -> dict:
    """Run the nightly flow in this process for ``config`` (``config_file``, if it came from one, is
    recorded); ``on_event`` receives the evolution's events live (the CLI's progress display)."""
    with _live_events(on_event):
        return ultra_compressed_evolution(config_file=config_file, settings=config.model_dump(mode="json"),
                                          safety_scope=safety_scope, cpu_hour_price=cpu_hour_price, force=force,
                                          refresh_from=refresh_from, overwrite=overwrite, data_dir=str(data_dir))
