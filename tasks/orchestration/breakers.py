"""Circuit breakers for the outside world the run depends on: the venue / exchange, the market data
source and the Ray cluster.

A breaker counts consecutive failures of its component. After ``threshold`` of them it opens: every
call fails at once with ``BreakerOpenError`` naming the last failure and the time calls resume. When the
cool-down has passed it is half-open: the next call is a trial; success closes it, failure re-opens it.

    closed --threshold consecutive failures--> open --cool-down passes--> half-open
    half-open --success--> closed            half-open --failure--> open

State is one JSON file per component under a folder (``<data dir>/breakers`` in the flows), read and
written under an exclusive ``fcntl`` lock, so every process on the machine that uses the folder — the
flow, ``uce stage`` re-runs, the paper trader — sees the same breaker. The flow consults the breakers
where it submits work, so Ray workers never need the folder. Multi-node caveat: two drivers on
different machines share a breaker only if the folder is on a shared file system (NFS locks work).
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, NamedTuple

from exchange.atomic import write_json_atomic

__all__ = ["COMPONENTS", "BreakerBoard", "BreakerOpenError", "BreakerSettings", "Component"]

Component = Literal["venue", "market", "ray"]
COMPONENTS: tuple[Component, ...] = ("venue", "market", "ray")
BreakerStateName = Literal["closed", "open", "half_open"]


class BreakerOpenError(RuntimeError):
    """A call refused because its component's breaker is open (never retried: that is the point)."""

    def __init__(self, component: str, message: str) -> None:
        super().__init__(message)
        self.component = component


class BreakerSettings(NamedTuple):
    """``threshold`` consecutive failures open a breaker for ``cooldown_s`` seconds."""

    threshold: int = 3
    cooldown_s: float = 60.0

    @classmethod
    def from_env(cls) -> "BreakerSettings":
        """Defaults, overridden by ``UCE_BREAKER_THRESHOLD`` / ``UCE_BREAKER_COOLDOWN_S`` (read when called)."""
        threshold = int(os.environ.get("UCE_BREAKER_THRESHOLD", cls._field_defaults["threshold"]))
        cooldown = float(os.environ.get("UCE_BREAKER_COOLDOWN_S", cls._field_defaults["cooldown_s"]))
        if threshold < 1:
            raise ValueError(f"UCE_BREAKER_THRESHOLD={threshold}: expected an integer >= 1")
        if cooldown < 0:
            raise ValueError(f"UCE_BREAKER_COOLDOWN_S={cooldown}: expected seconds >= 0")
        return cls(threshold, cooldown)


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, timezone.utc).isoformat(timespec="seconds")


class BreakerBoard:
    """The breakers of every component, stored under ``root`` (see the module docstring)."""

    def __init__(self, root: Path, settings: BreakerSettings = BreakerSettings(), *,
                 clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.settings = settings
        self._clock = clock

    def check(self, component: str) -> None:
        """Raise ``BreakerOpenError`` if ``component``'s breaker is open; half-open lets the call through."""
        with self._locked(component) as state:
            if state["state"] != "open":
                return
            resume = state["opened_at"] + self.settings.cooldown_s
            if self._clock() >= resume:
                state["state"] = "half_open"
                return
            last = state.get("last_failure") or {}
            raise BreakerOpenError(component, (
                f"{component} circuit breaker is open after {state['consecutive_failures']} consecutive failures "
                f"(last: {last.get('type', '?')}: {last.get('message', '')}); calls are refused until "
                f"{_iso(resume)} (cool-down {self.settings.cooldown_s:g} s)"))

    def success(self, component: str) -> None:
        """A call succeeded: the breaker closes and its failure count resets."""
        with self._locked(component) as state:
            state.update(state="closed", consecutive_failures=0)

    def failure(self, component: str, exc: BaseException) -> bool:
        """A call failed; returns True when this failure opened the breaker."""
        with self._locked(component) as state:
            now = self._clock()
            state["consecutive_failures"] += 1
            state["last_failure"] = {"type": type(exc).__name__, "message": str(exc)[:300], "time": _iso(now)}
            opens = state["state"] == "half_open" or (
                state["state"] == "closed" and state["consecutive_failures"] >= self.settings.threshold)
            if opens:
                state.update(state="open", opened_at=now, times_opened=state["times_opened"] + 1)
            return opens

    def state(self, component: str) -> dict[str, Any]:
        """The breaker as stored: state, consecutive_failures, opened_at, last_failure, times_opened."""
        with self._locked(component) as state:
            return dict(state)

    def states(self) -> dict[str, dict[str, Any]]:
        return {c: self.state(c) for c in COMPONENTS}

    def _path(self, component: str) -> Path:
        if component not in COMPONENTS:
            raise ValueError(f"component={component!r}: expected one of {', '.join(COMPONENTS)}")
        return self.root / f"{component}.json"

    @contextmanager
    def _locked(self, component: str) -> Iterator[dict[str, Any]]:
        """The stored state under an exclusive lock; written back (atomically) if it changed."""
        path = self._path(component)
        self.root.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                before = json.loads(path.read_text()) if path.exists() else _closed()
                state = dict(before)
                yield state
                if state != before:
                    write_json_atomic(state, path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _closed() -> dict[str, Any]:
    return {"state": "closed", "consecutive_failures": 0, "opened_at": None, "last_failure": None, "times_opened": 0}
