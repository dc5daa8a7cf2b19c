"""report.json: what a run tried, what survived, how long it took, what it used, which data it saw and how
that data was refreshed before the run.

Built only from the run's artifacts and manifest (every column read defensively: a missing one gives
null), so rebuilding it from the same files gives the same bytes: no build time inside, every list in a
fixed order. Field names are stable; tasks/report/schemas/report.schema.json pins them and the tests validate
every report against it. Rates and shares are fractions (0.25 = 25 %), times in seconds unless named.

Beside it in tasks/report/: each strategy's entry (strategy_entry.py), the JSON-safe values (json_values.py),
the plain-language readings of a report (readings.py), the Prefect markdown artifact (markdown_artifact.py),
the ``uce runs`` line (run_overview.py) and report.html (html_page.py and its html_*.py sections).
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exchange.atomic import write_json_atomic
from tasks.report.json_values import iso_utc, json_safe, plain
from tasks.report.strategy_entry import GATES, strategy_entry
from tasks.run.config import RunConfig
from tasks.run.run_dir import STAGES, RunDir

__all__ = ["REPORT_VERSION", "build_report", "read_artifact", "report_html_path", "report_schema", "write_report"]

REPORT_VERSION = 4  # 4: data_refresh, configuration
_REFRESH_COIN_FIELDS = ("candles_added", "candles_total", "funding_added", "gaps", "last_bar")


def build_report(run: RunDir) -> dict:
    """The report of ``run`` as a JSON-ready dict (see the module docstring)."""
    manifest = run.manifest()
    params = manifest.get("parameters", {})
    stages = manifest.get("stages", {})
    validation = manifest.get("validation", {})
    evolved = read_artifact(run.evolved)
    validated = read_artifact(run.validated)
    deployed = read_artifact(run.deployed)
    candidates = read_artifact(run.candidates)
    evaluated = evolved[evolved["evaluated"].astype(bool)] if "evaluated" in evolved else evolved
    counts = {
        "evaluated": len(evaluated),
        "generated": int(evaluated["strategy_id"].nunique()) if len(evaluated) else 0,
        "candidates": len(candidates),
        "validated": int(validated["passed"].astype(bool).sum()) if "passed" in validated else 0,
        "deployed": len(deployed),
    }
    seconds = {s: stages.get(s, {}).get("seconds") for s in STAGES}
    return {
        "report_version": REPORT_VERSION,
        "run_id": run.run_id,
        "status": manifest.get("status", "unknown"),
        "seed": params.get("seed"),
        "test_mode": params.get("test_mode"),
        "code_version": manifest.get("code_version"),
        "started": iso_utc(manifest.get("started")),
        "finished": iso_utc(manifest.get("finished")),
        "execution_summary": _execution_summary(manifest, counts, seconds),
        "stage_seconds": seconds,
        "stage_status": {s: stages.get(s, {}).get("status", "not run") for s in STAGES},
        "stage_errors": {s: stages[s]["error"] for s in STAGES if stages.get(s, {}).get("error")},
        "phase_performance": _phase_performance(stages, counts),
        "resources": _resources(manifest, _total_seconds(manifest, seconds)),
        "data": _data(manifest),
        "data_refresh": _data_refresh(manifest.get("data_refresh")),
        "configuration": _configuration(manifest),
        "validation": _validation(validation, validated, counts, params),
        "multiple_testing": _multiple_testing(manifest, candidates),
        "resilience": _resilience(manifest.get("resilience")),
        "deployment": json_safe(manifest.get("deploy") or {}),
        "deployed": [strategy_entry(run, row["strategy_id"], evolved, validated, deployed)
                     for _, row in deployed.iterrows()],
    }


def write_report(run: RunDir) -> dict:
    """Build report.json from the artifacts and write it atomically; returns the report."""
    report = build_report(run)
    write_json_atomic(report, run.report)
    return report


def report_html_path(run: RunDir) -> Path:
    """Where the run's HTML report lives, beside report.json."""
    return run.root / "report.html"


def report_schema() -> dict:
    """The JSON Schema every report.json satisfies (tasks/schemas/report.schema.json)."""
    return json.loads((resources.files("tasks.report") / "schemas" / "report.schema.json").read_text())


