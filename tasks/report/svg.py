"""Inline SVG charts for the HTML run report: line, scatter, heat map, bar rows and a lineage tree.

Plain strings built in Python: no JavaScript, no external fonts or assets, so a report opens offline and
renders the same everywhere. Hover text uses SVG ``<title>`` elements (the browser's native tooltip).
Coordinates are written with one decimal and every input is drawn in the order given, so the same data
always gives the same bytes.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from html import escape
from typing import NamedTuple, Union

import numpy as np

__all__ = ["PALETTE", "Node", "Points", "Series", "bar_rows", "color_scale", "heatmap", "line_chart",
           "scatter_chart", "tree_chart"]

# Tableau 10: distinguishable, colour-blind tolerant.
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")
_VIRIDIS = ((0.0, (68, 1, 84)), (0.25, (59, 82, 139)), (0.5, (33, 145, 140)), (0.75, (94, 201, 98)),
            (1.0, (253, 231, 37)))
_AXIS, _GRID, _TEXT = "#888", "#e6e6e6", "#333"
_MARGIN = (12, 16, 34, 56)  # top, right, bottom, left (px)
_TIME_STEPS_H = (1, 2, 6, 12, 24, 48, 168, 336, 720, 2184, 4368, 8760)


# A tick label: a str.format pattern ("{:.0%}") or a function of the value.
Format = Union[str, Callable[[float], str]]


def _fmt(fmt: Format, value: float) -> str:
    return fmt(value) if callable(fmt) else fmt.format(value)


class Series(NamedTuple):
    """One line: x (numbers, or epoch seconds on a time axis) and y, drawn in order."""

    label: str
    x: np.ndarray
    y: np.ndarray
    color: str
    dashed: bool = False
    width: float = 1.6


class Points(NamedTuple):
    """A group of scatter points; ``tips`` (one per point) become hover text."""

    label: str
    x: np.ndarray
    y: np.ndarray
    color: str
    radius: float = 2.5
    opacity: float = 0.6
    tips: tuple[str, ...] = ()
    outline: bool = False


class Node(NamedTuple):
    """A lineage-tree node: ``column`` from the left, ``row`` from the top, ``parents`` as node keys."""

    key: int
    column: int
    row: int
    label: str
    tip: str
    color: str
    parents: tuple[int, ...]
    highlight: bool = False


def _f(v: float) -> str:
    return f"{v:.1f}"


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{escape(label)}" font-family="sans-serif" font-size="11">'
            + "".join(body) + "</svg>")


def _text(x: float, y: float, s: str, *, anchor: str = "middle", size: int = 11, color: str = _TEXT,
          extra: str = "") -> str:
    return (f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}" font-size="{size}" fill="{color}"{extra}>'
            f"{escape(s)}</text>")


def nice_ticks(lo: float, hi: float, count: int = 5, *, integer: bool = False) -> np.ndarray:
    """Round tick values (1, 2, 2.5, 5 x 10^k steps; whole numbers only if ``integer``) covering [lo, hi]."""
    if not hi > lo:
        return np.array([lo])
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    step = max(1.0, float(np.ceil(step))) if integer else step
    ticks = np.arange(np.ceil(lo / step) * step, hi + step * 1e-9, step)
    return np.round(ticks, 12) + 0.0  # + 0.0 turns -0.0 into 0.0 (no "-0 %" label)


def _time_ticks(lo: float, hi: float) -> tuple[np.ndarray, str]:
    """Tick times (epoch s) on whole hours / days and their strftime format."""
    span_h = (hi - lo) / 3600
    step_h = next((s for s in _TIME_STEPS_H if span_h / s <= 6), _TIME_STEPS_H[-1])
    step = step_h * 3600
    ticks = np.arange(np.ceil(lo / step) * step, hi + 1, step)
    fmt = "%Y-%m" if span_h > 300 * 24 else ("%m-%d" if step_h >= 24 else "%m-%d %H:%M")
    return ticks, fmt


class _Frame(NamedTuple):
    """Plot area and the data ranges mapped onto it."""

    width: int
    height: int
    x0: float
    x1: float
    y0: float
    y1: float

    @property
    def left(self) -> float:
        return _MARGIN[3]

    @property
    def right(self) -> float:
        return self.width - _MARGIN[1]

    @property
    def top(self) -> float:
        return _MARGIN[0]

    @property
    def bottom(self) -> float:
        return self.height - _MARGIN[2]

    def px(self, x: np.ndarray) -> np.ndarray:
        span = self.x1 - self.x0 or 1.0
        return self.left + (np.asarray(x, float) - self.x0) / span * (self.right - self.left)

    def py(self, y: np.ndarray) -> np.ndarray:
        span = self.y1 - self.y0 or 1.0
        return self.bottom - (np.asarray(y, float) - self.y0) / span * (self.bottom - self.top)


def _axes(fr: _Frame, *, x_time: bool, x_format: Format, y_format: Format, x_label: str, y_label: str,
          zero_line: bool, x_integer: bool = False) -> list[str]:
    out = []
    for t in nice_ticks(fr.y0, fr.y1):
        y = float(fr.py(t))
        out.append(f'<line x1="{_f(fr.left)}" x2="{_f(fr.right)}" y1="{_f(y)}" y2="{_f(y)}" stroke="{_GRID}"/>')
        out.append(_text(fr.left - 4, y + 3.5, _fmt(y_format, t), anchor="end", size=10))
    if x_time:
        ticks, fmt = _time_ticks(fr.x0, fr.x1)
        labels = [datetime.fromtimestamp(float(t), timezone.utc).strftime(fmt) for t in ticks]
    else:
        ticks = nice_ticks(fr.x0, fr.x1, integer=x_integer)
        labels = [_fmt(x_format, t) for t in ticks]
    for t, s in zip(ticks, labels):
        x = float(fr.px(t))
        out.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{_f(fr.bottom)}" y2="{_f(fr.bottom + 4)}" stroke="{_AXIS}"/>')
        out.append(_text(x, fr.bottom + 15, s, size=10))
    if zero_line and fr.y0 < 0 < fr.y1:
        y = float(fr.py(0.0))
        out.append(f'<line x1="{_f(fr.left)}" x2="{_f(fr.right)}" y1="{_f(y)}" y2="{_f(y)}" stroke="{_AXIS}"/>')
    out.append(f'<rect x="{_f(fr.left)}" y="{_f(fr.top)}" width="{_f(fr.right - fr.left)}" '
               f'height="{_f(fr.bottom - fr.top)}" fill="none" stroke="{_AXIS}"/>')
    if x_label:
        out.append(_text((fr.left + fr.right) / 2, fr.height - 4, x_label, size=10, color="#666"))
    if y_label:
        cy = (fr.top + fr.bottom) / 2
        out.append(_text(11, cy, y_label, size=10, color="#666", extra=f' transform="rotate(-90 11 {_f(cy)})"'))
    return out


def _range(values: list[np.ndarray], pad: float, *, include_zero: bool = False) -> tuple[float, float]:
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.zeros(0)
    if include_zero:
        finite = np.r_[finite, 0.0]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5 * (abs(lo) or 1.0), hi + 0.5 * (abs(hi) or 1.0)
    margin = (hi - lo) * pad
    return lo - margin, hi + margin


def _legend(items: list[tuple[str, str, bool]], x: float, y: float, *, marker: str = "line") -> list[str]:
    """Legend entries (label, colour, dashed / outlined) in one row from (x, y); ``marker`` "line" or "dot"."""
    out = []
    for label, color, dashed in items:
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        if marker == "dot":
            paint = f'fill="none" stroke="{color}" stroke-width="1.6"' if dashed else f'fill="{color}"'
            out.append(f'<circle cx="{_f(x + 8)}" cy="{_f(y)}" r="4" {paint}/>')
        else:
            out.append(f'<line x1="{_f(x)}" x2="{_f(x + 16)}" y1="{_f(y)}" y2="{_f(y)}" stroke="{color}" '
                       f'stroke-width="2"{dash}/>')
        out.append(_text(x + 20, y + 3.5, label, anchor="start", size=10))
        x += 28 + 6.2 * len(label)
    return out


def _decimate(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ~max_points points keeping each bucket's first, lowest and highest point (extremes survive)."""
    n = len(x)
    if n <= max_points:
        return x, y
    buckets = np.array_split(np.arange(n), max_points // 3)
    keep = set()
    for b in buckets:
        yb = np.where(np.isfinite(y[b]), y[b], np.nan)
        keep.add(int(b[0]))
        if np.isfinite(yb).any():
            keep.update((int(b[np.nanargmin(yb)]), int(b[np.nanargmax(yb)])))
    keep.add(n - 1)
    idx = np.array(sorted(keep))
    return x[idx], y[idx]


def _path(xs: np.ndarray, ys: np.ndarray) -> str:
    """An SVG path through the finite points; NaN breaks the line."""
    parts, pen = [], False
    for x, y in zip(xs, ys):
        if not (np.isfinite(x) and np.isfinite(y)):
            pen = False
            continue
        parts.append(f"{'L' if pen else 'M'}{_f(x)} {_f(y)}")
        pen = True
    return "".join(parts)


def line_chart(series: list[Series], *, width: int = 560, height: int = 220, x_time: bool = False,
               x_format: Format = "{:g}", y_format: Format = "{:g}", x_label: str = "", y_label: str = "",
               zero_line: bool = False, fill: bool = False, legend: bool = True, label: str = "line chart",
               max_points: int = 900, x_integer: bool = False) -> str:
    """Lines over a shared x axis (``x_time``: epoch seconds with date ticks; ``x_integer``: whole-number
    ticks); ``fill`` shades each line's area to zero."""
    ys = [s.y for s in series]
    x0, x1 = _range([s.x for s in series], 0.0)
    y0, y1 = _range(ys, 0.06, include_zero=fill)
    top_pad = 14 if legend and any(s.label for s in series) else 0
    body = [f'<g transform="translate(0 {top_pad})">'] if top_pad else []
    fr = _Frame(width, height - top_pad, x0, x1, y0, y1)
    body += _axes(fr, x_time=x_time, x_format=x_format, y_format=y_format, x_label=x_label, y_label=y_label,
                  zero_line=zero_line, x_integer=x_integer)
    for s in series:
        x, y = _decimate(np.asarray(s.x, float), np.asarray(s.y, float), max_points)
        px, py = fr.px(x), fr.py(y)
        dash = ' stroke-dasharray="4 3"' if s.dashed else ""
        if fill and len(px):
            base = float(fr.py(0.0))
            area = _path(px, py) + f"L{_f(px[-1])} {_f(base)}L{_f(px[0])} {_f(base)}Z"
            body.append(f'<path d="{area}" fill="{s.color}" fill-opacity="0.18" stroke="none"/>')
        body.append(f'<path d="{_path(px, py)}" fill="none" stroke="{s.color}" stroke-width="{s.width}"{dash}>'
                    f"<title>{escape(s.label)}</title></path>")
    if top_pad:
        body.append("</g>")
        body += _legend([(s.label, s.color, s.dashed) for s in series if s.label], _MARGIN[3], 8)
    return _svg(width, height, body, label)


def scatter_chart(groups: list[Points], *, width: int = 560, height: int = 300, x_format: Format = "{:g}",
                  y_format: Format = "{:g}", x_label: str = "", y_label: str = "", front: Series | None = None,
                  x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None,
                  label: str = "scatter chart") -> str:
    """Point groups drawn in order (later on top); ``front`` draws a connecting line (e.g. a Pareto front).
    Points outside ``x_range`` / ``y_range`` are pinned to the edge."""
    top_pad = 16
    x0, x1 = x_range or _range([g.x for g in groups], 0.04)
    y0, y1 = y_range or _range([g.y for g in groups], 0.06)
    fr = _Frame(width, height - top_pad, x0, x1, y0, y1)
    body = [f'<g transform="translate(0 {top_pad})">']
    body += _axes(fr, x_time=False, x_format=x_format, y_format=y_format, x_label=x_label, y_label=y_label,
                  zero_line=True)
    if front is not None and len(front.x):
        px, py = fr.px(np.clip(front.x, x0, x1)), fr.py(np.clip(front.y, y0, y1))
        body.append(f'<path d="{_path(px, py)}" fill="none" stroke="{front.color}" stroke-width="{front.width}"/>')
    for g in groups:
        px, py = fr.px(np.clip(g.x, x0, x1)), fr.py(np.clip(g.y, y0, y1))
        style = (f'fill="none" stroke="{g.color}" stroke-width="1.6"' if g.outline
                 else f'fill="{g.color}" fill-opacity="{g.opacity}"')
        body.append(f"<g {style}>")
        for i, (x, y) in enumerate(zip(px, py)):
            if not (np.isfinite(x) and np.isfinite(y)):
                continue
            tip = f"<title>{escape(g.tips[i])}</title>" if g.tips else ""
            body.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{g.radius}">{tip}</circle>')
        body.append("</g>")
    body.append("</g>")
    body += _legend([(g.label, g.color, g.outline) for g in groups if g.label], _MARGIN[3], 8, marker="dot")
    return _svg(width, height, body, label)


def color_scale(t: float) -> str:
    """Viridis colour of t in [0, 1] (dark purple → yellow)."""
    t = min(max(float(t), 0.0), 1.0)
    for (a, ca), (b, cb) in zip(_VIRIDIS, _VIRIDIS[1:]):
        if t <= b:
            w = (t - a) / (b - a)
            r, g, bl = (round(x + w * (y - x)) for x, y in zip(ca, cb))
            return f"#{r:02x}{g:02x}{bl:02x}"
    return "#fde725"


def heatmap(values: np.ndarray, tips: list[list[str]], *, vmin: float, vmax: float, x_ticks: list[str],
            y_ticks: list[str], x_label: str, y_label: str, title: str, cell: int = 22,
            label: str = "heat map") -> str:
    """values[rows, cols] as coloured cells (row 0 at the bottom); NaN cells are empty (hatched grey)."""
    rows, cols = values.shape
    left, top, bottom = 44, 20, 36
    width, height = left + cols * cell + 8, top + rows * cell + bottom
    body = [_text(left + cols * cell / 2, 13, title, size=11)]
    span = (vmax - vmin) or 1.0
    for r in range(rows):
        for c in range(cols):
            v = values[r, c]
            x, y = left + c * cell, top + (rows - 1 - r) * cell
            fill = color_scale((v - vmin) / span) if np.isfinite(v) else "#f1f1f1"
            body.append(f'<rect x="{_f(x)}" y="{_f(y)}" width="{cell - 1}" height="{cell - 1}" fill="{fill}">'
                        f"<title>{escape(tips[r][c])}</title></rect>")
    for c, s in enumerate(x_ticks):
        if s:
            body.append(_text(left + c * cell + cell / 2, top + rows * cell + 12, s, size=9))
    for r, s in enumerate(y_ticks):
        if s:
            body.append(_text(left - 4, top + (rows - 1 - r) * cell + cell / 2 + 3, s, anchor="end", size=9))
    body.append(_text(left + cols * cell / 2, height - 4, x_label, size=10, color="#666"))
    cy = top + rows * cell / 2
    body.append(_text(10, cy, y_label, size=10, color="#666", extra=f' transform="rotate(-90 10 {_f(cy)})"'))
    return _svg(width, height, body, label)


def bar_rows(rows: list[tuple[str, float, str, str]], *, width: int = 560, max_value: float | None = None,
             label_width: int = 150, row_height: int = 24, label: str = "bars") -> str:
    """Horizontal bars, one per (label, value, value text, colour), scaled to ``max_value``."""
    top = max_value if max_value else max((v for _, v, _, _ in rows), default=1.0) or 1.0
    span = width - label_width - 150
    body = []
    for i, (name, value, text, color) in enumerate(rows):
        y = i * row_height
        w = max(0.0, value) / top * span
        body.append(_text(label_width - 8, y + row_height / 2 + 4, name, anchor="end"))
        body.append(f'<rect x="{label_width}" y="{_f(y + 3)}" width="{_f(max(w, 1.0))}" '
                    f'height="{row_height - 6}" fill="{color}" rx="2"/>')
        body.append(_text(label_width + w + 6, y + row_height / 2 + 4, text, anchor="start"))
    return _svg(width, max(row_height * len(rows), row_height), body, label)


def tree_chart(nodes: list[Node], *, column_labels: dict[int, str], col_width: int = 150, row_height: int = 34,
               label: str = "lineage tree") -> str:
    """Nodes placed on a (column, row) grid with an edge from each parent to its child: a curve into the
    child's side from the next column, an arc over the boxes from further back."""
    if not nodes:
        return _svg(200, 30, [_text(100, 18, "no lineage recorded")], label)
    n_cols = max(n.column for n in nodes) + 1
    n_rows = max(n.row for n in nodes) + 1
    left, top = 8, 44  # room for the column labels and the arcs above the first row
    width, height = left + n_cols * col_width, top + n_rows * row_height + 4
    pos = {n.key: (left + n.column * col_width + 4, top + n.row * row_height) for n in nodes}
    column = {n.key: n.column for n in nodes}
    box_w, box_h = col_width - 22, row_height - 8
    body = [_text(left + col * col_width + 4 + box_w / 2, 12, text, size=10, color="#666")
            for col, text in sorted(column_labels.items())]
    for n in nodes:
        cx, cy = pos[n.key]
        for p in n.parents:
            if p not in pos:
                continue
            px, py = pos[p]
            span = n.column - column[p]
            if span == 1:
                x_a, y_a, x_b, y_b = px + box_w, py + box_h / 2, cx, cy + box_h / 2
                mid = (x_a + x_b) / 2
                d = f"M{_f(x_a)} {_f(y_a)}C{_f(mid)} {_f(y_a)} {_f(mid)} {_f(y_b)} {_f(x_b)} {_f(y_b)}"
            else:
                x_a, x_b = px + box_w * 0.65, cx + box_w * 0.35
                lift = min(py, cy) - min(22 + 4 * abs(span), top - 6)
                d = f"M{_f(x_a)} {_f(py)}C{_f(x_a)} {_f(lift)} {_f(x_b)} {_f(lift)} {_f(x_b)} {_f(cy)}"
            body.append(f'<path d="{d}" fill="none" stroke="#999"/>')
    for n in nodes:
        x, y = pos[n.key]
        stroke = ' stroke="#d62728" stroke-width="2"' if n.highlight else ' stroke="#777"'
        body.append(f'<g><title>{escape(n.tip)}</title>'
                    f'<rect x="{_f(x)}" y="{_f(y)}" width="{box_w}" height="{box_h}" rx="4" fill="#fff"/>'
                    f'<rect x="{_f(x)}" y="{_f(y)}" width="{box_w}" height="{box_h}" rx="4" fill="{n.color}" '
                    f'fill-opacity="0.22"{stroke}/>')
        body.append(_text(x + box_w / 2, y + box_h / 2 + 4, n.label, size=10) + "</g>")
    return _svg(width, height, body, label)
