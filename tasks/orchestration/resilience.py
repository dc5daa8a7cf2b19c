"""What went wrong during a run and whether it recovered: ``manifest.json["resilience"]``.

Events (``events``, oldest first; ``time`` ISO-8601 UTC):

- ``failure``: component (venue / market / ray / none), type (exception class), message, work (the
  task's function), stage, attempt (1 = first try), retrying (a retry is scheduled), recovered (a later
  retry of the same work, or a re-run of the stage, succeeded), recovered_by (retry / re-run).
- ``violation``: a batch stopped by its safety scope (tasks.orchestration.safety): scope, limit_s, elapsed_s, done,
  total, work, stage; for an island's evaluation also island and generation.
- ``breaker_opened``: component, message — the failure that opened it is the ``failure`` before it.

The summary beside them: ``state`` (below), counts, and the breakers as they stood at the last write.

    critical    a failure was given up on (the stage failed) and no re-run has succeeded since
    recovering  a retry is in flight
    degraded    failures that recovered, or safety-scope violations
    healthy     nothing happened
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any, Literal

from tasks.orchestration.breakers import BreakerBoard
from tasks.run.run_dir import RunDir

__all__ = ["ResilienceLog", "ResilienceState", "resilience_state"]

ResilienceState = Literal["healthy", "degraded", "recovering", "critical"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def resilience_state(events: list[dict[str, Any]]) -> ResilienceState:
    failures = [e for e in events if e.get("event") == "failure"]
    if any(not e["recovered"] and not e["retrying"] for e in failures):
        return "critical"
    if any(e["retrying"] for e in failures):
        return "recovering"
    if failures or any(e.get("event") == "violation" for e in events):
        return "degraded"
    return "healthy"


class ResilienceLog:
    """Appends events to the run's manifest (rewritten atomically after each one); a re-run of a stage
    continues the same list."""

    def __init__(self, run: RunDir, board: BreakerBoard | None = None) -> None:
        self._run = run
        self._board = board
        self._lock = threading.Lock()
        section = run.manifest().get("resilience") or {}
        self._events: list[dict[str, Any]] = list(section.get("events", []))
        self.stage: str | None = None

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self._events)

    def failure(self, component: str, exc: BaseException, *, work: str, attempt: int, retrying: bool) -> int:
        """Record one failed attempt; returns its index for ``resolved``."""
        return self._append({"event": "failure", "component": component, "type": type(exc).__name__,
                             "message": str(exc).splitlines()[0][:500] if str(exc) else "", "work": work,
                             "stage": self.stage, "attempt": attempt, "retrying": retrying, "recovered": False})

    def resolved(self, indices: list[int], *, recovered: bool) -> None:
        """The retries of these failures ended: in success (recovered) or by giving up."""
        with self._lock:
            for i in indices:
                self._events[i].update(retrying=False, recovered=recovered,
                                       **({"recovered_by": "retry"} if recovered else {}))
            self._write()

    def breaker_opened(self, component: str, message: str) -> None:
        self._append({"event": "breaker_opened", "component": component, "message": message, "stage": self.stage})

    def violation(self, record: dict[str, Any]) -> None:
        """Record a safety-scope violation (tasks.orchestration.safety's record, or an evolution "violation" event: its
        island and generation are kept; its Unix ``time`` gives way to this log's ISO time)."""
        self._append({"event": "violation", "stage": self.stage} | {k: v for k, v in record.items() if k != "time"})

    def stage_recovered(self, stage: str) -> None:
        """A re-run of ``stage`` completed: its failures that were given up on count as recovered."""
        with self._lock:
            for event in self._events:
                if event.get("event") == "failure" and event.get("stage") == stage and not event["recovered"] \
                        and not event["retrying"]:
                    event.update(recovered=True, recovered_by="re-run")
            self._write()

    def section(self) -> dict[str, Any]:
        failures = [e for e in self._events if e.get("event") == "failure"]
        return {
            "state": resilience_state(self._events),
            "failures": len(failures),
            "recovered": sum(e["recovered"] for e in failures),
            "unrecovered": sum(not e["recovered"] and not e["retrying"] for e in failures),
            "violations": sum(e.get("event") == "violation" for e in self._events),
            "breakers": ({c: {k: s[k] for k in ("state", "consecutive_failures", "times_opened")}
                          for c, s in self._board.states().items()} if self._board else {}),
            "events": list(self._events),
        }

    def _append(self, event: dict[str, Any]) -> int:
        with self._lock:
            self._events.append({"time": _now()} | event)
            self._write()
            return len(self._events) - 1

    def _write(self) -> None:
        self._run.update_manifest(resilience=self.section())
