"""A run id names one run: reusing it is refused (nothing touched) unless --resume or --overwrite."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.cli import main
from flows.pipeline import RunExistsError, _claim
from tasks.run.run_dir import RunDir, current_process


@pytest.fixture
def finished(tmp_path: Path) -> RunDir:
    run = RunDir.for_run(tmp_path, "w1a")
    run.strategies.mkdir(parents=True)
    for i in range(3):
        (run.strategies / f"s{i}.json").write_text(json.dumps({"strategy_id": f"s{i}"}))
    run.candidates.write_bytes(b"PAR1 not really")
    run.update_manifest(run_id="w1a", status="completed", prefect={"flow_run_id": "an-earlier-flow-run"},
                        parameters={"run_id": "w1a"})
    return run


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_reusing_a_run_id_is_refused_and_leaves_every_artifact_byte_identical(finished: RunDir, tmp_path: Path,
                                                                              capsys) -> None:
    before = _files(finished.root)
    assert main(["--data-dir", str(tmp_path), "run", "--test-mode", "--run-id", "w1a"]) == 2
    err = capsys.readouterr().err
    assert err == ("error: run w1a already exists (completed): --resume continues its unfinished stages, "
                   "--overwrite replaces it (its artifacts are deleted first), or choose another --run-id\n")
    assert _files(finished.root) == before


@pytest.mark.parametrize(("argv", "message"), [
    (["--resume"], "--resume needs --run-id"),
    (["--resume", "--run-id", "w1a", "--strategies", "20"], "--resume continues run w1a with its recorded "
                                                            "settings; leave out --strategies"),
    (["--resume", "--run-id", "w1a", "--overwrite"], "leave out --overwrite"),
])
def test_resume_takes_the_run_as_it_was_set_up(finished: RunDir, tmp_path: Path, argv: list[str], message: str,
                                                capsys) -> None:
    assert main(["--data-dir", str(tmp_path), "run", *argv]) == 2
    assert message in capsys.readouterr().err


def test_resume_of_a_finished_run_has_nothing_to_do(finished: RunDir, tmp_path: Path, capsys) -> None:
    for stage in ("evolve", "serialize", "validate", "deploy"):
        finished.record_stage(stage, "completed")
    assert main(["--data-dir", str(tmp_path), "run", "--resume", "--run-id", "w1a"]) == 0
    assert "nothing to resume" in capsys.readouterr().out


def test_the_flow_refuses_replaces_or_continues(finished: RunDir) -> None:
    with pytest.raises(RunExistsError, match="run w1a already exists \\(completed\\)"):
        _claim(finished, overwrite=False)
    assert finished.candidates.exists()
    finished.update_manifest(status="running", process=current_process())
    with pytest.raises(RunExistsError, match="still running"):
        _claim(finished, overwrite=True)  # never under a live run's feet
    finished.update_manifest(status="failed")
    _claim(finished, overwrite=True)
    assert not finished.root.exists()  # no artifact of the old run survives to mix with the new one
