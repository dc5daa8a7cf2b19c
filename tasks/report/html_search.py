"""The search sections of report.html: fitness over generations per island, the MAP-Elites archive's coverage
map and the Pareto front of train fitness against risk (max drawdown as a fraction, turnover as × equity per
year)."""
from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from kernels.archive import ArchiveConfig
from tasks.report.html_blocks import STRATEGY_COLOR, pct, pct_tick, section_html
from tasks.report.svg import PALETTE, Points, Series, color_scale, heatmap, line_chart, scatter_chart

__all__ = ["coverage_section", "fitness_section", "pareto_front", "pareto_section"]

_MAX_SCATTER = 2000  # points per Pareto panel besides the front and the highlighted strategies
_CANDIDATE_COLOR, _FRONT_COLOR = "#f28e2b", "#2ca02c"
_LONG_BIAS = ("long-short", "mixed (ensemble)", "long-only")


def fitness_section(events: pd.DataFrame, report: dict) -> str:
    lead = ("Walk-forward fitness on the train window (Sharpe units): solid = best genome of the island, "
            "dashed = median.")
    if "event" not in events or not (events["event"] == "generation").any():
        return section_html("fitness", "Fitness over generations",
                            '<p class="muted">No generation events recorded.</p>', lead)
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
    return section_html("fitness", "Fitness over generations", f'<div class="scroll">{chart}</div>{note}', lead)


def coverage_section(evaluated: pd.DataFrame) -> str:
    lead = ("MAP-Elites behaviour grid (union of the islands' archives): each cell is a trading style; colour = best "
            "feasible fitness found there, grey = never reached. Hover a cell for details.")
    bins = ArchiveConfig().bins
    if "descriptors" not in evaluated or evaluated.empty:
        return section_html("coverage", "Archive coverage map", '<p class="muted">No descriptors recorded.</p>', lead)
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
               f"({pct(filled.sum() / total, 0)} coverage).</p>")
    return section_html("coverage", "Archive coverage map",
                        '<div class="row">' + "".join(f'<div>{p}</div>' for p in panels)
                        + f"</div>{scale}{summary}", lead)


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


def pareto_section(evaluated: pd.DataFrame, validated: pd.DataFrame, shown_ids: list[str]) -> str:
    lead = ("Every feasible evaluated genome: train fitness against the risk it took. The green line is the Pareto "
            "front (no other genome is both fitter and less risky); orange rings are the validated candidates, red "
            "dots the strategies detailed below.")
    needed = {"fitness", "max_drawdown", "turnover", "strategy_id"}
    if not needed <= set(evaluated.columns) or evaluated.empty:
        return section_html("pareto", "Pareto front", '<p class="muted">No evaluated genomes.</p>', lead)
    ok = np.isfinite(evaluated[["fitness", "max_drawdown", "turnover"]].to_numpy(float)).all(axis=1)
    if "violation" in evaluated:
        ok &= evaluated["violation"].to_numpy(float) == 0
    pts = evaluated[ok].sort_values("uid" if "uid" in evaluated else "strategy_id", kind="stable")
    pts = pts.drop_duplicates("strategy_id")
    if pts.empty:
        return section_html("pareto", "Pareto front", '<p class="muted">No feasible genome.</p>', lead)
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
        groups.append(Points("detailed below", x[sel], fit[sel], STRATEGY_COLOR, 5.0, 0.95,
                             tuple(tips[i] for i in sel)))
        x_hi = float(np.percentile(x, 99)) if not log else float(x.max())
        x_lo = 0.0 if not log else float(x.min())
        pad = 0.04 * ((x_hi - x_lo) or 1.0)
        x_format = (lambda v: f"{10 ** v:g}") if log else pct_tick
        panels.append(scatter_chart(groups, width=560, height=320, x_label=label, y_label="train fitness",
                                    x_format=x_format, x_range=(x_lo - pad, x_hi + pad), y_range=y_range,
                                    front=Series("", x[front], fit[front], _FRONT_COLOR, width=1.2),
                                    label=f"Pareto front: fitness vs {column}"))
    below = int((fit < y_range[0]).sum())
    note = (f'<p class="small muted">{len(pts):,} feasible strategies ({below} below the lower edge are pinned to '
            f"it).</p>")
    return section_html("pareto", "Pareto front",
                        '<div class="row">' + "".join(f'<div class="panel">{p}</div>' for p in panels) + "</div>"
                        + note, lead)
