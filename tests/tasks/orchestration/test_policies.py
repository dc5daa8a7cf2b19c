"""Task policies: only transient errors are retried (with backoff and jitter), every attempt is recorded
in the manifest's resilience section, and a component's breaker turns repeated failures into fast,
explained refusals."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import ray.exceptions as rx
import requests

from exchange.errors import OrderRejectedError, RateLimitError, TransportError
from tasks.market.fetch import fetch_market_data as real_fetch
from tasks.market.source import load_market_data as real_load
from tasks.orchestration.breakers import BreakerBoard, BreakerOpenError, BreakerSettings
from tasks.orchestration.policies import call, guarded, guarding, is_transient, policy_for
from tasks.orchestration.resilience import ResilienceLog
from tasks.orchestration.retry_policy import Policy, policy_of
from tasks.run.run_dir import RunDir


@pytest.mark.parametrize(("exc", "transient"), [
    (rx.WorkerCrashedError(), True),
    (rx.NodeDiedError("node 1 died"), True),
    (rx.ObjectLostError("a" * 56, "owner", "call site"), True),
    (TransportError("connection refused"), True),
    (RateLimitError("HTTP 429"), True),
    (requests.exceptions.ConnectionError("reset"), True),
    (ConnectionResetError(), True),
    (OrderRejectedError("Order must have minimum value of $10."), False),
    (ValueError("--coins: bad"), False),
    (KeyError("x"), False),
    (BreakerOpenError("venue", "open"), False),
])
def test_transient_classification(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


class Flaky:
    """Fails with each of ``errors`` in turn, then returns 'done'."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    return RunDir.for_run(tmp_path, "r1")


def _guard(run: RunDir, threshold: int = 3):
    board = BreakerBoard(run.root.parent.parent / "breakers", BreakerSettings(threshold=threshold, cooldown_s=60))
    waits: list[float] = []
    return guarding(ResilienceLog(run, board), board, sleep=waits.append), board, waits


def test_transient_failures_are_retried_and_recorded_as_recovered(run: RunDir, monkeypatch) -> None:
    fetch_market_data = Flaky(TransportError("reset"), RateLimitError("HTTP 429"))
    fetch_market_data.__name__ = "fetch_market_data"
    fetch_market_data.retry_policy = policy_of(real_fetch)  # the market policy: 3 retries, 5 s base backoff
    guard, board, waits = _guard(run)
    with guard:
        assert call(fetch_market_data) == "done"
    assert fetch_market_data.calls == 3
    assert 2.5 <= waits[0] <= 7.5 and 5.0 <= waits[1] <= 15.0  # 5 s x 2^k, jitter +-50 %
    section = run.manifest()["resilience"]
    assert [(e["type"], e["component"], e["attempt"], e["recovered"]) for e in section["events"]] == [
        ("TransportError", "market", 1, True), ("RateLimitError", "market", 2, True)]
    assert section["state"] == "degraded" and section["unrecovered"] == 0
    assert board.state("market")["state"] == "closed"


def test_bad_input_is_not_retried(run: RunDir) -> None:
    load_market_data = Flaky(ValueError("--coins: unknown coin NOPE"))
    load_market_data.__name__ = "load_market_data"
    load_market_data.retry_policy = policy_of(real_load)
    guard, board, waits = _guard(run)
    with guard, pytest.raises(ValueError, match="NOPE"):
        call(load_market_data)
    assert load_market_data.calls == 1 and waits == []
    assert board.state("market")["consecutive_failures"] == 0  # bad input says nothing about the source
    assert run.manifest()["resilience"]["state"] == "critical"


