"""The verdict sections of report.html: the run at a glance, the validation funnel (with the criteria the
candidates met and the outcome by family) and the multiple-testing figures with their plain-language readings.
Shares are printed as percentages of fractions (0.25 → 25 %)."""
from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from tasks.report.html_blocks import GATE_NAMES, duration, num, pct, section_html, table_html, tiles_html
from tasks.report.readings import dsr_reading, pbo_reading, significance_reading
from tasks.report.svg import bar_rows

__all__ = ["criteria_met", "family_rows", "funnel_section", "multiple_testing_section", "summary_section"]

# Criteria shown in the funnel: (gate, label, column, comparison, threshold key in the validation parameters).
_CRITERIA = (
    ("gate1", "Sharpe ≥ {}", "gate1_sharpe", ">=", "min_sharpe"),
    ("gate1", "max drawdown ≤ {:.0%}", "gate1_max_drawdown", "<=", "max_drawdown"),
    ("gate1", "win rate ≥ {:.0%}", "gate1_win_rate", ">=", "min_win_rate"),
    ("gate1", "trades ≥ {}", "gate1_trades", ">=", "min_trades"),
    ("gate1", "significant at {:.0%} family-wise", "gate1_significant", "true", "fwer"),
    ("gate1", "no look-ahead", "gate1_lookahead_leaks", "==0", None),
    ("gate2", "replay trades = kernel trades", "gate2_trades_match", "true", None),
    ("gate2", "replay Sharpe ≥ {}", "gate2_sharpe", ">=", "min_replay_sharpe"),
    ("gate3", "venue performance ≥ {}", "gate3_performance", ">=", "min_venue_performance"),
    (None, "overall score ≥ {}", "overall_score", ">=", "min_score"),
)


def summary_section(report: dict, criteria: list[tuple[str | None, str, int, int]]) -> str:
    s = report["execution_summary"]
    budget = s["budget_hours"]
    tiles = tiles_html([
        ("run time" + (f" (budget {budget:g} h)" if budget else ""),
         f"{duration(s['seconds_total'])}" + (f" <small>({pct(s['budget_used'], 1)})</small>" if budget else "")),
        ("genomes evaluated", f"{s['strategies_evaluated']:,}"),
        ("distinct strategies", f"{s['strategies_generated']:,}"),
        ("candidates validated", f"{s['candidates']:,}"),
        ("passed validation", f"{s['strategies_validated']:,}"),
        ("deployed", f"{s['strategies_deployed']:,}"),
        ("overall success rate", pct(s["overall_success_rate"], 2)),
    ])
    mt = report["multiple_testing"]
    verdict = (f"Of {s['strategies_generated']:,} distinct strategies tried, {s['candidates']} reached validation, "
               f"{s['strategies_validated']} passed it and {s['strategies_deployed']} "
               f"{'was' if s['strategies_deployed'] == 1 else 'were'} deployed.")
    gate_criteria = [c for c in criteria if c[0] is not None and c[3]]
    hardest = min(gate_criteria, key=lambda c: c[2] / c[3], default=None)
    if hardest is not None and hardest[2] < hardest[3]:
        _, text, met, n = hardest
        verdict += f" The hardest criterion was {text}: met by {met} of {n} candidates."
    if mt["train"]["ideas"] is not None:
        verdict += f" The candidates held {mt['train']['ideas']} distinct ideas."
    errors = "".join(f'<p><span class="badge bad">{escape(stage)} failed</span> {escape(err)}</p>'
                     for stage, err in sorted(report["stage_errors"].items()))
    return section_html("summary", "The run at a glance", tiles + f'<p class="reading">{escape(verdict)}</p>' + errors)


def criteria_met(validated: pd.DataFrame, thresholds: dict, gates: list[str]) -> list[tuple[str | None, str, int, int]]:
    """(gate, criterion, candidates meeting it, candidates) for each criterion of the gates performed."""
    out = []
    n = len(validated)
    for gate, label, column, op, key in _CRITERIA:
        if (gate is not None and gate not in gates) or column not in validated or (key and key not in thresholds):
            continue
        values = validated[column]
        if op == "true":
            met = values.astype(bool).to_numpy()
        elif op == "==0":
            met = (values.fillna(1) == 0).to_numpy()
        else:
            v, t = values.to_numpy(float), float(thresholds[key])
            met = np.isfinite(v) & ((v >= t) if op == ">=" else (v <= t))
        out.append((gate, label.format(thresholds[key]) if key else label, int(met.sum()), n))
    return out


