"""The Prefect markdown artifact of a run: the headline numbers of report.json and a link to report.html,
published from inside the flow once both reports are written."""
from __future__ import annotations

import json
import re
from pathlib import Path

from tasks.report.readings import data_refresh_reading
from tasks.report.report_json import report_html_path
from tasks.run.run_dir import RunDir

__all__ = ["publish_report_artifact", "report_markdown"]


def report_markdown(report: dict, html_path: Path) -> str:
    """The Prefect artifact's text: the headline numbers and a link to the HTML report."""
    s = report["execution_summary"]
    mt = report["multiple_testing"]
    train, test = mt["train"], mt["validation"]
    dsr = f"{train['best_dsr']:.3f}" if train["best_dsr"] is not None else "—"
    pbo = f"{train['pbo']:.0%}" if train["pbo"] is not None else "—"
    significant = (f"{test['significant']} of {test['candidates']} candidates significant at {test['fwer']:.0%} "
                   f"family-wise (StepM)" if test["candidates"] else "no significance test")
    lines = [
        f"# Run {report['run_id']}: {report['status']}",
        "",
        f"[Open the HTML report]({html_path.resolve().as_uri()})  ",
        f"`{html_path.resolve()}`",
        "",
        "| evaluated | distinct | candidates | validated | deployed | seconds |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {s['strategies_evaluated']} | {s['strategies_generated']} | {s['candidates']} | "
        f"{s['strategies_validated']} | {s['strategies_deployed']} | {s['seconds_total']:.0f} |",
        "",
        f"Data: {report['data']['source']}. Train: {train['trials']} trials ({train['effective_trials']} effective), "
        f"best deflated Sharpe {dsr}, probability of backtest overfitting {pbo}. "
        f"Validation: {train['ideas']} distinct ideas, {significant}.",
    ]
    refresh = data_refresh_reading(report.get("data_refresh"))  # absent in reports before version 4
    if refresh:
        lines += ["", refresh]
    return "\n".join(lines) + "\n"


def publish_report_artifact(run: RunDir) -> str | None:
    """Publish a Prefect markdown artifact linking ``report.html`` (call inside the flow, after the reports
    are written); returns the artifact id, or None when there is no report.json yet."""
    from prefect.artifacts import create_markdown_artifact  # Prefect only where a flow runs, not for `uce runs`

    if not run.report.exists():
        return None
    report = json.loads(run.report.read_text())
    key = "uce-report-" + re.sub(r"[^a-z0-9-]+", "-", run.run_id.lower()).strip("-")
    artifact_id = create_markdown_artifact(markdown=report_markdown(report, report_html_path(run)), key=key,
                                           description=f"uce run {run.run_id}: report")
    return str(artifact_id)
