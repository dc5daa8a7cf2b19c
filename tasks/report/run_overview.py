"""One line of ``uce runs`` per run folder: date, data, counts and status, read from report.json when the run
has one, else from its manifest."""
from __future__ import annotations

import json

from tasks.report.json_values import iso_utc
from tasks.report.report_json import report_html_path
from tasks.run.run_dir import RunDir, run_status

__all__ = ["run_overview"]


def run_overview(run: RunDir) -> dict:
    """One line of ``uce runs``: date, data, counts and status (from report.json, else the manifest)."""
    manifest = run.manifest()
    report = json.loads(run.report.read_text()) if run.report.exists() else {}
    summary = report.get("execution_summary", {})
    data = manifest.get("data", {})
    validation = manifest.get("validation", {})
    evolve = manifest.get("stages", {}).get("evolve", {}).get("summary", {})
    return {
        "run_id": run.run_id,
        "started": iso_utc(manifest.get("started")),
        "status": run_status(manifest),
        "coins": list(manifest.get("parameters", {}).get("coins") or data.get("coins", {})),
        "interval": data.get("interval"),
        "source": data.get("source"),
        "evaluated": summary.get("strategies_evaluated", evolve.get("evaluations")),
        "candidates": summary.get("candidates", validation.get("candidates")),
        "validated": summary.get("strategies_validated", validation.get("passed")),
        "deployed": summary.get("strategies_deployed"),
        "report": "html" if report_html_path(run).exists() else ("json" if report else None),
    }
