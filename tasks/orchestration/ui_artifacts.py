"""What the Prefect UI shows of a run: its progress over the stages, the top strategies after each stage,
and a markdown summary of how the run went (stages, cache hits, resilience, cost).

Call these inside a flow run so the artifacts attach to it. Keys are per run id, so the UI's artifact
pages also show each one's history across re-runs of a stage.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
from prefect.artifacts import (create_markdown_artifact, create_progress_artifact, create_table_artifact,
                               update_progress_artifact)

from tasks.run.run_dir import STAGES, RunDir

__all__ = ["TOP_N", "RunProgress", "publish_stage_table", "publish_summary", "summary_markdown", "top_strategies"]

TOP_N = 10
# Per stage: the artifact it ranks, the sort columns (descending), and the columns shown.
_TABLES = {
    "evolve": ("evolved", ["fitness"], ["strategy_id", "coin", "family", "fitness", "sharpe", "cagr", "max_drawdown",
                                         "generation", "island", "operator"]),
    "serialize": ("candidates", ["fitness"], ["rank", "strategy_id", "coin", "family", "fitness", "sharpe", "cagr",
                                              "max_drawdown"]),
    "validate": ("validated", ["passed", "overall_score"], ["strategy_id", "coin", "family", "passed",
                                                            "overall_score", "gate1_sharpe", "gate1_max_drawdown",
                                                            "gate1_significant", "reasons"]),
    "deploy": ("deployed", ["overall_score"], ["strategy_id", "coin", "family", "overall_score", "allocation",
                                               "reason"]),
}


def _key(run: RunDir, what: str) -> str:
    """An artifact key: lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", f"uce-{run.run_id}-{what}".lower()).strip("-")


def _plain(value: object) -> object:
    if isinstance(value, (np.floating, float)):
        return round(float(value), 4) if np.isfinite(value) else None
    if isinstance(value, np.generic):
        return value.item()
    return value


def top_strategies(run: RunDir, stage: str) -> list[dict]:
    """The best TOP_N rows of the artifact ``stage`` wrote (distinct strategies), as plain dicts."""
    attr, order, columns = _TABLES[stage]
    path = getattr(run, attr)
    if not path.exists():
        return []
    frame = pd.read_parquet(path)
    if "evaluated" in frame:
        frame = frame[frame["evaluated"].astype(bool)]
    frame = frame.sort_values([c for c in order if c in frame], ascending=False, kind="stable")
    frame = frame.drop_duplicates("strategy_id").head(TOP_N)
    return [{c: _plain(row[c]) for c in columns if c in frame} for _, row in frame.iterrows()]


def publish_stage_table(run: RunDir, stage: str) -> None:
    rows = top_strategies(run, stage)
    create_table_artifact(rows, key=_key(run, f"top-{stage}"),
                          description=f"run {run.run_id}: top {len(rows)} strategies after {stage}")


class RunProgress:
    """A progress artifact: the share of the run's stages done."""

    def __init__(self, run: RunDir, stages: tuple[str, ...] = STAGES) -> None:
        self._stages = stages
        self._run = run
        self._id = create_progress_artifact(0.0, key=_key(run, "progress"),
                                            description=f"run {run.run_id}: stages {', '.join(stages)}")

    def done(self, stage: str) -> None:
        finished = self._stages.index(stage) + 1
        update_progress_artifact(self._id, 100.0 * finished / len(self._stages),
                                 description=f"run {self._run.run_id}: {stage} done "
                                             f"({finished} of {len(self._stages)})")


def summary_markdown(manifest: dict) -> str:
    """The run's orchestration summary: stages, resilience, resources and cost."""
    stages = manifest.get("stages", {})
    resilience = manifest.get("resilience") or {}
    resources = manifest.get("resources") or {}
    lines = [f"# uce run {manifest.get('run_id')}: {manifest.get('status')}", "",
             "| stage | status | seconds | cached |", "|---|---|---:|---|"]
    for stage in STAGES:
        entry = stages.get(stage, {})
        seconds = entry.get("seconds")
        lines.append(f"| {stage} | {entry.get('status', 'not run')} | "
                     f"{'' if seconds is None else f'{seconds:.1f}'} | {'yes' if entry.get('cached') else ''} |")
    lines += ["", f"**Resilience:** {resilience.get('state', 'healthy')} — {resilience.get('failures', 0)} failures "
                  f"({resilience.get('recovered', 0)} recovered), {resilience.get('violations', 0)} safety-scope "
                  "violations"]
    for event in [e for e in resilience.get("events", []) if e.get("event") != "failure" or not e.get("recovered")]:
        what = event.get("type") or event.get("scope") or ""
        lines.append(f"- {event.get('time')}: {event.get('event')} {event.get('component', '')} {what} "
                     f"({event.get('stage')}): {event.get('message', '')}".rstrip(": "))
    if resources:
        lines += ["", f"**Resources:** {resources.get('workers')} CPUs, {resources.get('cpu_hours')} CPU-hours, "
                      f"estimated cost ${resources.get('estimated_cost_usd')} "
                      f"(estimate before the run ${resources.get('estimate_usd')}, "
                      f"${resources.get('cpu_hour_price')}/CPU-hour)"]
    return "\n".join(lines)


def publish_summary(run: RunDir) -> None:
    create_markdown_artifact(summary_markdown(run.manifest()), key=_key(run, "summary"),
                             description=f"run {run.run_id}: how it went")
