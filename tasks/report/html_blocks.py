"""The small building blocks of report.html shared by its sections: number formats (fractions shown as
percentages: 0.25 → "25.0 %"; seconds as s, min or h; "—" for a missing or non-finite value) and HTML pieces
(a section, a row of tiles, a table, a pass/fail badge), plus the names and colour every section agrees on.

>>> pct(0.25)
'25.0 %'
>>> num(1234.5)
'1,234.50'
"""
from __future__ import annotations

from html import escape

import numpy as np

__all__ = ["GATE_NAMES", "STRATEGY_COLOR", "badge_html", "duration", "num", "pct", "pct_tick", "section_html",
           "table_html", "tiles_html"]

STRATEGY_COLOR = "#d62728"  # the strategies detailed on the page, in every chart
GATE_NAMES = {"gate1": "gate 1 · backtest", "gate2": "gate 2 · replay", "gate3": "gate 3 · venue"}


def pct(x: float | None, digits: int = 1, *, sign: bool = False) -> str:
    if x is None or not np.isfinite(x):
        return "—"
    return f"{x * 100:{'+' if sign else ''}.{digits}f} %"


def num(x: float | None, digits: int = 2) -> str:
    if x is None or isinstance(x, str):
        return "—" if x is None else escape(x)
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if not np.isfinite(x):
        return "—"
    return f"{x:,.{digits}f}" if abs(x) < 1e6 else f"{x:.3g}"


def pct_tick(v: float) -> str:
    """A percentage tick label with a decimal only where it needs one (-2.5%, -5%)."""
    return f"{v:.0%}" if abs(v * 100 - round(v * 100)) < 1e-9 else f"{v:.1%}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def section_html(sid: str, title: str, body: str, lead: str = "") -> str:
    lead_html = f'<p class="lead">{lead}</p>' if lead else ""
    return f'<section id="{sid}"><h2>{escape(title)}</h2>{lead_html}{body}</section>'


def tiles_html(items: list[tuple[str, str]]) -> str:
    return '<div class="tiles">' + "".join(f'<div class="tile"><b>{v}</b><span>{escape(k)}</span></div>'
                                           for k, v in items) + "</div>"


def table_html(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{c}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def badge_html(passed: bool | None) -> str:
    if passed is None:
        return '<span class="badge na">not run</span>'
    return f'<span class="badge {"ok" if passed else "bad"}">{"passed" if passed else "failed"}</span>'
