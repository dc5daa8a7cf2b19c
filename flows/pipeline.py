"""The nightly flow: evolve → serialize → validate → deploy, each stage reading the previous stage's artifact."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect_ray import RayTaskRunner

from tasks.config import RunConfig
from tasks.deploy import deploy_run
from tasks.evolve import run_evolution
from tasks.market_source import MarketData, load_market_data
from tasks.market_store import MarketStore
from tasks.report import write_report
from tasks.run_dir import RunDir, code_version
from tasks.serialize import serialize_run
from tasks.validate import validate_run
from tasks.windows import RunWindows, split_windows

__all__ = ["ray_task_runner", "run_pipeline", "ultra_compressed_evolution"]

log = logging.getLogger(__name__)


# Embedded Ray sized to this machine. Workers ship logs in batches: a short interval keeps the last
# lines from being lost when Ray shuts down (PREFECT_RAY_NOTES.md).
_WORKER_ENV = {"env_vars": {"PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.5"}}
EMBEDDED_RAY = {
    "include_dashboard": False,
    "object_store_memory": 1_000_000_000,
    "runtime_env": _WORKER_ENV,
    "log_to_driver": False,
}


def ray_task_runner(address: str | None, workers: int | None = None) -> RayTaskRunner:
    """An existing cluster at ``address``, or an embedded Ray on this machine with ``workers`` CPUs."""
    if address:
        return RayTaskRunner(address=address, init_kwargs={"runtime_env": _WORKER_ENV})
    return RayTaskRunner(init_kwargs=EMBEDDED_RAY | ({"num_cpus": workers} if workers else {}))


def _stage(run: RunDir, name: str, work, *artifacts: Path) -> Any:
    """Run one stage, recording its status, seconds and artifact hashes in the manifest."""
    run.record_stage(name, "running")
    started = time.perf_counter()
    try:
        result = work()
    except BaseException as exc:
        run.record_stage(name, "failed", seconds=time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}")
        raise
    written = tuple(p for p in artifacts if p.exists())
    run.record_stage(name, "completed", seconds=time.perf_counter() - started, artifacts=written,
                     **({"summary": result} if name == "evolve" else {}))
    return result


@task(name="serialize", cache_policy=NO_CACHE)
def serialize_task(run: RunDir, config: RunConfig) -> int:
    return len(serialize_run(run, config))


@task(name="validate", cache_policy=NO_CACHE)
def validate_task(run: RunDir, market: MarketData, windows: RunWindows, config: RunConfig) -> int:
    return int(validate_run(run, market, windows, config)["passed"].sum())


@task(name="deploy", cache_policy=NO_CACHE)
def deploy_task(run: RunDir, config: RunConfig) -> int:
    return len(deploy_run(run, config))


@flow(name="ultra_compressed_evolution", task_runner=ray_task_runner(None))
def ultra_compressed_evolution(config: RunConfig = RunConfig(), data_dir: str = "data") -> dict:
    """Evolve strategies on the train window, keep the ones that hold up out of sample, deploy the best."""
    run = RunDir.for_run(Path(data_dir), config.run_id)
    market = load_market_data(MarketStore(Path(data_dir) / "market"), config.coins, config.interval, config.costs)
    windows = split_windows(market, config.windows)
    run.update_manifest(
        run_id=config.run_id, status="running", started=time.time(), code_version=code_version(),
        parameters=config.model_dump(mode="json"), data=market.describe(), windows=windows.describe(),
    )
    try:
        _stage(run, "evolve", lambda: run_evolution(run, market, windows, config), run.evolved, run.events)
        _stage(run, "serialize", lambda: serialize_task(run, config), run.candidates)
        _stage(run, "validate", lambda: validate_task(run, market, windows, config), run.validated)
        _stage(run, "deploy", lambda: deploy_task(run, config), run.deployed)
    except BaseException:
        run.update_manifest(status="failed", finished=time.time())
        write_report(run)
        raise
    run.update_manifest(status="completed", finished=time.time())
    return write_report(run)


def run_pipeline(config: RunConfig, data_dir: Path) -> dict:
    """Run the flow on Ray (embedded, or the cluster at ``config.ray_address``)."""
    runner = ray_task_runner(config.ray_address, config.workers)
    return ultra_compressed_evolution.with_options(task_runner=runner)(config=config, data_dir=str(data_dir))
