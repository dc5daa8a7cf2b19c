"""report.json: what a run tried, what survived, how long each stage took and which data it used.

Built only from the run's artifacts and manifest, so rebuilding it from the same files gives the same report.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.atomic import write_json_atomic
from tasks.run_dir import STAGES, RunDir

__all__ = ["REPORT_VERSION", "build_report", "write_report"]

REPORT_VERSION = 1


def build_report(run: RunDir) -> dict:
    manifest = run.manifest()
    stages = manifest.get("stages", {})
    evolved = _read(run.evolved)
    candidates = _read(run.candidates)
    validated = _read(run.validated)
    deployed = _read(run.deployed)
    evaluations = len(evolved)
    unique = int(evolved["strategy_id"].nunique()) if evaluations else 0
    passed = int(validated["passed"].sum()) if len(validated) else 0
    seconds = {s: stages.get(s, {}).get("seconds") for s in STAGES}
    return {
        "report_version": REPORT_VERSION,
        "run_id": run.run_id,
        "status": manifest.get("status", "unknown"),
        "seed": manifest.get("parameters", {}).get("seed"),
        "test_mode": manifest.get("parameters", {}).get("test_mode"),
        "execution_summary": {
            "strategies_evaluated": evaluations,
            "strategies_generated": unique,
            "candidates": len(candidates),
            "strategies_validated": passed,
            "strategies_deployed": len(deployed),
            "validation_success_rate": _rate(passed, len(candidates)),
            "deployment_success_rate": _rate(len(deployed), passed),
            "overall_success_rate": _rate(len(deployed), unique),
            "seconds_total": round(sum(v for v in seconds.values() if v), 3),
            "budget_hours": manifest.get("parameters", {}).get("hours"),
        },
        "stage_seconds": seconds,
        "stage_status": {s: stages.get(s, {}).get("status", "not run") for s in STAGES},
        "evolution": stages.get("evolve", {}).get("summary", {}),
        "data": manifest.get("data", {}),
        "windows": manifest.get("windows", {}),
        "deployed": [_deployed_entry(row, validated) for _, row in deployed.iterrows()],
    }


def write_report(run: RunDir) -> dict:
    report = build_report(run)
    write_json_atomic(report, run.report)
    return report


def _read(path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _deployed_entry(row: pd.Series, validated: pd.DataFrame) -> dict:
    v = validated.set_index("strategy_id").loc[row["strategy_id"]]
    gate1 = {k.removeprefix("gate1_"): _plain(v[k]) for k in v.index if k.startswith("gate1_") and k != "gate1_reasons"}
    return {
        "strategy_id": row["strategy_id"],
        "coin": row["coin"],
        "family": row["family"],
        "fitness": _plain(v["fitness"]),
        "overall_score": _plain(row["overall_score"]),
        "allocation": _plain(row["allocation"]),
        "reason": row["reason"],
        "gate1": gate1,
    }


def _plain(x):
    """numpy scalars to JSON-safe Python values (NaN/inf → None)."""
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer, int)):
        return int(x)
    x = float(x)
    return x if np.isfinite(x) else None
