"""Safety scopes: every evaluation batch runs against a time limit and with bounded kernel calls.

The batches: one island's evaluation of one generation (tasks.evolve.evolution), one batch of validation candidates
(tasks.validate.batches).

A numba call cannot be interrupted, so a limit is only as good as the size of the longest call. Work
is therefore cut into pieces of at most ``max_cells`` genome-bars per kernel call (~0.2 µs each on one
core here: 5 M cells ≈ 1 s), and the deadline is checked between pieces. When it has passed, the rest
of the batch is not evaluated: its genomes get NaN metrics (the GA scores them infeasible), its
candidates the reason "stopped by safety scope ...", and the batch returns a violation record that the
flow writes to the run's resilience log (an island's come back as "violation" events, tasks.orchestration.events). The
run goes on.

| scope | time limit per batch | genome-bars per kernel call |
|---|---|---|
| restricted | 10 s | 1 M |
| sandbox | 15 s | 1 M |
| production | 30 s | 5 M |
| experimental | 60 s | 10 M |
| research | 180 s | 20 M |
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple, TypeVar

import numpy as np

from kernels.ga.population import Population, take
from tasks.evolve.train_inputs import TrainInputs, fold_metrics

__all__ = ["DEFAULT_SCOPE", "SCOPES", "Deadline", "SafetyScope", "ScopeName", "Scoped", "row_chunks",
           "scoped_fold_metrics", "scoped_items", "stop_reason"]

ScopeName = Literal["sandbox", "restricted", "production", "experimental", "research"]
T = TypeVar("T")
R = TypeVar("R")


class SafetyScope(NamedTuple):
    """A batch's time limit (seconds, from the end of its first kernel call) and the genome-bars per call."""
    name: str
    time_limit_s: float
    max_cells: int


SCOPES: dict[str, SafetyScope] = {
    "sandbox": SafetyScope("sandbox", 15.0, 1_000_000),
    "restricted": SafetyScope("restricted", 10.0, 1_000_000),
    "production": SafetyScope("production", 30.0, 5_000_000),
    "experimental": SafetyScope("experimental", 60.0, 10_000_000),
    "research": SafetyScope("research", 180.0, 20_000_000),
}
# The scope of a run that names none (the flow's ``safety_scope`` default).
DEFAULT_SCOPE = SCOPES["production"]


class Scoped(NamedTuple):
    """A batch's value and its violation record (None when it finished within its limit)."""
    value: Any
    violation: dict | None


class Deadline:
    """The scope's time limit on a monotonic clock, counted from ``begin()``; never expired before it.

    Batches begin the count once their first piece of work is done: a fresh worker spends that piece
    loading or compiling the kernels (seconds to minutes), which says nothing about the batch."""

    def __init__(self, scope: SafetyScope, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.scope = scope
        self._clock = clock
        self._start: float | None = None

    def begin(self) -> None:
        if self._start is None:
            self._start = self._clock()

    @property
    def elapsed(self) -> float:
        return 0.0 if self._start is None else self._clock() - self._start

    def expired(self) -> bool:
        return self._start is not None and self.elapsed >= self.scope.time_limit_s

    def violation(self, *, work: str, done: int, total: int) -> dict:
        """The record of a batch stopped after ``done`` of ``total`` items."""
        return {"scope": self.scope.name, "limit_s": self.scope.time_limit_s, "elapsed_s": round(self.elapsed, 3),
                "work": work, "done": done, "total": total}


def stop_reason(violation: dict) -> str:
    return (f"stopped by safety scope '{violation['scope']}': the batch reached its {violation['limit_s']:g} s limit "
            f"after {violation['done']} of {violation['total']}")


def row_chunks(n_rows: int, n_bars: int, max_cells: int) -> list[slice]:
    """Consecutive row ranges of at most ``max_cells`` genome-bars each (at least one row per range)."""
    if n_bars < 0 or max_cells < 1:
        raise ValueError(f"n_bars={n_bars}, max_cells={max_cells}: expected n_bars >= 0 and max_cells >= 1")
    step = max(1, max_cells // max(n_bars, 1))
    return [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]


def scoped_items(items: Sequence[T], work_one: Callable[[T], R], stopped: Callable[[T, str], R],
                 deadline: Deadline, *, work: str) -> Scoped:
    """``work_one`` over ``items`` in order until the deadline (counted from the end of the first item); later
    items get ``stopped(item, reason)``.

    Returns Scoped(list of results, violation or None)."""
    results: list[R] = []
    for i, item in enumerate(items):
        if deadline.expired():
            violation = deadline.violation(work=work, done=i, total=len(items))
            reason = stop_reason(violation)
            return Scoped(results + [stopped(rest, reason) for rest in items[i:]], violation)
        results.append(work_one(item))
        deadline.begin()
    return Scoped(results, None)


def scoped_fold_metrics(inputs: TrainInputs, pop: Population, deadline: Deadline, *,
                        work: str = "evaluation") -> Scoped:
    """tasks.evolve.train_inputs.fold_metrics under a safety scope: kernel calls of at most ``max_cells``
    genome-bars, the deadline (counted from the end of the first call) checked between them; genomes not
    reached keep NaN metrics (the GA gives them its worst fitness and the largest constraint violation).

    Returns Scoped(metrics float64[S, K, M], violation or None); M as fold_metrics gives it (the feedback
    penalty column included)."""
    # fold_metrics of no genome: the width (with or without the penalty column) without evaluating anything.
    out = np.full((pop.uid.size, *fold_metrics(inputs, take(pop, np.empty(0, np.int64))).shape[1:]), np.nan)
    done = 0
    for rows in _pieces(inputs, pop, deadline.scope.max_cells):
        if deadline.expired():
            return Scoped(out, deadline.violation(work=work, done=done, total=int(pop.uid.size)))
        out[rows] = fold_metrics(inputs, take(pop, rows))
        done += rows.size
        deadline.begin()
    return Scoped(out, None)


def _pieces(inputs: TrainInputs, pop: Population, max_cells: int) -> list[np.ndarray]:
    """Row indices of ``pop``, coin by coin, in pieces of at most ``max_cells`` genome-bars of that coin."""
    pieces = []
    for c, bounds in enumerate(inputs.folds):
        rows = np.flatnonzero(pop.coin == c)
        pieces += [rows[chunk] for chunk in row_chunks(rows.size, int(bounds[-1]) + 1, max_cells)]
    return pieces
