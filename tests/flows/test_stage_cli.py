"""`uce stage` refuses what it cannot re-run, in one line, before starting Prefect or Ray."""
from __future__ import annotations

import json
from pathlib import Path

from flows.cli import main


def test_unknown_run(tmp_path: Path, capsys) -> None:
    assert main(["--data-dir", str(tmp_path), "stage", "validate", "--run", "nope"]) == 2
    assert capsys.readouterr().err == f"error: no run 'nope' under {tmp_path / 'runs'} (no manifest.json)\n"


def test_bad_run_id(tmp_path: Path, capsys) -> None:
    assert main(["--data-dir", str(tmp_path), "stage", "deploy", "--run", "../x"]) == 2
    assert "run id '../x' is not valid" in capsys.readouterr().err


def test_stage_before_its_input_exists(prefect_server: str, tmp_path: Path, capsys) -> None:
    """The flow refuses to validate a run whose serialize stage never completed."""
    run = tmp_path / "runs" / "half"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"parameters": {"run_id": "half"},
                                                   "stages": {"evolve": {"status": "completed"}}}))
    assert main(["--data-dir", str(tmp_path), "stage", "validate", "--run", "half", "--local"]) == 1
    assert "stage serialize of run half has not completed: re-run it first" in capsys.readouterr().err
