"""A live terminal view of the evolution: a rich progress bar fed by the evolve stage's events.

    with EvolutionProgress(console) as show:
        run_pipeline(config, root, on_event=show)

The flow runs in this process, so the evolve stage calls ``show(event)`` for every event (tasks.events).
The bar counts island-generations (the initial evaluation counts as one); the status line shows the best
walk-forward fitness so far with its island leader's Sharpe and CAGR (one strategy's figures), evaluations
per second, archive coverage and champions.
"""
from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

__all__ = ["EvolutionProgress"]


class EvolutionProgress:
    """Context manager and event sink drawing the evolution's progress on ``console``."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(TextColumn("evolving"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                  TextColumn("{task.fields[status]}"), console=console)
        self._task: TaskID | None = None
        self._started = 0.0
        self._leading: dict | None = None  # the generation event with the highest best_fitness so far
        self._evaluations: dict[int, int] = {}
        self._coverage: dict[int, float] = {}
        self._champions = 0

    def __enter__(self) -> "EvolutionProgress":
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        if kind == "start":
            self._started = time.time()
            total = event["islands"] * (event["generations"] + 1)
            self._task = self._progress.add_task("evolve", total=total, status="")
        elif kind == "generation" and self._task is not None:
            if self._leading is None or event["best_fitness"] > self._leading["best_fitness"]:
                self._leading = event
            self._evaluations[event["island"]] = event["evaluations"]
            self._coverage[event["island"]] = event["archive_coverage"]
            self._progress.update(self._task, advance=1, status=self._status())
        elif kind == "champion" and self._task is not None:
            self._champions += 1
            self._progress.update(self._task, status=self._status())
        elif kind == "stopped":
            self._progress.console.print(f"[yellow]evolution stopped after generation {event['generation']} of "
                                         f"{event['generations']}: {event['reason']}[/]")

    def _status(self) -> str:
        if self._leading is None:
            return f"{self._champions} champions"
        evaluations = sum(self._evaluations.values())
        rate = evaluations / max(time.time() - self._started, 1e-9)
        coverage = sum(self._coverage.values()) / len(self._coverage)
        leading = self._leading
        return (f"fitness {leading['best_fitness']:.2f} (leader: sharpe {leading['leader_sharpe']:.2f}, "
                f"cagr {leading['leader_cagr']:.0%}) · {evaluations} evals ({rate:.0f}/s) · "
                f"archive {coverage:.0%} · {self._champions} champions")