def test_breaker_opens_and_later_calls_fail_fast(run: RunDir, monkeypatch) -> None:
    place_orders = Flaky(*[TransportError("connection refused")] * 10)
    place_orders.__name__ = "place_orders"
    place_orders.retry_policy = Policy("venue", retries=5, backoff_s=0.01)
    guard, board, _ = _guard(run, threshold=3)
    with guard:
        with pytest.raises(BreakerOpenError, match="venue circuit breaker is open after 3 consecutive failures"):
            call(place_orders)
        assert place_orders.calls == 3  # the 4th attempt was refused by the open breaker
        with pytest.raises(BreakerOpenError):
            call(place_orders)
        assert place_orders.calls == 3  # refused before calling
    events = run.manifest()["resilience"]["events"]
    assert [e["event"] for e in events].count("breaker_opened") == 1
    assert [e["type"] for e in events if e["event"] == "failure"] == ["TransportError"] * 3 + ["BreakerOpenError"] * 2
    assert all(not e["recovered"] and not e["retrying"] for e in events if e["event"] == "failure")


def test_guarded_submit_resubmits_after_a_lost_worker(run: RunDir) -> None:
    """A worker lost under a submitted call: the same call is submitted again; downstream calls get the
    succeeded future."""
    outcomes = [rx.WorkerCrashedError(), "inputs-ok"]
    submitted: list[tuple] = []

    class Future:
        def __init__(self, value):
            self.value = value

        def result(self):
            if isinstance(self.value, BaseException):
                raise self.value
            return self.value

    def submit(fn, *args, **kwargs):
        submitted.append((fn.__name__, args))
        return Future(outcomes.pop(0) if fn.__name__ == "prepare_train_inputs" else args[0].value + "+island")

    def prepare_train_inputs():
        pass

    def evolve_island(inputs):
        pass

    guard, board, waits = _guard(run)
    with guard:
        submit_guarded = guarded(submit)
        inputs = submit_guarded(prepare_train_inputs)
        island = submit_guarded(evolve_island, inputs)
        assert island.result() == "inputs-ok+island"
    assert [name for name, _ in submitted] == ["prepare_train_inputs", "prepare_train_inputs", "evolve_island"]
    event = run.manifest()["resilience"]["events"][0]
    assert (event["type"], event["component"], event["recovered"]) == ("WorkerCrashedError", "ray", True)
    assert len(waits) == 1


def test_backoff_grows_and_is_capped() -> None:
    policy = Policy("venue", backoff_s=1.0, backoff_max_s=4.0, jitter=0.0)
    assert [policy.delay(k, random.Random(0)) for k in range(4)] == [1.0, 2.0, 4.0, 4.0]


def test_the_stages_work_runs_as_tasks_with_their_policys_time_limit() -> None:
    """Islands, validation batches and their inputs are Prefect tasks with their policy's time limit and no
    retries of their own: retries happen where they are submitted
    (tasks.orchestration.submitters.prefect_submit -> tasks.orchestration.policies.submit)."""
    from tasks.evolve.evolution import evolve_island
    from tasks.evolve.regime_bias import regime_pilot, regime_scores
    from tasks.evolve.train_inputs import prepare_train_inputs
    from tasks.orchestration.submitters import work_task
    from tasks.validate.batches import prepare_live_inputs, testnet_batch, validate_batch, venue_batch
    from tasks.validate.candidate import prepare_validation_inputs

    work = (prepare_train_inputs, regime_pilot, evolve_island, regime_scores, prepare_validation_inputs,
            prepare_live_inputs, validate_batch, venue_batch, testnet_batch)
    tasks = {fn: work_task(fn) for fn in work}
    assert {t.name for t in tasks.values()} == {"prepare-train-inputs", "regime-pilot", "evolve-island",
                                                "regime-scores", "prepare-validation-inputs", "prepare-live-inputs",
                                                "validate-batch", "venue-batch", "testnet-batch"}
    assert tasks[evolve_island].task_run_name == "island-{island}-epoch-{epoch}"
    for fn, task in tasks.items():
        if fn is testnet_batch:  # a retry would trade every forward session again: no retries, no time limit
            assert policy_for(task) == fn.retry_policy and policy_for(task).retries == 0
            continue
        policy = policy_for(task)
        assert policy == fn.retry_policy and policy.timeout_s
        assert task.timeout_seconds == policy.timeout_s and task.retries == 0
