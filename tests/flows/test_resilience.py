"""Fault tests of the orchestration, on one small run (20 strategies in 2 islands, 8 generations):

1. a Ray worker evolving an island is SIGKILLed: the island is re-submitted and no genome is lost or
   counted twice;
2. the driver is SIGKILLed during validate and the flow run retried (`prefect flow-run retry`): evolve and
   serialize come back from the cache with the same artifact hashes;
3. the venue fails 30 % of requests: `uce stage validate` (gates 1-3, then deploy) completes and no order
   is placed twice;
4. the venue is down: its breaker opens after 3 failures and the stage fails fast naming it; once the
   venue is back, `uce stage validate --run ID` completes the run.

The venue of gate 3 is the loopback venue each candidate trades on (tasks.validate.gate3_venue); 3 and 4 run the
stage in this process (--local, threads instead of Ray) so that the test can give that venue its faults.

A smaller flow in this process, on an embedded one-CPU Ray, checks the evolve stage's island policy and
safety scope directly: an island with bad input fails once and is not retried; an island whose worker is
killed is re-submitted after the policy's backoff and returns exactly what it returns undisturbed; and the
evolve stage under a scope that stops every evaluation batch completes, with the violations in
manifest.json and report.json.
"""
from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from orchestration_helpers import REPO, SMALL_RUN, descends_from, manifest, processes, stop
from prefect import flow

import tasks.validate.gate3_venue as gate_venue
from exchange.atomic import write_json_atomic
from exchange.hyperliquid.settings import ExchangeSettings
from exchange.venue import Faults, Venue
from flows.cli import main
from flows.pipeline import _route_event
from flows.ray_runner import UceRayTaskRunner
from kernels.archive import empty_archive
from kernels.families import N_FAMILIES
from tasks.evolve.evolution import IslandState, evolve_island, evolve_plan, initial_islands
from tasks.evolve.train_inputs import prepare_train_inputs
from tasks.market.source import load_market_data
from tasks.market.store import MarketStore
from tasks.market.windows import split_windows
from tasks.orchestration.policies import guarding
from tasks.orchestration.resilience import ResilienceLog
from tasks.orchestration.retry_policy import Policy
from tasks.orchestration.safety import SafetyScope
from tasks.orchestration.stages import StageContext, run_stage
from tasks.orchestration.stages import evolve as evolve_stage
from tasks.orchestration.submitters import prefect_submit
from tasks.report.report_json import write_report
from tasks.run.config import EvolveConfig, RunConfig
from tasks.run.config import test_mode_config as small_run_config  # not test_*: pytest would collect it
from tasks.run.run_dir import RunDir
from tasks.validate.batches import venue_batch

RUN = "faults"
TIMEOUT_S = 900
# Gates 1-2 let every honest candidate through, so that gate 3 trades.
LENIENT = {"mode": "full", "min_sharpe": -100.0, "max_drawdown": 1.0, "min_win_rate": 0.0, "min_trades": 0,
           "fwer": 0.99, "min_replay_sharpe": -100.0, "min_score": 0.0}


def _island_worker(driver: int) -> int | None:
    """A Ray worker of this run's driver that is evolving an island right now."""
    return next((pid for pid in processes("ray::evolve-island") if descends_from(pid, driver)), None)


