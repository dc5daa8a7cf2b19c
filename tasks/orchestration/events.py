"""The evolution's event stream: wall-clock stamps, the events.parquet table, and the Prefect artifacts.

Events are flat dicts with an ``event`` kind (EVENT_KINDS) and a ``time`` (Unix seconds, UTC):

- ``start``: islands, population (genomes per island), generations, evaluations_planned.
- ``generation`` (one island finished a generation; from kernels.ga.loop): island, generation,
  best_fitness, median_fitness, leader_sharpe, leader_cagr (the fittest feasible genome's; fractions),
  archive_size, archive_coverage (share of MAP-Elites cells filled), evaluations (the island's total so
  far), evaluations_per_second (the island's rate over that generation, breeding included), stage,
  champions.
- ``champion``: island, generation, uid, strategy_id, coin, family, fitness, sharpe, cagr, stage, target_cagr.
- ``epoch`` (every island finished an epoch): epoch, generation, generations, evaluations (run total),
  evaluations_per_second (run total / seconds), seconds (since start), best_fitness, leader_sharpe,
  leader_cagr (those of the island whose latest best_fitness is highest), archive_coverage (mean over
  islands), champions (run total).
- ``migration``: generation, migrants.
- ``stopped``: generation, generations, reason (the evolution ended before its last generation).
- ``violation`` (an island's evaluation of a generation was stopped by its safety scope, tasks.orchestration.safety):
  island, generation, scope, limit_s, elapsed_s (seconds), work, done (genomes evaluated), total (genomes
  in the batch). The genomes not reached got NaN metrics: worst fitness, largest constraint violation.

Sinks are callables taking one event; PrefectArtifacts is the one that feeds the Prefect UI.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact

__all__ = ["EVENT_KINDS", "EventSink", "PrefectArtifacts", "events_frame", "stamped"]

EVENT_KINDS = ("start", "generation", "champion", "epoch", "migration", "stopped", "violation")
EventSink = Callable[[dict], None]

_INTEGER_FIELDS = frozenset({"islands", "population", "generations", "evaluations_planned", "island", "generation",
                             "uid", "stage", "archive_size", "evaluations", "champions", "epoch", "migrants",
                             "done", "total"})

# Columns of the island table artifact, from each island's latest generation event.
_TABLE_COLUMNS = ("island", "generation", "best_fitness", "median_fitness", "leader_sharpe", "leader_cagr",
                  "archive_size", "archive_coverage", "evaluations", "evaluations_per_second", "stage", "champions")


def stamped(event: dict, at: float | None = None) -> dict:
    """``event`` with ``time`` set to ``at`` (Unix seconds), or now."""
    return event | {"time": time.time() if at is None else at}


def events_frame(events: list[dict]) -> pd.DataFrame:
    """Events as rows, fields an event lacks left empty: ``time`` a UTC timestamp, counts and ids nullable
    Int64 (uids exceed float64's exact integers), text as strings, the rest float64."""
    names = list(dict.fromkeys(k for e in events for k in e))
    columns = {}
    for name in names:
        values = [e.get(name) for e in events]
        if name == "time":
            columns[name] = pd.to_datetime(pd.Series(values, dtype="float64"), unit="s", utc=True).astype(
                "datetime64[ms, UTC]")
        elif name in _INTEGER_FIELDS:
            columns[name] = pd.array(values, dtype="Int64")
        elif any(isinstance(v, str) for v in values):
            columns[name] = pd.array(values, dtype="string")
        else:
            columns[name] = pd.array(values, dtype="float64")
    return pd.DataFrame(columns)


class PrefectArtifacts:
    """A progress artifact (percent of generations done) and an island table, refreshed at every epoch.

    Call it with every event; it talks to the Prefect API only on ``start``, ``epoch`` and ``stopped``
    events (a few calls per epoch). Use it inside a flow run so the artifacts attach to the run.
    """

    def __init__(self, run_id: str) -> None:
        self._run_id = run_id
        self._progress_id = None
        self._latest: dict[int, dict] = {}

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        if kind == "start":
            self._progress_id = create_progress_artifact(
                0.0, key="evolution-progress", description=f"run {self._run_id}: generations evolved")
        elif kind == "generation":
            self._latest[int(event["island"])] = event
        elif kind == "epoch" and self._progress_id is not None:
            done = 100.0 * event["generation"] / event["generations"]
            update_progress_artifact(self._progress_id, done)
            rows = [{c: self._latest[i].get(c) for c in _TABLE_COLUMNS} for i in sorted(self._latest)]
            create_table_artifact(
                rows, key="evolution-islands",
                description=(f"run {self._run_id}, generation {event['generation']} of {event['generations']}: "
                             f"{event['evaluations']} evaluations, {event['evaluations_per_second']:.0f}/s"))
        elif kind == "stopped" and self._progress_id is not None:
            update_progress_artifact(
                self._progress_id, 100.0 * event["generation"] / event["generations"],
                description=f"run {self._run_id}: stopped after generation {event['generation']} ({event['reason']})")
