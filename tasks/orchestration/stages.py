"""The four stages as Prefect tasks, cached on the content of what they read.

Each stage reads the previous stage's artifact and writes its own (DESIGN.md). Its cache key is the
sha256 of: the stage name, the sha256 of every input artifact (for evolve: the market data fingerprint
and the windows), the run's parameters, the safety scope and the code (tasks.run.run_dir.code_digest, a
hash of the kernels', exchange's and tasks' sources) — never a path. The
result (the hashes of the artifacts written, and the stage's summary) is persisted under the result
storage the flow gives (``<data dir>/cache``), so a retried flow run (``prefect flow-run retry``) or a
later run of the same stage with the same inputs gets it back without recomputing. A cache hit is only
accepted when the artifacts on disk still have the recorded hashes; otherwise the stage runs again.
Deploy is never cached: it acts on the world.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, NamedTuple

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from exchange.atomic import file_sha256
from tasks.deploy.stage import deploy_run
from tasks.evolve.evolution import run_evolution
from tasks.market.source import MarketData
from tasks.market.windows import RunWindows
from tasks.orchestration.events import EventSink
from tasks.orchestration.resilience import ResilienceLog
from tasks.orchestration.safety import SafetyScope
from tasks.run.config import RunConfig
from tasks.run.run_dir import STAGES, RunDir, artifact_problems, code_digest
from tasks.serialize.candidates import serialize_run
from tasks.validate.stage import validate_run

__all__ = ["STAGE_TIME_SHARE", "StageContext", "deploy", "evolve", "run_stage", "serialize",
           "stage_cache_key", "stage_inputs", "stage_timeout", "validate"]

# Hard time limit of each stage as a share of the run's --hours (evolution stops itself at half of it).
STAGE_TIME_SHARE = {"evolve": 1.0, "serialize": 0.1, "validate": 0.5, "deploy": 0.1}
MIN_STAGE_TIMEOUT_S = 600.0


class StageContext(NamedTuple):
    """Everything a stage needs; ``on_event`` receives the evolution's events as they happen."""
    run: RunDir
    config: RunConfig
    market: MarketData
    windows: RunWindows
    scope: SafetyScope
    on_event: EventSink | None = None


def _sha256_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def stage_inputs(ctx: StageContext, stage: str) -> dict[str, str]:
    """sha256 of everything ``stage`` reads, by name."""
    run = ctx.run
    data = {"market": ctx.market.fingerprint, "windows": _sha256_json(ctx.windows.describe())}
    if stage == "evolve":
        return data
    if stage == "serialize":
        return data | {"evolved.parquet": file_sha256(run.evolved)}
    if stage == "validate":
        return data | {"candidates.parquet": file_sha256(run.candidates)}
    if stage == "deploy":
        return {"validated.parquet": file_sha256(run.validated)}
    raise ValueError(f"stage={stage!r}: expected one of {', '.join(STAGES)}")


def stage_cache_key(ctx: StageContext, stage: str) -> str:
    """The cache key of ``stage`` (see the module docstring)."""
    # The whole scope, not its name: a different limit under the same name is different work.
    payload = {"stage": stage, "inputs": stage_inputs(ctx, stage), "scope": ctx.scope._asdict(),
               "parameters": ctx.config.model_dump(mode="json"), "code": code_digest()}
    return f"uce-{stage}-{_sha256_json(payload)}"


def stage_timeout(stage: str, hours: float) -> float:
    return max(MIN_STAGE_TIMEOUT_S, STAGE_TIME_SHARE[stage] * hours * 3600.0)


def _written(run: RunDir, *paths: Path) -> dict[str, str]:
    return {str(p.relative_to(run.root)): file_sha256(p) for p in paths if p.exists()}


def _evolve(ctx: StageContext) -> dict:
    # Islands go to the flow's task runner under their policy (tasks.orchestration.submitters), their
    # evaluations under the run's safety scope; violation events reach the resilience log through on_event.
    summary = run_evolution(ctx.run, ctx.market, ctx.windows, ctx.config, on_event=ctx.on_event, scope=ctx.scope)
    return {"summary": summary, "artifacts": _written(ctx.run, ctx.run.evolved, ctx.run.events)}


def _serialize(ctx: StageContext) -> dict:
    candidates = serialize_run(ctx.run, ctx.config, ctx.market, ctx.windows)
    strategies = [ctx.run.strategies / f"{sid}.json" for sid in candidates["strategy_id"]]
    return {"summary": {"candidates": len(candidates)},
            "artifacts": _written(ctx.run, ctx.run.candidates, *strategies)}


def _validate(ctx: StageContext) -> dict:
    table = validate_run(ctx.run, ctx.market, ctx.windows, ctx.config, scope=ctx.scope, on_event=ctx.on_event)
    return {"summary": {"validated": len(table), "passed": int(table["passed"].sum()) if len(table) else 0},
            "artifacts": _written(ctx.run, ctx.run.validated)}


def _deploy(ctx: StageContext) -> dict:
    deployed = deploy_run(ctx.run, ctx.config)
    return {"summary": {"deployed": len(deployed)}, "artifacts": _written(ctx.run, ctx.run.deployed)}


def _key_fn(stage: str):
    def key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
        return stage_cache_key(parameters["ctx"], stage)
    return key


# The four stages as Prefect tasks, in pipeline order (flows.pipeline runs them by these names).
evolve = task(name="evolve", cache_key_fn=_key_fn("evolve"), persist_result=True)(_evolve)
serialize = task(name="serialize", cache_key_fn=_key_fn("serialize"), persist_result=True)(_serialize)
validate = task(name="validate", cache_key_fn=_key_fn("validate"), persist_result=True)(_validate)
deploy = task(name="deploy", cache_policy=NO_CACHE)(_deploy)  # never cached: it acts on the paper book


def run_stage(ctx: StageContext, stage_task: Task, *, resilience: ResilienceLog, cache: Path,
              refresh: bool = False) -> dict:
    """Run one of the four stage tasks (inside a flow), recording status, seconds, whether it came from the
    cache, and its artifacts' hashes in the manifest; ``refresh`` recomputes even on a cache hit.
    Returns {"summary", "artifacts", "cached", "seconds"}."""
    run, stage = ctx.run, stage_task.name
    run.record_stage(stage, "running")
    resilience.stage = stage
    started = time.perf_counter()
    stage_task = stage_task.with_options(timeout_seconds=stage_timeout(stage, ctx.config.hours))
    if stage_task.cache_policy is not NO_CACHE:
        stage_task = stage_task.with_options(result_storage=cache, refresh_cache=refresh or None)
    try:
        state = stage_task(ctx, return_state=True)
        out = state.result()
        cached = state.name == "Cached"
        if cached and artifact_problems(run.root, out["artifacts"], writer=stage):  # not on disk as cached
            out, cached = stage_task.with_options(refresh_cache=True)(ctx), False
    except BaseException as exc:
        run.record_stage(stage, "failed", seconds=time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}")
        raise
    seconds = time.perf_counter() - started
    run.record_stage(stage, "completed", seconds=seconds, artifacts=out["artifacts"], cached=cached,
                     summary=out["summary"])
    return out | {"cached": cached, "seconds": seconds}
