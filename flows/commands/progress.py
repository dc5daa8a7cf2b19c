"""A live terminal view of a run, fed by the flow's events (tasks.orchestration.events, flows.pipeline):

    with RunDisplay(console) as show:
        run_pipeline(config, root, on_event=show)

Each stage gets one line when it finishes. While it works, evolution shows a bar of island-generations
(the initial evaluation counts as one) with the best walk-forward fitness so far, its island leader's
Sharpe and CAGR (one strategy's figures), evaluations per second, archive coverage and champions;
validation shows a bar of candidates through gates 1-2, then through gate 3. Off a terminal (a log file,
CI) only the stage lines are printed, one per stage.
"""
from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

__all__ = ["RunDisplay"]

_WORK_NAMES = {"gates12": "validating (gates 1-2)", "gate3": "validating (gate 3, venue)",
               "testnet": "validating (gate 3, testnet)"}


class RunDisplay:
    """Context manager and event sink drawing the run's progress on ``console``."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._live = console.is_terminal
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._work = ""  # what the current bar counts
        self._evolution = _EvolutionStatus()

    def __enter__(self) -> "RunDisplay":
        return self

    def __exit__(self, *exc: object) -> None:
        self._close_bar()

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        if kind == "stage" and event["state"] == "finished":
            self._close_bar()
            self._console.print(_stage_line(event))
        elif kind == "start":
            self._evolution = _EvolutionStatus()
            self._open_bar("evolving", event["islands"] * (event["generations"] + 1))
        elif kind in ("generation", "champion"):
            self._evolution.add(event)
            self._advance(1 if kind == "generation" else 0, self._evolution.status())
        elif kind == "stopped":
            self._console.print(f"[yellow]evolution stopped after generation {event['generation']} of "
                                f"{event['generations']}: {event['reason']}[/]")
        elif kind == "validation":
            if event["work"] != self._work:
                self._open_bar(_WORK_NAMES.get(event["work"], event["work"]), event["of"], work=event["work"])
            self._advance_to(event["candidates"], f"{event['done']} of {event['total']} batches")

    def _open_bar(self, label: str, total: int, *, work: str = "evolve") -> None:
        self._close_bar()
        self._work = work
        if not self._live:
            return
        self._progress = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                  TextColumn("{task.fields[status]}"), console=self._console, transient=True)
        self._progress.start()
        self._task = self._progress.add_task(label, total=total, status="")

    def _advance(self, steps: int, status: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=steps, status=status)

    def _advance_to(self, completed: int, status: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=completed, status=status)

    def _close_bar(self) -> None:
        """Take the bar off the screen: a finished bar must not be drawn again under later log lines."""
        if self._progress is not None:
            self._progress.stop()
        self._progress, self._task, self._work = None, None, ""


def _stage_line(event: dict) -> str:
    summary = event.get("summary") or {}
    what = {
        "evolve": lambda: (f"{summary.get('evaluations', 0):,} evaluations over {summary.get('generations')} "
                           f"generations ({summary.get('evaluations_per_second') or 0:.0f}/s)"),
        "serialize": lambda: f"{summary.get('candidates', 0)} candidates",
        "validate": lambda: f"{summary.get('passed', 0)} of {summary.get('validated', 0)} candidates passed",
        "deploy": lambda: f"{summary.get('deployed', 0)} deployed",
    }.get(event["stage"], lambda: "")()
    cached = " (cached)" if event.get("cached") else ""
    return f"[green]✓[/] {event['stage']:<9} {event['seconds']:6.1f} s  {what}{cached}"


class _EvolutionStatus:
    """The evolution bar's status line from the generation and champion events."""

    def __init__(self) -> None:
        self._started = time.time()
        self._leading: dict | None = None  # the generation event with the highest best_fitness so far
        self._evaluations: dict[int, int] = {}
        self._coverage: dict[int, float] = {}
        self._champions = 0

    def add(self, event: dict) -> None:
        if event["event"] == "champion":
            self._champions += 1
            return
        if self._leading is None or event["best_fitness"] > self._leading["best_fitness"]:
            self._leading = event
        self._evaluations[event["island"]] = event["evaluations"]
        self._coverage[event["island"]] = event["archive_coverage"]

    def status(self) -> str:
        if self._leading is None:
            return f"{self._champions} champions"
        evaluations = sum(self._evaluations.values())
        rate = evaluations / max(time.time() - self._started, 1e-9)
        coverage = sum(self._coverage.values()) / len(self._coverage)
        leading = self._leading
        return (f"fitness {leading['best_fitness']:.2f} (leader: sharpe {leading['leader_sharpe']:.2f}, "
                f"cagr {leading['leader_cagr']:.0%}) · {evaluations} evals ({rate:.0f}/s) · "
                f"archive {coverage:.0%} · {self._champions} champions")
