"""report.html: one self-contained page a quant reads in a minute — what was tried, what survived and
why, how the survivors behave out of sample, and where they came from.

Sections (their HTML ids are SECTION_IDS): the run at a glance, the validation funnel, the
multiple-testing figures (DSR, PBO) with a plain-language reading, fitness over generations per island,
the archive's coverage map, the Pareto front, each deployed strategy (or, when none was deployed, the
best validated candidates, said so) with its equity and drawdown on the validation / replay / live
windows against buy-and-hold, its parameters and its lineage tree; then the data (with one line on the
refresh of the market store before the run, when there was one), timings and resilience.

Everything is inline (CSS and SVG; no script, font or image is fetched), and the page is a pure
function of the artifacts: the same run gives the same bytes.
"""
from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from exchange.atomic import write_bytes_atomic
from kernels.archive import ArchiveConfig
from tasks.report import (build_report, configuration_reading, data_refresh_reading, read_artifact, report_html_path,
                          strategy_entry)
from tasks.report_curves import CURVE_WINDOWS, Curve, CurveSet, strategy_curves
from tasks.report_lineage import OPERATOR_COLORS, lineage
from tasks.report_svg import (PALETTE, Points, Series, bar_rows, color_scale, heatmap, line_chart, scatter_chart,
                              tree_chart)
from tasks.run_dir import RunDir

__all__ = ["SECTION_IDS", "TOP_CANDIDATES", "build_report_html", "write_report_html"]

SECTION_IDS = ("summary", "funnel", "multiple-testing", "fitness", "coverage", "pareto", "strategies", "data",
               "timing", "resilience")
TOP_CANDIDATES = 3  # strategies shown when none was deployed
_MAX_SCATTER = 2000  # points per Pareto panel besides the front and the highlighted strategies
_STRATEGY_COLOR, _HOLD_COLOR, _CANDIDATE_COLOR, _FRONT_COLOR = "#d62728", "#7f7f7f", "#f28e2b", "#2ca02c"
_LONG_BIAS = ("long-short", "mixed (ensemble)", "long-only")
_GATE_NAMES = {"gate1": "gate 1 · backtest", "gate2": "gate 2 · replay", "gate3": "gate 3 · venue"}
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
    criteria = _criteria(validated, report["validation"]["thresholds"], report["validation"]["gates"])
    sections = [
        _summary(report, criteria),
        _funnel(report, criteria, _by_family(evaluated, validated, deployed)),
        _multiple_testing(report),
        _fitness(events, report),
        _coverage(evaluated),
        _pareto(evaluated, validated, shown_ids),
        _strategies(shown, shown_note, curves, evolved, report["deployment"]),
        _data(report),
        _timing(report),
        _resilience(report),
    ]
    title = f"uce run {report['run_id']}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{_header(report)}<main>{''.join(sections)}</main></body></html>\n")


# ---------------------------------------------------------------------------------------------- helpers


def _pct(x: float | None, digits: int = 1, *, sign: bool = False) -> str:
    if x is None or not np.isfinite(x):
        return "—"
    return f"{x * 100:{'+' if sign else ''}.{digits}f} %"


def _num(x: float | None, digits: int = 2) -> str:
    if x is None or isinstance(x, str):
        return "—" if x is None else escape(x)
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if not np.isfinite(x):
        return "—"
    return f"{x:,.{digits}f}" if abs(x) < 1e6 else f"{x:.3g}"


def _pct_tick(v: float) -> str:
    """A percentage tick label with a decimal only where it needs one (-2.5%, -5%)."""
    return f"{v:.0%}" if abs(v * 100 - round(v * 100)) < 1e-9 else f"{v:.1%}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _section(sid: str, title: str, body: str, lead: str = "") -> str:
    lead_html = f'<p class="lead">{lead}</p>' if lead else ""
    return f'<section id="{sid}"><h2>{escape(title)}</h2>{lead_html}{body}</section>'


