"""One real run of the flow: `uce run --test-mode` on Ray through a local Prefect server, offline.

Two runs with the same seed — one on a single Ray worker, one on two — must write identical
evolved.parquet contents; every artifact of DESIGN.md must be there with its schema.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exchange.atomic import file_sha256

RUN_TIMEOUT_S = 600


def _uce(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}  # exercise the embedded server
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env,
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    data_dir = tmp_path_factory.mktemp("uce-data")
    out = {}
    # The first run's data refresh finds nothing listening (as a nightly run without network would).
    refresh = {"one-worker": ("--refresh-from", f"http://127.0.0.1:{_closed_port()}"), "two-workers": ()}
    for run_id, workers in (("one-worker", "1"), ("two-workers", "2")):
        done = _uce(data_dir, "run", "--test-mode", "--seed", "7", "--run-id", run_id, "--workers", workers,
                    *refresh[run_id])
        assert done.returncode == 0, done.stderr[-3000:]
        out[run_id] = data_dir / "runs" / run_id
    return out


def test_every_artifact_is_written(runs) -> None:
    run = runs["two-workers"]
    for name in ("manifest.json", "evolved.parquet", "events.parquet", "candidates.parquet",
                 "validated.parquet", "deployed.parquet", "report.json"):
        assert (run / name).is_file(), name
    candidates = pd.read_parquet(run / "candidates.parquet")
    assert sorted(p.stem for p in (run / "strategies").glob("*.json")) == sorted(candidates["strategy_id"])
    assert not list(run.rglob("*.tmp"))


def test_manifest_records_stages_hashes_and_data(runs) -> None:
    run = runs["two-workers"]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["parameters"]["seed"] == 7
    assert "offline sample" in manifest["data"]["source"]
    assert set(manifest["windows"]) >= {"train", "validation", "replay", "live"}
    for stage in ("evolve", "serialize", "validate", "deploy"):
        assert manifest["stages"][stage]["status"] == "completed"
        assert manifest["stages"][stage]["seconds"] > 0
    assert manifest["stages"]["evolve"]["artifacts"]["evolved.parquet"] == file_sha256(run / "evolved.parquet")


def test_evolved_schema_and_lineage(runs) -> None:
    evolved = pd.read_parquet(runs["two-workers"] / "evolved.parquet")
    assert {"strategy_id", "uid", "coin", "family", "genes", "parent_ids", "operator", "generation", "island",
            "fitness", "sharpe", "evaluated"} <= set(evolved.columns)
    assert evolved["uid"].is_unique
    genes = np.stack(evolved["genes"].to_numpy())
    assert genes.shape[1] == 12 and genes.min() >= 0 and genes.max() <= 1
    # 5 islands x 10 genomes, 5 generations: the initial 50 plus 50 offspring per generation.
    assert evolved["evaluated"].sum() == 50 * 6
    assert evolved["family"].nunique() == 14
    known = set(evolved["uid"])
    for parents, operator in zip(evolved["parent_uids"], evolved["operator"]):
        assert (len(parents) == 0) == (operator == "init")
        assert set(parents) <= known


def test_validated_and_deployed_are_consistent(runs) -> None:
    run = runs["two-workers"]
    validated = pd.read_parquet(run / "validated.parquet")
    deployed = pd.read_parquet(run / "deployed.parquet")
    assert {"gate1_sharpe", "gate1_max_drawdown", "overall_score", "passed", "reasons"} <= set(validated.columns)
    assert set(deployed["strategy_id"]) <= set(validated.loc[validated["passed"], "strategy_id"])
    assert len(deployed) <= 10
    failed = validated[~validated["passed"]]
    assert (failed["reasons"].str.len() > 0).all()


def test_report_summarises_the_run(runs) -> None:
    report = json.loads((runs["two-workers"] / "report.json").read_text())
    summary = report["execution_summary"]
    assert summary["strategies_evaluated"] == 300
    assert summary["strategies_deployed"] == len(pd.read_parquet(runs["two-workers"] / "deployed.parquet"))
    assert "offline sample" in report["data"]["source"] and report["seed"] == 7
    assert all(report["stage_seconds"][s] > 0 for s in ("evolve", "serialize", "validate", "deploy"))


def test_same_seed_same_genomes_on_one_or_two_workers(runs) -> None:
    a = pd.read_parquet(runs["one-worker"] / "evolved.parquet")
    b = pd.read_parquet(runs["two-workers"] / "evolved.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_a_failed_data_refresh_is_reported_and_the_run_goes_on(runs) -> None:
    run = runs["one-worker"]
    recorded = json.loads((run / "manifest.json").read_text())
    assert recorded["status"] == "completed" and recorded["data_refresh"]["ok"] is False
    assert "failed" in recorded["data_refresh"]["error"] and recorded["data_refresh"]["new_bars"] == 0
    assert "offline sample" in recorded["data"]["source"]  # the store stayed empty: nothing half-written
    assert "the run used the store as it was" in (run / "report.html").read_text()