def read_artifact(path: Path) -> pd.DataFrame:
    """A Parquet artifact, or an empty frame when the stage that writes it did not run."""
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _total_seconds(manifest: dict, seconds: dict[str, float | None]) -> float:
    """Wall-clock seconds from start to finish, or the sum of the stages' seconds while unfinished."""
    started, finished = manifest.get("started"), manifest.get("finished")
    if started is not None and finished is not None:
        return round(float(finished) - float(started), 3)
    return round(sum(v for v in seconds.values() if v), 3)


def _execution_summary(manifest: dict, counts: dict[str, int], seconds: dict[str, float | None]) -> dict:
    hours = manifest.get("parameters", {}).get("hours")
    total = _total_seconds(manifest, seconds)
    return {
        "strategies_evaluated": counts["evaluated"],
        "strategies_generated": counts["generated"],
        "candidates": counts["candidates"],
        "strategies_validated": counts["validated"],
        "strategies_deployed": counts["deployed"],
        "validation_success_rate": _rate(counts["validated"], counts["candidates"]),
        "deployment_success_rate": _rate(counts["deployed"], counts["validated"]),
        "overall_success_rate": _rate(counts["deployed"], counts["generated"]),
        "seconds_total": total,
        "budget_hours": hours,
        "budget_used": round(total / (hours * 3600), 4) if hours else None,
    }


def _phase_performance(stages: dict, counts: dict[str, int]) -> dict:
    evolve = stages.get("evolve", {})
    summary = evolve.get("summary", {})
    minutes = (evolve.get("seconds") or 0) / 60
    coverage = summary.get("archive_coverage") or []
    return {
        "evaluations_per_minute": round(counts["evaluated"] / minutes, 1) if minutes > 0 else None,
        "generations": summary.get("generations"),
        "generations_planned": summary.get("generations_planned"),
        "islands": summary.get("islands"),
        "stopped_by_budget": summary.get("stopped_by_budget"),
        "stop_note": summary.get("stop_note"),
        "archive_coverage": round(float(np.mean(coverage)), 4) if coverage else None,
        "validation_success_rate": _rate(counts["validated"], counts["candidates"]),
        "deployment_success_rate": _rate(counts["deployed"], counts["validated"]),
    }


def _resources(manifest: dict, total_seconds: float) -> dict:
    """Workers and cost from the manifest's ``resources`` (written by the flow), else the parameters."""
    given = manifest.get("resources") or {}
    params = manifest.get("parameters", {})
    workers = given.get("workers", params.get("workers"))
    price = given.get("cpu_hour_price")
    cpu_hours = round(workers * total_seconds / 3600, 4) if workers else None
    return {
        "workers": workers,
        "ray_address": params.get("ray_address"),
        "cpu_hours": cpu_hours,
        "cpu_hour_price": price,
        "estimated_cost_usd": round(cpu_hours * price, 4) if cpu_hours is not None and price is not None else None,
    }


def _data(manifest: dict) -> dict:
    data = manifest.get("data", {})
    windows = manifest.get("windows", {})
    order = manifest.get("parameters", {}).get("coins") or sorted(data.get("coins", {}))
    coins = data.get("coins", {})
    return {
        "source": data.get("source"),
        "interval": data.get("interval"),
        "funding": data.get("funding"),
        "fingerprint": data.get("fingerprint"),
        "coins": [{"coin": c, **{k: coins[c].get(k) for k in ("bars", "first", "last", "gaps",
                                                               "funding_observed_share")}}
                  for c in order if c in coins],
        "windows": [{"name": name, **{k: windows[name].get(k) for k in ("start", "end", "days")}}
                    for name in ("train", "validation", "replay", "live") if name in windows],
        "window_sizing": windows.get("sizing"),
    }


def _configuration(manifest: dict) -> dict:
    """The config file the run read (path, sha256; None without one) and every setting that differs from
    the built-in defaults, by dotted key (the whole configuration is the manifest's ``parameters``)."""
    params = manifest.get("parameters") or {}
    defaults = _flat_settings(RunConfig().model_dump(mode="json"))
    changed = {key: value for key, value in _flat_settings(params).items()
               if key != "run_id" and defaults.get(key, object()) != value}
    record = manifest.get("config_file")
    return {"file": {"path": str(record.get("path")), "sha256": str(record.get("sha256"))}
            if isinstance(record, dict) else None,
            "changed": {key: plain(value) for key, value in sorted(changed.items())}}