@pytest.fixture(scope="module")
def faulty_run(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The run, its worker killed during evolve, its driver killed during validate, then retried."""
    data = tmp_path_factory.mktemp("uce-faults")
    run_dir = data / "runs" / RUN
    ray_tmp = tempfile.mkdtemp(prefix="uce-ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    env = dict(os.environ, RAY_TMPDIR=ray_tmp)
    log = open(data / "run.log", "w")
    driver = subprocess.Popen([sys.executable, "-m", "flows.cli", "--data-dir", str(data), "run", *SMALL_RUN,
                               "--generations", "8", "--seed", "5", "--run-id", RUN],
                              cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    out: dict = {"data": data, "run_dir": run_dir, "killed_worker": None}
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while driver.poll() is None and time.monotonic() < deadline:
            if out["killed_worker"] is None:
                worker = _island_worker(driver.pid)
                if worker:
                    os.kill(worker, signal.SIGKILL)
                    out["killed_worker"] = worker
            elif manifest(run_dir).get("stages", {}).get("validate", {}).get("status") == "running":
                out["before"] = manifest(run_dir)
                os.killpg(driver.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        driver.wait(60)
    finally:
        stop([p for p in processes(ray_tmp)] + ([driver.pid] if driver.poll() is None else []))
        log.close()
    assert "before" in out, f"the run did not reach validate: {(data / 'run.log').read_text()[-3000:]}"
    out["flow_run_id"] = out["before"]["prefect"]["flow_run_id"]
    # A killed process cannot report its crash; Prefect's zombie detection (heartbeats of deployed runs)
    # would mark it crashed. Here the test does.
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(out["flow_run_id"], Crashed(message="driver killed by the test"), force=True)
    retried = subprocess.run([sys.executable, "-m", "prefect", "flow-run", "retry", out["flow_run_id"],
                              "--entrypoint", "flows.pipeline.ultra_compressed_evolution"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    stop(processes(ray_tmp))
    assert retried.returncode == 0, retried.stdout[-3000:] + retried.stderr[-3000:]
    out["after"] = manifest(run_dir)
    return out


def test_killed_island_worker_is_resubmitted_and_no_genome_is_lost_or_doubled(faulty_run: dict) -> None:
    assert faulty_run["killed_worker"] is not None
    crashes = [e for e in faulty_run["after"]["resilience"]["events"] if e["event"] == "failure"]
    assert [(e["type"], e["component"], e["work"], e["recovered"]) for e in crashes] == [
        ("WorkerCrashedError", "ray", "evolve_island", True)]
    config = RunConfig.model_validate(faulty_run["after"]["parameters"])
    evolved = pd.read_parquet(faulty_run["run_dir"] / "evolved.parquet")
    evaluated = evolved[evolved["evaluated"]]
    assert len(evaluated) == evolve_plan(config, 1).evaluations == 2 * (10 + 10 * 8)
    assert evolved["uid"].is_unique


def test_retried_flow_run_reuses_evolve_and_serialize(faulty_run: dict) -> None:
    before, after = faulty_run["before"], faulty_run["after"]
    assert after["status"] == "completed" and after["prefect"]["flow_run_id"] == faulty_run["flow_run_id"]
    for stage in ("evolve", "serialize"):
        assert after["stages"][stage]["cached"] is True
        assert after["stages"][stage]["artifacts"] == before["stages"][stage]["artifacts"]
    assert after["stages"]["validate"]["cached"] is False and after["stages"]["deploy"]["status"] == "completed"
    assert [e["flow_run_id"] for e in after["resources"]["executions"]] == [faulty_run["flow_run_id"]]


@pytest.fixture
def full_mode(faulty_run: dict) -> Path:
    """The run, its recorded parameters switched to full validation with lenient gates 1-2."""
    run_dir = faulty_run["run_dir"]
    recorded = manifest(run_dir)
    recorded["parameters"]["validation"] |= LENIENT
    write_json_atomic(recorded, run_dir / "manifest.json")
    return run_dir


@pytest.fixture
def venues(monkeypatch: pytest.MonkeyPatch):
    """Gate 3's venues get ``faults["error_rate"]`` (a new seed each); every venue made is kept."""
    made: list[Venue] = []
    faults = {"error_rate": 0.0}
    seeds = itertools.count(1)

    def venue(*args, **kwargs) -> Venue:
        made.append(Venue(*args, faults=Faults(error_rate=faults["error_rate"], seed=next(seeds)), **kwargs))
        return made[-1]

    def settings(**kwargs) -> ExchangeSettings:
        # Gate 3's client tries each request 3 times: at 30 % failures 2.7 % of requests still fail, and a
        # candidate makes ~100. Six tries, the client's default, leave 0.07 %.
        return ExchangeSettings(**kwargs | {"max_attempts": 6})

    monkeypatch.setattr(gate_venue, "Venue", venue)
    monkeypatch.setattr(gate_venue, "ExchangeSettings", settings)
    monkeypatch.setattr(venue_batch, "retry_policy", Policy("venue", retries=3, backoff_s=0.05))
    return made, faults


def _orders_per_cloid(venues: list[Venue]) -> dict[str, set[int]]:
    oids: dict[str, set[int]] = defaultdict(set)
    for venue in venues:
        for account in venue.engine.accounts.values():
            for fill in account.fills:
                oids[fill["cloid"]].add(fill["oid"])
    return oids


def test_flaky_venue_validation_and_deployment_complete_without_duplicate_orders(
        full_mode: Path, venues, monkeypatch, capsys) -> None:
    made, faults = venues
    faults["error_rate"] = 0.3
    monkeypatch.setenv("UCE_BREAKER_THRESHOLD", "20")  # here the point is completion, not the breaker
    assert main(["--data-dir", str(full_mode.parent.parent), "stage", "validate", "--run", RUN, "--local"]) == 0, \
        capsys.readouterr().err
    recorded = manifest(full_mode)
    assert recorded["status"] == "completed" and recorded["stages"]["deploy"]["status"] == "completed"
    validated = pd.read_parquet(full_mode / "validated.parquet")
    assert validated["gate3_orders"].sum() > 0
    injected = sum(sum(v.faults.injected.values()) for v in made)
    assert injected > 0
    oids = _orders_per_cloid(made)
    assert oids and all(len(o) == 1 for o in oids.values())


def test_venue_down_opens_its_breaker_then_the_stage_completes_when_it_is_back(
        full_mode: Path, venues, monkeypatch, capsys) -> None:
    made, faults = venues
    data = str(full_mode.parent.parent)
    monkeypatch.setenv("UCE_BREAKER_THRESHOLD", "3")
    monkeypatch.setenv("UCE_BREAKER_COOLDOWN_S", "2")
    faults["error_rate"] = 1.0
    assert main(["--data-dir", data, "stage", "validate", "--run", RUN, "--local"]) == 1
    err = capsys.readouterr().err
    assert "BreakerOpenError: venue circuit breaker is open after 3 consecutive failures" in err, err
    recorded = manifest(full_mode)
    assert recorded["status"] == "failed" and recorded["stages"]["validate"]["status"] == "failed"
    resilience = recorded["resilience"]
    assert resilience["state"] == "critical" and resilience["breakers"]["venue"]["state"] == "open"

    faults["error_rate"] = 0.0  # the venue is back
    time.sleep(2.1)  # the cool-down
    assert main(["--data-dir", data, "stage", "validate", "--run", RUN, "--local"]) == 0, capsys.readouterr().err
    recorded = manifest(full_mode)
    assert recorded["status"] == "completed"
    assert recorded["resilience"]["breakers"]["venue"]["state"] == "closed"
    venue_failures = [e for e in recorded["resilience"]["events"]
                      if e["event"] == "failure" and e["component"] == "venue"]
    assert venue_failures and all(e["recovered"] for e in venue_failures)
    assert recorded["resilience"]["state"] == "degraded"


class _IslandKiller(threading.Thread):
    """SIGKILLs the first Ray worker of this process that starts evolving an island."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.killed: int | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        while self.killed is None and not self._halt.wait(0.02):
            self.killed = _island_worker(os.getpid())
            if self.killed:
                os.kill(self.killed, signal.SIGKILL)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


@pytest.fixture(scope="module")
def island_flow(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The small flow of the module docstring; returns what each of its three parts saw."""
    data = tmp_path_factory.mktemp("uce-islands")
    config = small_run_config("islands", seed=3).model_copy(update={"evolve": EvolveConfig(
        strategies=20, batch_size=10, generations=2, epoch_generations=2, min_trades=2)})
    market = load_market_data(MarketStore(data / "market"), ("BTC",), "1h", config.costs)  # the offline sample
    windows = split_windows(market, config.windows)
    inputs = prepare_train_inputs(market, windows, config)
    plan = evolve_plan(config, 1)
    state = IslandState(initial_islands(plan, inputs.n_folds, np.full(N_FAMILIES, 1 / N_FAMILIES))[0],
                        empty_archive(plan.ga.archive, inputs.n_folds), 0)
    island = {"island": 0, "epoch": 0, "first_generation": 0, "generations": plan.generations, "seed": plan.seed,
              "ga": plan.ga}
    # Stops every evaluation batch as soon as its first kernel call (3 genomes) returns.
    stopping = SafetyScope("tiny", 0.0, 3 * (int(inputs.folds[0][-1]) + 1))
    ray_tmp = tempfile.mkdtemp(prefix="uce-ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    out: dict = {"undisturbed": evolve_island(state, inputs, **island)}

    @flow(task_runner=UceRayTaskRunner(init_kwargs={"num_cpus": 1, "_temp_dir": ray_tmp}))
    def islands() -> None:
        run, waits = RunDir.for_run(data, "bad-input"), []
        with guarding(ResilienceLog(run), None, sleep=waits.append):
            with pytest.raises(ValueError, match="generations=-1"):  # the kernel's own check, raised on Ray
                prefect_submit(evolve_island, state, inputs, **island | {"generations": -1}).result()
        out["bad-input"] = {"waits": waits, "run": run}

        run, waits, killer = RunDir.for_run(data, "killed"), [], _IslandKiller()
        killer.start()
        try:
            with guarding(ResilienceLog(run), None, sleep=waits.append):
                result = prefect_submit(evolve_island, state, inputs, **island).result()
        finally:
            killer.stop()
        out["killed"] = {"result": result, "waits": waits, "run": run, "worker": killer.killed}

        run = RunDir.for_run(data, "scoped")
        resilience = ResilienceLog(run)
        with guarding(resilience, None):  # as flows.pipeline runs its stages
            ctx = StageContext(run, config, market, windows, stopping, on_event=_route_event)
            out["scoped"] = {"stage": run_stage(ctx, evolve_stage, resilience=resilience, cache=data / "cache"),
                             "run": run, "report": write_report(run)}

    try:
        with pytest.MonkeyPatch.context() as env:
            # The flow is this module's: its Ray workers (which inherit this environment) must import it.
            env.setenv("PYTHONPATH", os.pathsep.join(filter(None, (str(Path(__file__).parent),
                                                                   os.environ.get("PYTHONPATH")))))
            islands()
    finally:
        stop(processes(ray_tmp))
    return out


def test_an_island_with_bad_input_is_not_retried(island_flow: dict) -> None:
    seen = island_flow["bad-input"]
    assert seen["waits"] == []  # no backoff: nothing was re-submitted
    events = manifest(seen["run"].root)["resilience"]["events"]
    assert [(e["type"], e["work"], e["attempt"], e["retrying"], e["recovered"]) for e in events] == [
        ("ValueError", "evolve_island", 1, False, False)]


def test_a_killed_island_worker_is_retried_per_the_evolve_policy(island_flow: dict) -> None:
    seen = island_flow["killed"]
    assert seen["worker"] is not None, "no island worker was seen to kill"
    events = manifest(seen["run"].root)["resilience"]["events"]
    assert [(e["type"], e["component"], e["work"], e["attempt"], e["recovered"]) for e in events] == [
        ("WorkerCrashedError", "ray", "evolve_island", 1, True)]
    policy = evolve_island.retry_policy
    assert len(seen["waits"]) == 1
    assert policy.backoff_s * (1 - policy.jitter) <= seen["waits"][0] <= policy.backoff_s * (1 + policy.jitter)
    # The re-submitted epoch is the same epoch: no genome lost, none doubled.
    got, want = seen["result"].log.genomes, island_flow["undisturbed"].log.genomes
    np.testing.assert_array_equal(got.uid, want.uid)
    np.testing.assert_array_equal(got.fitness, want.fitness)


def test_the_evolve_stage_records_scope_violations_and_completes(island_flow: dict) -> None:
    seen = island_flow["scoped"]
    summary = seen["stage"]["summary"]
    plan_islands, generations = summary["islands"], summary["generations_planned"]
    assert summary["generations"] == generations and summary["violations"] == plan_islands * (generations + 1)
    recorded = manifest(seen["run"].root)
    assert recorded["stages"]["evolve"]["status"] == "completed"
    violations = [e for e in recorded["resilience"]["events"] if e["event"] == "violation"]
    assert sorted((e["island"], e["generation"]) for e in violations) == [
        (i, g) for i in range(plan_islands) for g in range(generations + 1)]
    assert all((e["stage"], e["scope"], e["done"], e["total"]) == ("evolve", "tiny", 3, 10) for e in violations)
    assert all(isinstance(e["time"], str) for e in violations)  # the log's ISO time, not the worker's clock
    assert recorded["resilience"]["state"] == "degraded" and recorded["resilience"]["violations"] == len(violations)
    assert [e for e in seen["report"]["resilience"]["events"] if e["event"] == "violation"] == violations
    evolved = pd.read_parquet(seen["run"].evolved).query("evaluated")
    assert len(evolved) == summary["evaluations"] and evolved["sharpe"].isna().sum() == len(violations) * (10 - 3)
