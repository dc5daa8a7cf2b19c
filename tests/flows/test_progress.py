"""The live evolution view draws the events it is fed and says when the evolution stopped early."""
from __future__ import annotations

import io

from rich.console import Console

from flows.commands.progress import EvolutionProgress


def test_progress_counts_island_generations_and_reports_a_stop() -> None:
    out = io.StringIO()
    console = Console(file=out, width=240, force_terminal=False)
    with EvolutionProgress(console) as show:
        show({"event": "start", "islands": 2, "generations": 3})
        for generation in (0, 1):
            for island in (0, 1):
                show({"event": "generation", "island": island, "generation": generation, "best_fitness": 0.5 + island,
                      "leader_sharpe": 1.2 + island, "leader_cagr": 0.3 + island,
                      "evaluations": 10 * (generation + 1),
                      "archive_coverage": 0.25})
        show({"event": "champion", "island": 0})
        show({"event": "stopped", "generation": 1, "generations": 3, "reason": "time budget"})
    text = out.getvalue()
    assert "4/8" in text and "fitness 1.50" in text and "40 evals" in text and "1 champions" in text
    assert "leader: sharpe 2.20, cagr 130%" in text  # the fittest island's leader, not maxima of other genomes
    assert "evolution stopped after generation 1 of 3: time budget" in text
