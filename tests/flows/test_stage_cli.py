"""`uce stage` refuses what it cannot re-run, in one line, before starting Prefect or Ray: an unknown run,
a stage whose input never got written, an input that is missing or not the file the previous stage
wrote (a candidates.parquet swapped in from another run)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from exchange.atomic import file_sha256
from flows.cli import main
from tasks.run.run_dir import RunDir, stage_input_problems


def test_unknown_run(tmp_path: Path, capsys) -> None:
    assert main(["--data-dir", str(tmp_path), "stage", "validate", "--run", "nope"]) == 2
    assert capsys.readouterr().err == (f"error: no run 'nope' under {tmp_path / 'runs'} (no manifest.json); "
                                       "`uce runs` lists the runs\n")


def test_bad_run_id(tmp_path: Path, capsys) -> None:
    assert main(["--data-dir", str(tmp_path), "stage", "deploy", "--run", "../x"]) == 2
    assert "run id '../x' is not valid" in capsys.readouterr().err


def test_stage_before_its_input_exists(tmp_path: Path, capsys) -> None:
    run = tmp_path / "runs" / "half"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"parameters": {"run_id": "half"}, "status": "failed",
                                                   "stages": {"evolve": {"status": "completed"}}}))
    assert main(["--data-dir", str(tmp_path), "stage", "validate", "--run", "half"]) == 2
    err = capsys.readouterr().err
    assert err == "error: stage serialize of run half has not completed: re-run it first (`uce stage serialize`)\n"


@pytest.fixture
def serialized(tmp_path: Path) -> RunDir:
    """A run whose serialize stage completed and recorded its artifacts' sha256."""
    run = RunDir.for_run(tmp_path, "done")
    run.strategies.mkdir(parents=True)
    pd.DataFrame({"strategy_id": ["a1", "b2"], "fitness": [1.0, 0.5]}).to_parquet(run.candidates)
    for sid in ("a1", "b2"):
        (run.strategies / f"{sid}.json").write_text(json.dumps({"strategy_id": sid}))
    run.update_manifest(run_id="done", status="completed", parameters={"run_id": "done"})
    written = (run.candidates, run.strategies / "a1.json", run.strategies / "b2.json")
    run.record_stage("serialize", "completed",
                     artifacts={str(p.relative_to(run.root)): file_sha256(p) for p in written})
    return run


def test_a_swapped_input_is_refused_naming_the_file(serialized: RunDir, tmp_path: Path, capsys) -> None:
    pd.DataFrame({"strategy_id": ["zz"], "fitness": [9.0]}).to_parquet(serialized.candidates)  # another run's
    before = serialized.manifest_path.read_bytes()
    assert main(["--data-dir", str(tmp_path), "stage", "validate", "--run", "done"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "candidates.parquet is not the file serialize wrote (sha256" in err
    assert "pass --force" in err and serialized.manifest_path.read_bytes() == before
    (serialized.strategies / "b2.json").unlink()
    problems = stage_input_problems(serialized, "validate")
    assert any("strategies/b2.json (written by serialize) is missing" in p for p in problems)
    assert stage_input_problems(serialized, "serialize") == []  # evolve recorded nothing to compare


def test_a_run_still_running_is_not_touched(serialized: RunDir, tmp_path: Path, capsys) -> None:
    from tasks.run.run_dir import current_process

    serialized.update_manifest(status="running", process=current_process())  # this very process: alive
    assert main(["--data-dir", str(tmp_path), "stage", "validate", "--run", "done"]) == 2
    assert "run done is still running (process" in capsys.readouterr().err
