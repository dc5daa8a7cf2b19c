"""Circuit breakers: open after N consecutive failures, refuse with the reason, half-open after the
cool-down, shared by every process using the same folder."""
from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from tasks.orchestration.breakers import BreakerBoard, BreakerOpenError, BreakerSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_and_refuses_with_the_reason(tmp_path: Path) -> None:
    clock = Clock()
    board = BreakerBoard(tmp_path, BreakerSettings(threshold=3, cooldown_s=30), clock=clock)
    assert [board.failure("venue", ConnectionError("refused")) for _ in range(3)] == [False, False, True]
    with pytest.raises(BreakerOpenError, match=r"venue circuit breaker is open after 3 consecutive failures "
                                               r"\(last: ConnectionError: refused\).*cool-down 30 s"):
        board.check("venue")
    board.check("market")  # other components are not affected


def test_success_resets_the_count(tmp_path: Path) -> None:
    board = BreakerBoard(tmp_path, BreakerSettings(threshold=2))
    board.failure("ray", OSError("x"))
    board.success("ray")
    assert not board.failure("ray", OSError("x"))
    assert board.state("ray")["state"] == "closed"


def test_half_open_after_cooldown_then_closes_or_reopens(tmp_path: Path) -> None:
    clock = Clock()
    board = BreakerBoard(tmp_path, BreakerSettings(threshold=1, cooldown_s=10), clock=clock)
    board.failure("venue", TimeoutError("slow"))
    clock.now += 9.9
    with pytest.raises(BreakerOpenError):
        board.check("venue")
    clock.now += 0.2
    board.check("venue")  # the trial call goes through
    assert board.state("venue")["state"] == "half_open"
    assert board.failure("venue", TimeoutError("still slow"))  # a failed trial re-opens at once
    with pytest.raises(BreakerOpenError):
        board.check("venue")
    clock.now += 11
    board.check("venue")
    board.success("venue")
    assert board.state("venue") | {"last_failure": None} == {
        "state": "closed", "consecutive_failures": 0, "opened_at": board.state("venue")["opened_at"],
        "last_failure": None, "times_opened": 2}


def _fail_once(root: str) -> None:
    BreakerBoard(Path(root), BreakerSettings(threshold=4)).failure("market", ConnectionError("down"))


def test_state_is_shared_across_processes(tmp_path: Path) -> None:
    """Four processes each record one failure: the fourth opens the breaker every process sees."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_fail_once, args=(str(tmp_path),)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with pytest.raises(BreakerOpenError, match="after 4 consecutive failures"):
        BreakerBoard(tmp_path).check("market")


def test_unknown_component_and_bad_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="component='db'"):
        BreakerBoard(tmp_path).check("db")
    monkeypatch.setenv("UCE_BREAKER_THRESHOLD", "0")
    with pytest.raises(ValueError, match="UCE_BREAKER_THRESHOLD=0"):
        BreakerSettings.from_env()
