"""The live view of a run draws the events it is fed: evolution's bar, then validation's, one line per
finished stage, and nothing of a finished bar afterwards; off a terminal only the stage lines."""
from __future__ import annotations

import io

from rich.console import Console

from flows.commands.progress import RunDisplay

GENERATIONS = [{"event": "generation", "island": island, "generation": generation, "best_fitness": 0.5 + island,
                "leader_sharpe": 1.2 + island, "leader_cagr": 0.3 + island, "evaluations": 10 * (generation + 1),
                "archive_coverage": 0.25} for generation in (0, 1) for island in (0, 1)]


def _feed(show: RunDisplay) -> None:
    show({"event": "stage", "stage": "evolve", "state": "started"})
    show({"event": "start", "islands": 2, "generations": 3})
    for event in GENERATIONS:
        show(event)
    show({"event": "champion", "island": 0})
    show({"event": "stopped", "generation": 1, "generations": 3, "reason": "time budget"})
    show({"event": "stage", "stage": "evolve", "state": "finished", "seconds": 12.5, "cached": False,
          "summary": {"evaluations": 40, "generations": 1, "evaluations_per_second": 3.2}})
    show({"event": "stage", "stage": "validate", "state": "started"})
    for done in (1, 2):
        show({"event": "validation", "work": "gates12", "done": done, "total": 2, "candidates": 5 * done, "of": 10})
    show({"event": "stage", "stage": "validate", "state": "finished", "seconds": 1.5, "cached": False,
          "summary": {"validated": 10, "passed": 3}})


def test_on_a_terminal_bars_follow_the_stages_and_leave_no_trace() -> None:
    out = io.StringIO()
    console = Console(file=out, width=240, force_terminal=True, color_system=None)
    with RunDisplay(console) as show:
        _feed(show)
        after = out.tell()
        console.print("a log line after the stages")
    text = out.getvalue()
    assert "evolving" in text and "4/8" in text and "fitness 1.50" in text and "40 evals" in text
    assert "leader: sharpe 2.20, cagr 130%" in text  # the fittest island's leader, not maxima of other genomes
    assert "1 champions" in text and "evolution stopped after generation 1 of 3: time budget" in text
    assert "validating (gates 1-2)" in text and "10/10" in text and "2 of 2 batches" in text
    assert "✓ evolve" in text and "40 evaluations over 1 generations" in text
    assert "✓ validate" in text and "3 of 10 candidates passed" in text
    assert "evolving" not in text[after:] and "validating" not in text[after:]


def test_off_a_terminal_one_line_per_stage() -> None:
    out = io.StringIO()
    with RunDisplay(Console(file=out, width=240, force_terminal=False)) as show:
        _feed(show)
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines if line.startswith("✓")] == ["evolve", "validate"]
    assert "evolving" not in out.getvalue() and "validating" not in out.getvalue()
    assert len(lines) == 3  # two stage lines and the early stop
