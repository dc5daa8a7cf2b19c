"""The strategies section of report.html: one card per strategy shown, with its equity and drawdown on each
out-of-sample window against buy-and-hold, its parameters, its verdict at each gate and its lineage tree.
Returns, drawdowns and allocations are printed as percentages of fractions (0.25 → 25 %)."""
from __future__ import annotations

from html import escape

import pandas as pd

from tasks.report.curves import CURVE_WINDOWS, Curve, CurveSet
from tasks.report.html_blocks import (
    GATE_NAMES,
    STRATEGY_COLOR,
    badge_html,
    num,
    pct,
    pct_tick,
    section_html,
    table_html,
)
from tasks.report.lineage_tree import OPERATOR_COLORS, lineage
from tasks.report.svg import Series, line_chart, tree_chart

__all__ = ["strategies_section"]

_HOLD_COLOR = "#7f7f7f"
_GATE_METRICS = {"gate1": ("sharpe", "significant", "significance_sharpe", "max_drawdown", "win_rate", "trades",
                           "total_return", "exposure"),
                 "gate2": ("sharpe", "total_return", "max_drawdown", "trades", "trades_match"),
                 "gate3": ("performance", "execution", "return", "expected_return")}
_PCT_METRICS = {"max_drawdown", "win_rate", "total_return", "exposure", "return", "expected_return", "cagr"}


def _window_panel(curve: Curve) -> str:
    dd, hold_dd = Curve.drawdown(curve.equity), Curve.drawdown(curve.hold)
    equity = line_chart([Series("buy & hold", curve.times, curve.hold, _HOLD_COLOR, dashed=True, width=1.2),
                         Series("strategy", curve.times, curve.equity, STRATEGY_COLOR)],
                        width=370, height=170, x_time=True, y_format=lambda v: f"{v:.3g}",
                        label=f"equity on the {curve.window} window")
    drawdown = line_chart([Series("buy & hold", curve.times, hold_dd, _HOLD_COLOR, width=1.0),
                           Series("strategy", curve.times, dd, STRATEGY_COLOR)], width=370, height=120,
                          x_time=True, y_format=pct_tick, fill=True, legend=False,
                          label=f"drawdown on the {curve.window} window")
    stats = (f'<div class="small">return <b>{pct(curve.equity[-1] - 1, 1, sign=True)}</b> (buy & hold '
             f"{pct(curve.hold[-1] - 1, 1, sign=True)}) · max drawdown <b>{pct(-dd.min(), 1)}</b> "
             f"(buy & hold {pct(-hold_dd.min(), 1)})</div>")
    return f'<div class="panel"><h4>{escape(curve.window)} window</h4>{equity}{drawdown}{stats}</div>'


def _params_table(entry: dict) -> str:
    rows = []
    for member in entry["members"]:
        for name, value in member["params"].items():
            if name in ("stop_loss", "take_profit"):
                text = "off" if not value else pct(value, 2)
            elif name == "long_short":
                text = "long-short" if value else "long-only"
            elif isinstance(value, float):
                text = f"{value:.4g}"
            else:
                text = escape(str(value))
            rows.append([escape(member["family"]), escape(name), text])
    return table_html(["member", "parameter", "value"], rows, {2}) if rows else '<p class="muted">No parameters.</p>'


def _gates_table(entry: dict) -> str:
    rows = [["train (walk-forward)", "fitness " + num(entry["fitness"]), "Sharpe " + num(entry["train"]["sharpe"])
             + " · max DD " + pct(entry["train"]["max_drawdown"]), ""]]
    for gate, g in entry["gates"].items():
        shown = [k for k in _GATE_METRICS.get(gate, ()) if k in g["metrics"]]
        values = " · ".join(f"{k.replace('_', ' ')} " + (pct(g["metrics"][k]) if k in _PCT_METRICS
                                                        else num(g["metrics"][k], 0 if k == "trades" else 2))
                            for k in shown)
        rows.append([escape(GATE_NAMES[gate]), badge_html(g["passed"]) + f" score {num(g['score'])}", values,
                     escape(g["reasons"])])
    rows.append(["overall", badge_html(entry["passed"]) + f" score {num(entry['overall_score'])}", "",
                 escape(entry["reasons"])])
    return table_html(["stage", "verdict", "measured", "reasons"], rows)


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
    alloc = f" · allocation {pct(entry['allocation'], 1)}" if entry["allocation"] is not None else ""
    if entry["capital"] is not None:
        alloc += f" (${entry['capital']:,.0f})"
    title = (f"#{rank} {escape(str(family))} on {escape(str(entry['coin']))} · <code>{escape(entry['strategy_id'])}"
             f"</code> · overall score {num(entry['overall_score'])} {badge_html(entry['passed'])}{alloc}")
    panels = "".join(_window_panel(c) for c in curves) or '<p class="muted">No curves could be computed.</p>'
    missing = [w for w in CURVE_WINDOWS if w not in {c.window for c in curves}]
    gap = f'<p class="small muted">No bars for: {", ".join(missing)}.</p>' if curves and missing else ""
    return (f'<div class="card"><h3>{title}</h3>'
            f'<div class="row">{panels}</div>{gap}'
            f'<div class="row"><div class="panel"><h4>Parameters</h4>{_params_table(entry)}</div>'
            f'<div class="panel" style="flex:2 1 520px"><h4>Validation</h4>{_gates_table(entry)}</div></div>'
            f"<h4>Lineage</h4>{_lineage_block(evolved, entry)}</div>")


def strategies_section(shown: list[dict], note: str, curves: CurveSet, evolved: pd.DataFrame, deployment: dict) -> str:
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
    return section_html("strategies", "Strategies", cards or '<p class="muted">Nothing to show.</p>', lead)