def _flat_settings(values: dict, prefix: str = "") -> dict[str, Any]:
    """{"costs": {"taker_fee": 0.0007}} -> {"costs.taker_fee": 0.0007}."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out |= _flat_settings(value, f"{prefix}{key}.")
        else:
            out[prefix + key] = value
    return out


def _data_refresh(record: Any) -> dict | None:
    """The manifest's ``data_refresh`` (tasks.market.refresh), its coins as a list in the record's order;
    None when the run did not refresh."""
    if not isinstance(record, dict):
        return None
    coins = record.get("coins") if isinstance(record.get("coins"), dict) else {}
    return {
        "endpoint": record.get("endpoint"),
        "interval": record.get("interval"),
        "ok": plain(record.get("ok")),
        "new_bars": plain(record.get("new_bars")),
        "coins": [{"coin": str(coin), **{k: plain(entry.get(k) if isinstance(entry, dict) else None)
                                         for k in _REFRESH_COIN_FIELDS}} for coin, entry in coins.items()],
        "error": record.get("error"),
        "seconds": plain(record.get("seconds")),
    }


def _gate_passed(validated: pd.DataFrame, gate: str) -> int | None:
    column = f"{gate}_pass"
    return int(validated[column].astype(bool).sum()) if column in validated else None


def _validation(summary: dict, validated: pd.DataFrame, counts: dict[str, int], params: dict) -> dict:
    """The funnel evaluated → candidates → gate 1 → gate 2 → gate 3 → deployed (cumulative: a gate's
    count holds the candidates that passed it and every gate before it; null = not performed)."""
    mode = summary.get("mode", params.get("validation", {}).get("mode"))
    gates = list(summary.get("gates") or [])
    survivors = pd.Series(True, index=validated.index)
    funnel = [{"step": "evaluated", "count": counts["evaluated"]},
              {"step": "candidates", "count": counts["candidates"]}]
    for gate in GATES:
        column = f"{gate}_pass"
        performed = gate in gates and column in validated
        if performed:
            survivors = survivors & validated[column].astype(bool)
        funnel.append({"step": gate, "count": int(survivors.sum()) if performed else None})
    funnel += [{"step": "validated", "count": counts["validated"]}, {"step": "deployed", "count": counts["deployed"]}]
    return {
        "mode": mode,
        "gates": gates,
        "gate_passed": {g: _gate_passed(validated, g) for g in GATES},
        "errors": summary.get("errors"),
        "seconds": summary.get("seconds"),
        "thresholds": params.get("validation", {}),
        "funnel": funnel,
    }


def _multiple_testing(manifest: dict, candidates: pd.DataFrame) -> dict:
    """Where each selection happened, its statistics: train (the evolution's trials: DSR, PBO; manifest
    ``serialize`` and candidates.parquet) and validation (StepM over the candidates; manifest ``validation``)."""
    train = manifest.get("serialize", {})
    best = {}
    for column in ("train_dsr", "train_dsr_effective"):
        values = candidates[column].to_numpy(float) if column in candidates else np.zeros(0)
        best[column] = plain(np.nanmax(values)) if np.isfinite(values).any() else None
    test = manifest.get("validation", {}).get("significance", {})
    return {
        "train": {
            "trials": train.get("n_trials"),
            "effective_trials": train.get("n_effective_trials"),
            "ideas": train.get("ideas"),
            "candidates": train.get("candidates"),
            "best_dsr": best["train_dsr"],
            "best_dsr_effective": best["train_dsr_effective"],
            "pbo": plain(train.get("pbo")),
            "pbo_splits": train.get("pbo_splits"),
        },
        "validation": {
            "method": test.get("method"),
            "window": test.get("window"),
            "days": test.get("days"),
            "fwer": test.get("fwer"),
            "candidates": test.get("candidates"),
            "critical_sharpe": plain(test.get("critical_sharpe")),
            "significant": test.get("significant"),
            "spa_pvalue": plain(test.get("spa_pvalue")),
            "reps": test.get("reps"),
            "skipped": test.get("skipped"),
        },
    }


def _resilience(section: Any) -> dict:
    """The manifest's ``resilience`` section as {events: [...], summary: {...}}; absent = no events."""
    events, summary = [], {}
    if isinstance(section, list):
        events = section
    elif isinstance(section, dict):
        events = section.get("events", [])
        summary = {k: v for k, v in section.items() if k != "events"}
    events = events if isinstance(events, list) else []
    return {"events": [json_safe(e if isinstance(e, dict) else {"event": e}) for e in events],
            "summary": json_safe(summary)}