def family_rows(evaluated: pd.DataFrame, validated: pd.DataFrame, deployed: pd.DataFrame) -> list[list[str]]:
    """Rows (family, evaluated, best train fitness, candidates, passed, deployed), most tried first; an
    ensemble counts under its first member's family."""
    if "family" not in evaluated or evaluated.empty:
        return []
    fitness = evaluated.groupby("family")["fitness"].max() if "fitness" in evaluated else pd.Series(dtype=float)
    tried = evaluated["family"].value_counts()
    candidates = validated["family"].value_counts() if "family" in validated else pd.Series(dtype=int)
    passed = (validated.loc[validated["passed"].astype(bool), "family"].value_counts()
              if {"family", "passed"} <= set(validated.columns) else pd.Series(dtype=int))
    chosen = deployed["family"].value_counts() if "family" in deployed else pd.Series(dtype=int)
    order = sorted(tried.index, key=lambda f: (-int(tried[f]), str(f)))
    return [[escape(str(f)), f"{int(tried[f]):,}", num(float(fitness.get(f, np.nan))),
             str(int(candidates.get(f, 0))), str(int(passed.get(f, 0))), str(int(chosen.get(f, 0)))] for f in order]


def funnel_section(report: dict, criteria: list[tuple[str | None, str, int, int]], families: list[list[str]]) -> str:
    v = report["validation"]
    steps = {"evaluated": "genomes evaluated", "candidates": "candidates", "gate1": "gate 1 · backtest",
             "gate2": "gate 2 · replay", "gate3": "gate 3 · venue", "validated": "passed validation",
             "deployed": "deployed"}
    top = max((f["count"] or 0 for f in v["funnel"]), default=1)
    rows, previous = [], None
    for f in v["funnel"]:
        count = f["count"]
        if count is None:
            rows.append((steps[f["step"]], 0.0, f"not run in {v['mode']} mode", "#d5d8dc"))
            continue
        share = f" ({pct(count / previous, 0)} of previous)" if previous else ""
        width = np.log10(1 + count) / np.log10(1 + top) if top else 0.0
        rows.append((steps[f["step"]], float(width), f"{count:,}{share}", "#4e79a7"))
        previous = count
    chart = bar_rows(rows, width=620, max_value=1.0, label_width=150, label="validation funnel")
    rows = [[escape(GATE_NAMES.get(gate, "overall")), escape(text), f"{met} of {n}", pct(met / n if n else None, 0)]
            for gate, text, met, n in criteria]
    table = (table_html(["gate", "criterion", "met by", "share"], rows, {2, 3}) if rows
             else '<p class="muted">No candidate reached validation.</p>')
    lead = ("Each step keeps what survived every step before it (bar lengths on a log scale). The table shows "
            "which criteria the candidates met: the rarest one is what stopped them.")
    by_family = (table_html(["family", "evaluated", "best train fitness", "candidates", "passed", "deployed"], families,
                            {1, 2, 3, 4, 5}) if families else "")
    return section_html("funnel", "Validation funnel",
                        f'<div class="row"><div class="panel">{chart}<h4>By family</h4>{by_family}</div>'
                        f'<div class="panel">{table}</div></div>', lead)


def multiple_testing_section(report: dict) -> str:
    train, test = report["multiple_testing"]["train"], report["multiple_testing"]["validation"]
    tiles = tiles_html([
        ("strategies tried (trials)", f"{train['trials']:,}" if train["trials"] is not None else "—"),
        ("effective trials", num(train["effective_trials"], 1)),
        ("best train deflated Sharpe", num(train["best_dsr"], 3)),
        ("train PBO", pct(train["pbo"], 0)),
        ("distinct ideas validated", str(train["ideas"]) if train["ideas"] is not None else "—"),
        ("Sharpe to beat (validation)", num(test["critical_sharpe"], 2)),
        ("significant candidates", f"{test['significant']} of {test['candidates']}" if test["candidates"] else "—"),
    ])
    readings = (f'<p class="reading"><b>Train.</b> {escape(dsr_reading(train))} '
                f'{escape(pbo_reading(train["pbo"], train["pbo_splits"]))}</p>'
                f'<p class="reading"><b>Validation.</b> {escape(significance_reading(test, train["ideas"]))}</p>')
    return section_html("multiple-testing", "Multiple testing: is the edge real?", tiles + readings)
