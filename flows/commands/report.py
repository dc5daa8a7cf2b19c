"""``uce report RUN_ID [--open]`` rebuilds a run's report.json and report.html from its artifacts;
``uce runs`` lists the runs with their date, data, counts and status."""
from __future__ import annotations

import argparse
import webbrowser

from rich.console import Console
from rich.table import Table

from flows.commands.common import data_dir, fail
from tasks.report.html_page import write_report_html
from tasks.report.report_json import write_report
from tasks.report.run_overview import run_overview
from tasks.run.run_dir import RunDir

__all__ = ["register", "run_report", "run_runs"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help="rebuild a run's report.json and report.html from its artifacts")
    p.add_argument("run_id", metavar="RUN_ID", help="a folder name under <data dir>/runs (see `uce runs`)")
    p.add_argument("--open", action="store_true", help="open report.html in the default browser")
    p.set_defaults(func=run_report)
    r = subparsers.add_parser("runs", help="list runs: date, data, counts and status")
    r.set_defaults(func=run_runs)


def run_report(args: argparse.Namespace) -> int:
    try:
        run = RunDir.for_run(data_dir(args), args.run_id)
    except ValueError as err:
        return fail(str(err))
    if not run.manifest_path.exists():
        return fail(f"no run {args.run_id!r} under {run.root.parent} (no manifest.json); `uce runs` lists the runs")
    report = write_report(run)
    html = write_report_html(run, report)
    console = Console()
    console.print(f"report.json: {run.report}")
    console.print(f"report.html: {html}")
    if args.open:
        webbrowser.open(html.resolve().as_uri())
    return 0


def _source(text: str | None) -> str:
    """The kind of source without its details ("offline sample", "market store")."""
    if not text:
        return "—"
    return text.split(":")[0].split(" /")[0][:40]


def run_runs(args: argparse.Namespace) -> int:
    root = data_dir(args) / "runs"
    runs = [RunDir(p) for p in sorted(root.iterdir()) if (p / "manifest.json").is_file()] if root.is_dir() else []
    console = Console()
    if not runs:
        console.print(f"no runs under {root}")
        return 0
    rows = sorted((run_overview(r) for r in runs), key=lambda o: (o["started"] or "", o["run_id"]))
    table = Table(title=f"runs in {root}",
                  caption="counts: evaluated → candidates → passed validation → deployed")
    for name in ("run", "started (UTC)", "status", "data", "counts", "report"):
        # Everything but the data column keeps to one line; the data column gives way on narrow terminals.
        table.add_column(name, no_wrap=name != "data", overflow="fold")
    for o in rows:
        counts = " → ".join("—" if o[k] is None else f"{o[k]:,}"
                            for k in ("evaluated", "candidates", "validated", "deployed"))
        table.add_row(o["run_id"], (o["started"] or "—").replace("T", " ")[:16], o["status"],
                      f"{','.join(o['coins'])} {o['interval'] or ''} · {_source(o['source'])}", counts,
                      o["report"] or "—")
    console.print(table)
    return 0
