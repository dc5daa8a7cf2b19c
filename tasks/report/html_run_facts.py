"""The run's facts in report.html: the data it saw (with the readings of the refresh before the run and of its
settings) and its windows, the time and resources each stage took, and the resilience events it recorded.
Shares are printed as percentages of fractions (0.25 → 25 %)."""
from __future__ import annotations

from html import escape

from tasks.report.html_blocks import duration, num, pct, section_html, table_html
from tasks.report.readings import configuration_reading, data_refresh_reading
from tasks.report.svg import bar_rows

__all__ = ["data_section", "resilience_section", "timing_section"]


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


def data_section(report: dict) -> str:
    d = report["data"]
    info = table_html(["", ""], [["source", escape(str(d["source"]))], ["interval", escape(str(d["interval"]))],
                                 ["funding", escape(str(d["funding"]))],
                                 ["fingerprint", f"<code>{escape(str(d['fingerprint']))}</code>"],
                                 ["window sizing", escape(str(d["window_sizing"]))]])
    coins = table_html(["coin", "bars", "first bar", "last bar", "gaps", "funding observed"],
                       [[escape(c["coin"]), f"{c['bars']:,}" if c["bars"] is not None else "—",
                         escape(str(c["first"])), escape(str(c["last"])), str(c["gaps"]),
                         pct(c["funding_observed_share"], 0)] for c in d["coins"]],
                       {1, 4, 5})
    windows = table_html(["window", "start", "end (exclusive)", "days"],
                         [[escape(w["name"]), escape(str(w["start"])), escape(str(w["end"])), num(w["days"], 2)]
                          for w in d["windows"]], {3})
    timeline = _timeline(d["windows"]) if d["windows"] else ""
    refresh = data_refresh_reading(report.get("data_refresh"))  # absent in reports before version 4
    fresh = f'<p class="reading">{escape(refresh)}</p>' if refresh else ""
    settings = configuration_reading(report.get("configuration"))  # absent in reports before version 4
    fresh += f'<p class="reading">{escape(settings)}</p>' if settings else ""
    return section_html("data", "Data", f"{fresh}{info}{coins}<h4>Windows (oldest to newest)</h4>{timeline}{windows}",
                        "No stage scores a strategy on a window an earlier stage selected it on.")


def timing_section(report: dict) -> str:
    seconds = report["stage_seconds"]
    top = max((v for v in seconds.values() if v), default=1.0)
    rows = [(stage, float(v or 0.0), f"{duration(v)} · {report['stage_status'][stage]}", "#76b7b2")
            for stage, v in seconds.items()]
    chart = bar_rows(rows, width=560, max_value=top, label_width=110, label="stage timing")
    p, r = report["phase_performance"], report["resources"]
    perf = table_html(["", ""], [
        ["evaluations per minute", num(p["evaluations_per_minute"], 0)],
        ["validation success rate", pct(p["validation_success_rate"])],
        ["deployment success rate", pct(p["deployment_success_rate"])],
        ["archive coverage (mean per island)", pct(p["archive_coverage"])],
        ["workers", str(r["workers"]) if r["workers"] is not None else "— (all CPUs of the machine)"],
        ["Ray", escape(r["ray_address"] or "embedded")],
        ["CPU-hours", num(r["cpu_hours"], 3)],
        ["estimated cost", f"${r['estimated_cost_usd']:.2f}" if r["estimated_cost_usd"] is not None else "—"],
    ], {1})
    return section_html("timing", "Timing and resources",
                        f'<div class="row"><div class="panel">{chart}</div><div class="panel">{perf}</div></div>')


def resilience_section(report: dict) -> str:
    res = report["resilience"]
    events = res["events"]
    if events:
        keys = sorted({k for e in events for k in e})
        body = table_html(keys, [[escape(str(e.get(k, ""))) for k in keys] for e in events])
    else:
        body = '<p class="muted">The run recorded no resilience events (retries, timeouts, circuit breakers).</p>'
    if res["summary"]:
        body += table_html(["", ""], [[escape(k), escape(str(v))] for k, v in sorted(res["summary"].items())])
    return section_html("resilience", "Resilience", body)
