"""report.html: one self-contained page a quant reads in a minute — what was tried, what survived and
why, how the survivors behave out of sample, and where they came from.

Sections (their HTML ids are SECTION_IDS): the run at a glance, the validation funnel, the
multiple-testing figures (DSR, PBO) with a plain-language reading, fitness over generations per island,
the archive's coverage map, the Pareto front, each deployed strategy (or, when none was deployed, the
best validated candidates, said so) with its equity and drawdown on the validation / replay / live
windows against buy-and-hold, its parameters and its lineage tree; then the data (with one line on the
refresh of the market store before the run, when there was one), timings and resilience.

This module assembles the page (header, style, which strategies to show); the sections live beside it:
html_verdict.py (glance, funnel, multiple testing), html_search.py (fitness, coverage, Pareto front),
html_strategies.py (the strategy cards) and html_run_facts.py (data, timing, resilience), built from the
small pieces of html_blocks.py.

Everything is inline (CSS and SVG; no script, font or image is fetched), and the page is a pure
function of the artifacts: the same run gives the same bytes.
"""
from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from exchange.atomic import write_bytes_atomic
from tasks.report.curves import strategy_curves
from tasks.report.html_run_facts import data_section, resilience_section, timing_section
from tasks.report.html_search import coverage_section, fitness_section, pareto_section
from tasks.report.html_strategies import strategies_section
from tasks.report.html_verdict import (
    criteria_met,
    family_rows,
    funnel_section,
    multiple_testing_section,
    summary_section,
)
from tasks.report.report_json import build_report, read_artifact, report_html_path
from tasks.report.strategy_entry import strategy_entry
from tasks.run.run_dir import RunDir

__all__ = ["SECTION_IDS", "TOP_CANDIDATES", "build_report_html", "write_report_html"]

SECTION_IDS = ("summary", "funnel", "multiple-testing", "fitness", "coverage", "pareto", "strategies", "data",
               "timing", "resilience")
TOP_CANDIDATES = 3  # strategies shown when none was deployed

_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;background:#f5f6f8;color:#222;
font-size:14px;line-height:1.45}
header{background:#1f2d3d;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px;font-weight:600}
header p{margin:4px 0 0;color:#c9d3de;font-size:13px}
main{max-width:1220px;margin:0 auto;padding:14px 20px 40px}
section{background:#fff;border:1px solid #e2e5ea;border-radius:8px;padding:14px 18px;margin:14px 0}
h2{font-size:17px;margin:0 0 8px}h3{font-size:15px;margin:14px 0 6px}h4{font-size:13px;margin:8px 0 4px;color:#444}
.lead{color:#444;margin:2px 0 10px}.muted{color:#777}.small{font-size:12px}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0 8px}
.tile{flex:1 1 130px;border:1px solid #e2e5ea;border-radius:6px;padding:8px 10px;background:#fafbfc}
.tile b{display:block;font-size:20px;font-weight:600}.tile span{color:#666;font-size:12px}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600;color:#fff}
.ok{background:#2e7d32}.bad{background:#c62828}.warn{background:#ef6c00}.na{background:#9e9e9e}
.row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.panel{flex:1 1 360px;min-width:0}
table{border-collapse:collapse;font-size:12.5px;margin:4px 0 8px}
th,td{border-bottom:1px solid #eceff3;padding:3px 10px 3px 0;text-align:left;vertical-align:top}
th{color:#555;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.card{border:1px solid #e2e5ea;border-radius:8px;padding:10px 14px;margin:12px 0;background:#fcfcfd}
.reading{background:#f3f7fb;border-left:3px solid #4e79a7;padding:6px 10px;margin:6px 0}
.chip{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px;vertical-align:middle}
code{font-size:12px;background:#f0f2f5;padding:0 4px;border-radius:3px}
.scroll{overflow-x:auto}
"""


def write_report_html(run: RunDir, report: dict | None = None) -> Path:
    """Build report.html from the artifacts (and ``report``, else a fresh build_report) and write it atomically."""
    path = report_html_path(run)
    write_bytes_atomic(build_report_html(run, report).encode(), path)
    return path


def build_report_html(run: RunDir, report: dict | None = None) -> str:
    """The whole page as a string."""
    report = report if report is not None else build_report(run)
    evolved, events = read_artifact(run.evolved), read_artifact(run.events)
    validated, deployed = read_artifact(run.validated), read_artifact(run.deployed)
    shown_ids, shown_note = _shown(validated, deployed)
    shown = [strategy_entry(run, sid, evolved, validated, deployed) for sid in shown_ids]
    rows = validated[validated["strategy_id"].isin(shown_ids)] if shown_ids else pd.DataFrame()
    curves = strategy_curves(run, rows)
    evaluated = evolved[evolved["evaluated"].astype(bool)] if "evaluated" in evolved else evolved
    criteria = criteria_met(validated, report["validation"]["thresholds"], report["validation"]["gates"])
    sections = [
        summary_section(report, criteria),
        funnel_section(report, criteria, family_rows(evaluated, validated, deployed)),
        multiple_testing_section(report),
        fitness_section(events, report),
        coverage_section(evaluated),
        pareto_section(evaluated, validated, shown_ids),
        strategies_section(shown, shown_note, curves, evolved, report["deployment"]),
        data_section(report),
        timing_section(report),
        resilience_section(report),
    ]
    title = f"uce run {report['run_id']}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{_header(report)}<main>{''.join(sections)}</main></body></html>\n")


def _shown(validated: pd.DataFrame, deployed: pd.DataFrame) -> tuple[list[str], str]:
    """The strategies the page details: the deployed ones, else the best validated candidates."""
    if len(deployed):
        plural = "y" if len(deployed) == 1 else "ies"
        return [str(s) for s in deployed["strategy_id"]], f"{len(deployed)} deployed strateg{plural}, best first."
    if "overall_score" not in validated or validated.empty:
        return [], "No strategy was deployed and no candidate was validated."
    ranked = validated.assign(_score=validated["overall_score"].fillna(-np.inf)).sort_values(
        ["_score", "strategy_id"], ascending=[False, True], kind="stable")
    ids = [str(s) for s in ranked["strategy_id"].head(TOP_CANDIDATES)]
    passed = int(validated["passed"].astype(bool).sum()) if "passed" in validated else 0
    why = ("none passed validation" if passed == 0 else f"{passed} passed validation but none was deployed")
    return ids, (f"No strategy was deployed ({why}): the top {len(ids)} validated candidates by overall score are "
                 "shown instead, so you can see how close they came.")


def _header(report: dict) -> str:
    data = report["data"]
    coins = ", ".join(c["coin"] for c in data["coins"]) or "—"
    status = report["status"]
    cls = {"completed": "ok", "failed": "bad", "running": "warn"}.get(status, "na")
    started = (report["started"] or "—").replace("T", " ")
    facts = [f"started {started}", coins, f"{data['interval'] or '—'} bars", f"seed {report['seed']}",
             *(["test mode"] if report["test_mode"] else []),
             f"validation mode {report['validation']['mode'] or '—'}", f"code {report['code_version'] or '—'}"]
    return (f'<header><h1>Run {escape(report["run_id"])} <span class="badge {cls}">{escape(status)}</span></h1>'
            f"<p>{escape(' · '.join(facts))}</p><p>data: {escape(str(data['source'] or '—'))}</p></header>")