def _tiles(items: list[tuple[str, str]]) -> str:
    return '<div class="tiles">' + "".join(f'<div class="tile"><b>{v}</b><span>{escape(k)}</span></div>'
                                           for k, v in items) + "</div>"


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{c}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _badge(passed: bool | None) -> str:
    if passed is None:
        return '<span class="badge na">not run</span>'
    return f'<span class="badge {"ok" if passed else "bad"}">{"passed" if passed else "failed"}</span>'


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


# ---------------------------------------------------------------------------------------------- sections


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


def _summary(report: dict, criteria: list[tuple[str | None, str, int, int]]) -> str:
    s = report["execution_summary"]
    budget = s["budget_hours"]
    tiles = _tiles([
        ("run time" + (f" (budget {budget:g} h)" if budget else ""),
         f"{_duration(s['seconds_total'])}" + (f" <small>({_pct(s['budget_used'], 1)})</small>" if budget else "")),
        ("genomes evaluated", f"{s['strategies_evaluated']:,}"),
        ("distinct strategies", f"{s['strategies_generated']:,}"),
        ("candidates validated", f"{s['candidates']:,}"),
        ("passed validation", f"{s['strategies_validated']:,}"),
        ("deployed", f"{s['strategies_deployed']:,}"),
        ("overall success rate", _pct(s["overall_success_rate"], 2)),
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
    return _section("summary", "The run at a glance", tiles + f'<p class="reading">{escape(verdict)}</p>' + errors)


def _criteria(validated: pd.DataFrame, thresholds: dict, gates: list[str]) -> list[tuple[str | None, str, int, int]]:
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


def _by_family(evaluated: pd.DataFrame, validated: pd.DataFrame, deployed: pd.DataFrame) -> list[list[str]]:
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
    return [[escape(str(f)), f"{int(tried[f]):,}", _num(float(fitness.get(f, np.nan))),
             str(int(candidates.get(f, 0))), str(int(passed.get(f, 0))), str(int(chosen.get(f, 0)))] for f in order]


def _funnel(report: dict, criteria: list[tuple[str | None, str, int, int]], families: list[list[str]]) -> str:
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
        share = f" ({_pct(count / previous, 0)} of previous)" if previous else ""
        width = np.log10(1 + count) / np.log10(1 + top) if top else 0.0
        rows.append((steps[f["step"]], float(width), f"{count:,}{share}", "#4e79a7"))
        previous = count
    chart = bar_rows(rows, width=620, max_value=1.0, label_width=150, label="validation funnel")
    rows = [[escape(_GATE_NAMES.get(gate, "overall")), escape(text), f"{met} of {n}", _pct(met / n if n else None, 0)]
            for gate, text, met, n in criteria]
    table = (_table(["gate", "criterion", "met by", "share"], rows, {2, 3}) if rows
             else '<p class="muted">No candidate reached validation.</p>')
    lead = ("Each step keeps what survived every step before it (bar lengths on a log scale). The table shows "
            "which criteria the candidates met: the rarest one is what stopped them.")
    by_family = (_table(["family", "evaluated", "best train fitness", "candidates", "passed", "deployed"], families,
                        {1, 2, 3, 4, 5}) if families else "")
    return _section("funnel", "Validation funnel",
                    f'<div class="row"><div class="panel">{chart}<h4>By family</h4>{by_family}</div>'
                    f'<div class="panel">{table}</div></div>', lead)


def dsr_reading(train: dict) -> str:
    """One plain-language line on the train window's deflated Sharpe ratio."""
    best = train["best_dsr"]
    if best is None:
        return "No deflated Sharpe ratio: no candidate has train returns."
    trials = f"{train['trials']:,}" if train["trials"] is not None else "all the"
    effective = (f", {train['effective_trials']:,.0f} of them effectively independent"
                 if train["effective_trials"] is not None else "")
    return (f"Evolution tried {trials} strategies on the train window{effective}. After allowing for all of them, "
            f"the best candidate's walk-forward train Sharpe has a {best:.0%} probability of reflecting real skill "
            f"rather than the luck of the search. This describes the search; the validation test below decides.")


def pbo_reading(pbo: float | None, splits: int | None) -> str:
    """One plain-language line on the probability of backtest overfitting."""
    if pbo is None:
        return "No PBO: it needs at least two candidates with enough train bars."
    if pbo < 0.2:
        verdict = "ranking the candidates by train performance looks reliable"
    elif pbo < 0.5:
        verdict = "some of the train ranking is selection luck"
    else:
        verdict = "the train ranking is no better than chance here: only the validation test tells them apart"
    over = f"{splits} " if splits else ""
    return (f"In {pbo:.0%} of the recombinations of the train window's {over}blocks, the candidate that looked "
            f"best in one half ranked below the median in the other: {verdict}.")


def significance_reading(test: dict, ideas: int | None) -> str:
    """One plain-language line on the validation window's multiple-testing procedure."""
    if not test["candidates"]:
        return "No significance test: no candidate produced validation returns."
    if test["skipped"]:
        return f"No significance test ({test['skipped']}): no candidate can pass gate 1 on so little data."
    window = "the validation and replay windows" if test["window"] == "validation+replay" else "the validation window"
    distinct = f" ({ideas} distinct ideas)" if ideas is not None else ""
    pvalue = f"{test['spa_pvalue']:.1%}" if test["spa_pvalue"] or not test["reps"] else f"under 1 in {test['reps']:,}"
    return (f"The {test['candidates']} candidates{distinct} were tested on {test['days']} days of {window}, which "
            f"selected none of them. Keeping the chance of even one false discovery among them at "
            f"{test['fwer']:.0%}, the best had to beat an annualised Sharpe of {test['critical_sharpe']:.2f}; "
            f"{test['significant']} stood out from cash (StepM). The chance of results like these if none of them "
            f"truly beats cash is {pvalue} (Hansen's SPA p-value).")


def _multiple_testing(report: dict) -> str:
    train, test = report["multiple_testing"]["train"], report["multiple_testing"]["validation"]
    tiles = _tiles([
        ("strategies tried (trials)", f"{train['trials']:,}" if train["trials"] is not None else "—"),
        ("effective trials", _num(train["effective_trials"], 1)),
        ("best train deflated Sharpe", _num(train["best_dsr"], 3)),
        ("train PBO", _pct(train["pbo"], 0)),
        ("distinct ideas validated", str(train["ideas"]) if train["ideas"] is not None else "—"),
        ("Sharpe to beat (validation)", _num(test["critical_sharpe"], 2)),
        ("significant candidates", f"{test['significant']} of {test['candidates']}" if test["candidates"] else "—"),
    ])
    readings = (f'<p class="reading"><b>Train.</b> {escape(dsr_reading(train))} '
                f'{escape(pbo_reading(train["pbo"], train["pbo_splits"]))}</p>'
                f'<p class="reading"><b>Validation.</b> {escape(significance_reading(test, train["ideas"]))}</p>')
    return _section("multiple-testing", "Multiple testing: is the edge real?", tiles + readings)


def _fitness(events: pd.DataFrame, report: dict) -> str:
    lead = ("Walk-forward fitness on the train window (Sharpe units): solid = best genome of the island, "
            "dashed = median.")
    if "event" not in events or not (events["event"] == "generation").any():
        return _section("fitness", "Fitness over generations", '<p class="muted">No generation events recorded.</p>',
                        lead)
    gens = events[events["event"] == "generation"].sort_values(["island", "generation"], kind="stable")
    gens = gens.drop_duplicates(["island", "generation"], keep="last")
    series = []
    for i, (island, g) in enumerate(gens.groupby("island", sort=True)):
        color = PALETTE[i % len(PALETTE)]
        x = g["generation"].to_numpy(float)
        series.append(Series(f"island {island}", x, g["best_fitness"].to_numpy(float), color))
        series.append(Series("", x, g["median_fitness"].to_numpy(float), color, dashed=True, width=1.0))
    chart = line_chart(series, width=1120, height=300, x_label="generation", y_label="fitness", x_integer=True,
                       y_format="{:g}", zero_line=True, label="fitness over generations per island")
    migrations = int((events["event"] == "migration").sum())
    champions = int((events["event"] == "champion").sum())
    perf = report["phase_performance"]
    stop = f"; {perf['stop_note'] or 'stopped early by the time budget'}" if perf["stopped_by_budget"] else ""
    note = (f'<p class="small muted">{perf["generations"]} generations on {perf["islands"]} islands; {migrations} '
            f"migration{'s' if migrations != 1 else ''}; {champions} champion events{escape(stop)}.</p>")
    return _section("fitness", "Fitness over generations", f'<div class="scroll">{chart}</div>{note}', lead)


def _coverage(evaluated: pd.DataFrame) -> str:
    lead = ("MAP-Elites behaviour grid (union of the islands' archives): each cell is a trading style; colour = best "
            "feasible fitness found there, grey = never reached. Hover a cell for details.")
    bins = ArchiveConfig().bins
    if "descriptors" not in evaluated or evaluated.empty:
        return _section("coverage", "Archive coverage map", '<p class="muted">No descriptors recorded.</p>', lead)
    d = np.clip(np.stack([np.asarray(x, float) for x in evaluated["descriptors"]]), 0.0, 1.0)
    pos = np.minimum((d * np.asarray(bins)).astype(int), np.asarray(bins) - 1)
    feasible = (evaluated["violation"].to_numpy(float) == 0) if "violation" in evaluated else np.ones(len(d), bool)
    fitness = np.where(feasible & np.isfinite(evaluated["fitness"].to_numpy(float)), evaluated["fitness"], np.nan)
    families = evaluated["family"].to_numpy(str)
    best = np.full((bins[2], bins[1], bins[0]), np.nan)
    count = np.zeros((bins[2], bins[1], bins[0]), int)
    best_family = np.full((bins[2], bins[1], bins[0]), "", dtype=object)
    for (f, h, b), fit, fam in zip(pos, fitness, families):
        count[b, h, f] += 1
        if np.isfinite(fit) and not fit <= best[b, h, f]:
            best[b, h, f], best_family[b, h, f] = fit, fam
    filled = np.isfinite(best)
    vmin, vmax = (float(np.nanpercentile(best, 5)), float(np.nanmax(best))) if filled.any() else (0.0, 1.0)
    x_ticks = ["rare"] + [""] * (bins[0] - 2) + ["often"]
    y_ticks = ["short"] + [""] * (bins[1] - 2) + ["long"]
    panels = []
    for b in range(bins[2]):
        tips = [[(f"trade frequency bin {f + 1}/{bins[0]}, holding time bin {h + 1}/{bins[1]}, {_LONG_BIAS[b]}: "
                  f"{count[b, h, f]} genomes" + (f"; best fitness {best[b, h, f]:.2f} ({best_family[b, h, f]})"
                                                   if np.isfinite(best[b, h, f]) else "; no feasible genome"))
                 for f in range(bins[0])] for h in range(bins[1])]
        panels.append(heatmap(best[b], tips, vmin=vmin, vmax=vmax, x_ticks=x_ticks, y_ticks=y_ticks,
                              x_label="trade frequency →", y_label="holding time →",
                              title=f"{_LONG_BIAS[b]} ({int(filled[b].sum())} of {bins[0] * bins[1]} cells)",
                              label=f"coverage map {_LONG_BIAS[b]}"))
    scale = ("<div class=\"small muted\">fitness "
             + "".join(f'<span class="chip" style="background:{color_scale(t)};margin-left:2px"></span>'
                       for t in np.linspace(0, 1, 9))
             + f" &nbsp;{vmin:.2f} → {vmax:.2f}</div>")
    total = bins[0] * bins[1] * bins[2]
    summary = (f'<p class="small">{int(filled.sum())} of {total} cells hold a feasible strategy '
               f"({_pct(filled.sum() / total, 0)} coverage).</p>")
    return _section("coverage", "Archive coverage map",
                    '<div class="row">' + "".join(f'<div>{p}</div>' for p in panels) + f"</div>{scale}{summary}", lead)


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both lower x and higher y, by increasing x."""
    order = np.lexsort((-y, x))
    front, best = [], -np.inf
    for i in order:
        if y[i] > best:
            front.append(i)
            best = y[i]
    return np.array(front, dtype=int)


def _subsample(n: int, keep: int) -> np.ndarray:
    """At most ``keep`` evenly spaced indices of range(n) (deterministic)."""
    return np.arange(n) if n <= keep else np.unique(np.linspace(0, n - 1, keep).round().astype(int))


def _pareto(evaluated: pd.DataFrame, validated: pd.DataFrame, shown_ids: list[str]) -> str:
    lead = ("Every feasible evaluated genome: train fitness against the risk it took. The green line is the Pareto "
            "front (no other genome is both fitter and less risky); orange rings are the validated candidates, red "
            "dots the strategies detailed below.")
    needed = {"fitness", "max_drawdown", "turnover", "strategy_id"}
    if not needed <= set(evaluated.columns) or evaluated.empty:
        return _section("pareto", "Pareto front", '<p class="muted">No evaluated genomes.</p>', lead)
    ok = np.isfinite(evaluated[["fitness", "max_drawdown", "turnover"]].to_numpy(float)).all(axis=1)
    if "violation" in evaluated:
        ok &= evaluated["violation"].to_numpy(float) == 0
    pts = evaluated[ok].sort_values("uid" if "uid" in evaluated else "strategy_id", kind="stable")
    pts = pts.drop_duplicates("strategy_id")
    if pts.empty:
        return _section("pareto", "Pareto front", '<p class="muted">No feasible genome.</p>', lead)
    fit = pts["fitness"].to_numpy(float)
    y_lo = float(np.percentile(fit, 5))
    y_range = (y_lo - 0.05 * (fit.max() - y_lo), fit.max() + 0.06 * (fit.max() - y_lo or 1.0))
    candidates = set(validated["strategy_id"]) if "strategy_id" in validated else set()
    panels = []
    for column, label, log in (("max_drawdown", "max drawdown on train folds", False),
                               ("turnover", "turnover (× equity per year, log scale)", True)):
        x = pts[column].to_numpy(float)
        x = np.log10(np.maximum(x, 1e-3)) if log else x
        front = pareto_front(x, fit)
        tips = tuple(f"{r.family} · fitness {r.fitness:.2f} · max DD {r.max_drawdown:.1%} · turnover "
                     f"{r.turnover:.0f}/y · {r.strategy_id}" for r in pts.itertuples())
        ids = pts["strategy_id"].to_numpy(str)
        others = np.setdiff1d(_subsample(len(pts), _MAX_SCATTER), front)
        groups = [Points("evaluated", x[others], fit[others], "#4e79a7", 2.2, 0.35, tuple(tips[i] for i in others)),
                  Points("Pareto front", x[front], fit[front], _FRONT_COLOR, 3.2, 0.9, tuple(tips[i] for i in front))]
        cand = np.flatnonzero(np.isin(ids, list(candidates)))
        groups.append(Points("candidates", x[cand], fit[cand], _CANDIDATE_COLOR, 4.5, 1.0,
                             tuple(tips[i] for i in cand), outline=True))
        sel = np.flatnonzero(np.isin(ids, shown_ids))
        groups.append(Points("detailed below", x[sel], fit[sel], _STRATEGY_COLOR, 5.0, 0.95,
                             tuple(tips[i] for i in sel)))
        x_hi = float(np.percentile(x, 99)) if not log else float(x.max())
        x_lo = 0.0 if not log else float(x.min())
        pad = 0.04 * ((x_hi - x_lo) or 1.0)
        x_format = (lambda v: f"{10 ** v:g}") if log else _pct_tick
        panels.append(scatter_chart(groups, width=560, height=320, x_label=label, y_label="train fitness",
                                    x_format=x_format, x_range=(x_lo - pad, x_hi + pad), y_range=y_range,
                                    front=Series("", x[front], fit[front], _FRONT_COLOR, width=1.2),
                                    label=f"Pareto front: fitness vs {column}"))
    below = int((fit < y_range[0]).sum())
    note = (f'<p class="small muted">{len(pts):,} feasible strategies ({below} below the lower edge are pinned to '
            f"it).</p>")
    return _section("pareto", "Pareto front",
                    '<div class="row">' + "".join(f'<div class="panel">{p}</div>' for p in panels) + "</div>" + note,
                    lead)


def _window_panel(curve: Curve) -> str:
    dd, hold_dd = Curve.drawdown(curve.equity), Curve.drawdown(curve.hold)
    equity = line_chart([Series("buy & hold", curve.times, curve.hold, _HOLD_COLOR, dashed=True, width=1.2),
                         Series("strategy", curve.times, curve.equity, _STRATEGY_COLOR)],
                        width=370, height=170, x_time=True, y_format=lambda v: f"{v:.3g}",
                        label=f"equity on the {curve.window} window")
    drawdown = line_chart([Series("buy & hold", curve.times, hold_dd, _HOLD_COLOR, width=1.0),
                           Series("strategy", curve.times, dd, _STRATEGY_COLOR)], width=370, height=120,
                          x_time=True, y_format=_pct_tick, fill=True, legend=False,
                          label=f"drawdown on the {curve.window} window")
    stats = (f'<div class="small">return <b>{_pct(curve.equity[-1] - 1, 1, sign=True)}</b> (buy & hold '
             f"{_pct(curve.hold[-1] - 1, 1, sign=True)}) · max drawdown <b>{_pct(-dd.min(), 1)}</b> "
             f"(buy & hold {_pct(-hold_dd.min(), 1)})</div>")
    return f'<div class="panel"><h4>{escape(curve.window)} window</h4>{equity}{drawdown}{stats}</div>'


def _params_table(entry: dict) -> str:
    rows = []
    for member in entry["members"]:
        for name, value in member["params"].items():
            if name in ("stop_loss", "take_profit"):
                text = "off" if not value else _pct(value, 2)
            elif name == "long_short":
                text = "long-short" if value else "long-only"
            elif isinstance(value, float):
                text = f"{value:.4g}"
            else:
                text = escape(str(value))
            rows.append([escape(member["family"]), escape(name), text])
    return _table(["member", "parameter", "value"], rows, {2}) if rows else '<p class="muted">No parameters.</p>'


_GATE_METRICS = {"gate1": ("sharpe", "significant", "significance_sharpe", "max_drawdown", "win_rate", "trades",
                           "total_return", "exposure"),
                 "gate2": ("sharpe", "total_return", "max_drawdown", "trades", "trades_match"),
                 "gate3": ("performance", "execution", "return", "expected_return")}
_PCT_METRICS = {"max_drawdown", "win_rate", "total_return", "exposure", "return", "expected_return", "cagr"}


def _gates_table(entry: dict) -> str:
    rows = [["train (walk-forward)", "fitness " + _num(entry["fitness"]), "Sharpe " + _num(entry["train"]["sharpe"])
             + " · max DD " + _pct(entry["train"]["max_drawdown"]), ""]]
    for gate, g in entry["gates"].items():
        shown = [k for k in _GATE_METRICS.get(gate, ()) if k in g["metrics"]]
        values = " · ".join(f"{k.replace('_', ' ')} " + (_pct(g["metrics"][k]) if k in _PCT_METRICS
                                                        else _num(g["metrics"][k], 0 if k == "trades" else 2))
                            for k in shown)
        rows.append([escape(_GATE_NAMES[gate]), _badge(g["passed"]) + f" score {_num(g['score'])}", values,
                     escape(g["reasons"])])
    rows.append(["overall", _badge(entry["passed"]) + f" score {_num(entry['overall_score'])}", "",
                 escape(entry["reasons"])])
    return _table(["stage", "verdict", "measured", "reasons"], rows)


def _lineage_block(evolved: pd.DataFrame, entry: dict) -> str:
    tree = lineage(evolved, entry["lineage"]["uid"])
    if not tree.nodes:
        return '<p class="muted">No lineage recorded.</p>'
    chart = tree_chart(tree.nodes, column_labels=tree.column_labels, label=f"lineage of {entry['strategy_id']}")
    legend = "".join(f'<span class="chip" style="background:{c};opacity:.6"></span>{escape(op)}'
                     for op, c in OPERATOR_COLORS.items())
    ops = ", ".join(f"{op} {n}" for op, n in tree.operators.items())
    first, last = tree.generations
    text = (f"{tree.ancestors} ancestor{'s' if tree.ancestors != 1 else ''} over generations {first}–{last} "
            f"(operators along the line, the strategy's own included: {ops}); descends from initial "
            f"{', '.join(tree.root_families) or '—'}. "
            f"Nearest {len(tree.nodes) - 1} shown; boxes read family and train fitness, the red one is the strategy.")
    return (f'<div class="scroll">{chart}</div><div class="small">{legend}</div>'
            f'<p class="small muted">{escape(text)}</p>')


def _strategy_card(rank: int, entry: dict, curves: list[Curve], evolved: pd.DataFrame) -> str:
    family = entry["family"] if len(entry["members"]) < 2 else " + ".join(m["family"] for m in entry["members"])
    alloc = f" · allocation {_pct(entry['allocation'], 1)}" if entry["allocation"] is not None else ""
    if entry["capital"] is not None:
        alloc += f" (${entry['capital']:,.0f})"
    title = (f"#{rank} {escape(str(family))} on {escape(str(entry['coin']))} · <code>{escape(entry['strategy_id'])}"
             f"</code> · overall score {_num(entry['overall_score'])} {_badge(entry['passed'])}{alloc}")
    panels = "".join(_window_panel(c) for c in curves) or '<p class="muted">No curves could be computed.</p>'
    missing = [w for w in CURVE_WINDOWS if w not in {c.window for c in curves}]
    gap = f'<p class="small muted">No bars for: {", ".join(missing)}.</p>' if curves and missing else ""
    return (f'<div class="card"><h3>{title}</h3>'
            f'<div class="row">{panels}</div>{gap}'
            f'<div class="row"><div class="panel"><h4>Parameters</h4>{_params_table(entry)}</div>'
            f'<div class="panel" style="flex:2 1 520px"><h4>Validation</h4>{_gates_table(entry)}</div></div>'
            f"<h4>Lineage</h4>{_lineage_block(evolved, entry)}</div>")


def _strategies(shown: list[dict], note: str, curves: CurveSet, evolved: pd.DataFrame, deployment: dict) -> str:
    lead = escape(note)
    if deployment.get("pool"):
        lead += (f' <br><span class="small">Deployment: {deployment.get("eligible", "—")} eligible, pool of '
                 f'{deployment.get("pool_size", "—")} ({escape(str(deployment["pool"]))}), '
                 f'{deployment.get("chosen", "—")} chosen, {deployment.get("newly_registered", "—")} newly '
                 "registered with the paper trader.</span>")
    if curves.note:
        lead += f' <span class="small muted">({escape(curves.note)})</span>'
    lead += (' <br><span class="small muted">Equity from 1.0 on each out-of-sample window, traded on its own from flat '
             "with fees, slippage and funding; buy & hold (dashed grey) without costs. Live = the most recent "
             "window, replayed offline by the kernel.</span>")
    cards = "".join(_strategy_card(i + 1, e, curves.curves.get(e["strategy_id"], []), evolved)
                    for i, e in enumerate(shown))
    return _section("strategies", "Strategies", cards or '<p class="muted">Nothing to show.</p>', lead)


def _timeline(windows: list[dict]) -> str:
    days = [w["days"] or 0.0 for w in windows]
    total = sum(days) or 1.0
    colors = {"train": "#bab0ac", "validation": "#4e79a7", "replay": "#f28e2b", "live": "#e15759"}
    x, parts = 0.0, []
    for w, d in zip(windows, days):
        width = d / total * 1000
        tip = f"{w['name']}: {w['start']} → {w['end']}"
        parts.append(f'<rect x="{x:.1f}" y="0" width="{max(width, 1.0):.1f}" height="22" fill="{colors[w["name"]]}">'
                     f"<title>{escape(tip)}</title></rect>")
        if width > 36:
            parts.append(f'<text x="{x + width / 2:.1f}" y="15" text-anchor="middle" font-size="11" fill="#fff">'
                         f"{escape(w['name'])}</text>")
        x += width
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 22" width="100%" height="22" '
            f'preserveAspectRatio="none" role="img" aria-label="data windows" font-family="sans-serif">'
            f"{''.join(parts)}</svg>")


def _data(report: dict) -> str:
    d = report["data"]
    info = _table(["", ""], [["source", escape(str(d["source"]))], ["interval", escape(str(d["interval"]))],
                             ["funding", escape(str(d["funding"]))],
                             ["fingerprint", f"<code>{escape(str(d['fingerprint']))}</code>"],
                             ["window sizing", escape(str(d["window_sizing"]))]])
    coins = _table(["coin", "bars", "first bar", "last bar", "gaps", "funding observed"],
                   [[escape(c["coin"]), f"{c['bars']:,}" if c["bars"] is not None else "—", escape(str(c["first"])),
                     escape(str(c["last"])), str(c["gaps"]), _pct(c["funding_observed_share"], 0)] for c in d["coins"]],
                   {1, 4, 5})
    windows = _table(["window", "start", "end (exclusive)", "days"],
                     [[escape(w["name"]), escape(str(w["start"])), escape(str(w["end"])), _num(w["days"], 2)]
                      for w in d["windows"]], {3})
    timeline = _timeline(d["windows"]) if d["windows"] else ""
    refresh = data_refresh_reading(report.get("data_refresh"))  # absent in reports before version 4
    fresh = f'<p class="reading">{escape(refresh)}</p>' if refresh else ""
    settings = configuration_reading(report.get("configuration"))  # absent in reports before version 4
    fresh += f'<p class="reading">{escape(settings)}</p>' if settings else ""
    return _section("data", "Data", f"{fresh}{info}{coins}<h4>Windows (oldest to newest)</h4>{timeline}{windows}",
                    "No stage scores a strategy on a window an earlier stage selected it on.")


def _timing(report: dict) -> str:
    seconds = report["stage_seconds"]
    top = max((v for v in seconds.values() if v), default=1.0)
    rows = [(stage, float(v or 0.0), f"{_duration(v)} · {report['stage_status'][stage]}", "#76b7b2")
            for stage, v in seconds.items()]
    chart = bar_rows(rows, width=560, max_value=top, label_width=110, label="stage timing")
    p, r = report["phase_performance"], report["resources"]
    perf = _table(["", ""], [
        ["evaluations per minute", _num(p["evaluations_per_minute"], 0)],
        ["validation success rate", _pct(p["validation_success_rate"])],
        ["deployment success rate", _pct(p["deployment_success_rate"])],
        ["archive coverage (mean per island)", _pct(p["archive_coverage"])],
        ["workers", str(r["workers"]) if r["workers"] is not None else "— (all CPUs of the machine)"],
        ["Ray", escape(r["ray_address"] or "embedded")],
        ["CPU-hours", _num(r["cpu_hours"], 3)],
        ["estimated cost", f"${r['estimated_cost_usd']:.2f}" if r["estimated_cost_usd"] is not None else "—"],
    ], {1})
    return _section("timing", "Timing and resources",
                    f'<div class="row"><div class="panel">{chart}</div><div class="panel">{perf}</div></div>')


def _resilience(report: dict) -> str:
    res = report["resilience"]
    events = res["events"]
    if events:
        keys = sorted({k for e in events for k in e})
        body = _table(keys, [[escape(str(e.get(k, ""))) for k in keys] for e in events])
    else:
        body = '<p class="muted">The run recorded no resilience events (retries, timeouts, circuit breakers).</p>'
    if res["summary"]:
        body += _table(["", ""], [[escape(k), escape(str(v))] for k, v in sorted(res["summary"].items())])
    return _section("resilience", "Resilience", body)
