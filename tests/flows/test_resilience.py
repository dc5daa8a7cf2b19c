"""Fault tests of the orchestration, on one small run (20 strategies in 2 islands, 8 generations):

1. a Ray worker evolving an island is SIGKILLed: the island is re-submitted and no genome is lost or
   counted twice;
2. the driver is SIGKILLed during validate and the flow run retried (`prefect flow-run retry`): evolve and
   serialize come back from the cache with the same artifact hashes;
3. the venue fails 30 % of requests: `uce stage validate` (gates 1-3, then deploy) completes and no order
   is placed twice;
4. the venue is down: its breaker opens after 3 failures and the stage fails fast naming it; once the
   venue is back, `uce stage validate --run ID` completes the run.

The venue of gate 3 is the loopback venue each candidate trades on (tasks.gate_venue); 3 and 4 run the
stage in this process (--local, threads instead of Ray) so that the test can give that venue its faults.
"""
from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
from orchestration_helpers import REPO, SMALL_RUN, descends_from, manifest, processes, stop

import tasks.gate_venue as gate_venue
from exchange.settings import ExchangeSettings
from exchange.venue import Faults, Venue
from flows.cli import main
from tasks.atomic import write_json_atomic
from tasks.config import RunConfig
from tasks.evolve import evolve_plan
from tasks.policies import POLICIES, Policy

RUN = "faults"
TIMEOUT_S = 900
# Gates 1-2 let every honest candidate through, so that gate 3 trades.
LENIENT = {"mode": "full", "min_sharpe": -100.0, "max_drawdown": 1.0, "min_win_rate": 0.0, "min_trades": 0,
           "min_dsr": 0.0, "min_replay_sharpe": -100.0, "min_consistency": 0.0, "min_score": 0.0}


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
    monkeypatch.setitem(POLICIES, "scoped_venue_batch", Policy("venue", retries=3, backoff_s=0.05))
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
    started = time.monotonic()
    assert main(["--data-dir", data, "stage", "validate", "--run", RUN, "--local"]) == 1
    err = capsys.readouterr().err
    assert "BreakerOpenError: venue circuit breaker is open after 3 consecutive failures" in err, err
    recorded = manifest(full_mode)
    assert recorded["status"] == "failed" and recorded["stages"]["validate"]["status"] == "failed"
    assert recorded["resilience"]["state"] == "critical" and recorded["resilience"]["breakers"]["venue"]["state"] == "open"
    assert time.monotonic() - started < 120

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
