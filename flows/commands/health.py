"""``uce health``: is everything a run needs in working order? Exit code 1 when the level is critical."""
from __future__ import annotations

import argparse
import os

from rich.console import Console
from rich.table import Table

from flows.commands.common import data_dir
from flows.ray_auth import token_auth_for
from tasks.orchestration.health import all_checks

__all__ = ["register", "run"]

_STYLE = {"healthy": "green", "degraded": "yellow", "critical": "red", "not configured": "dim"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("health", help="check the Prefect API, Ray, the venue, market data, disk and memory")
    p.add_argument("--ray-address", help="HOST:PORT of the Ray cluster to check (default: the embedded Ray)")
    p.add_argument("--venue-url", default=os.environ.get("UCE_VENUE_URL"),
                   help="venue / exchange API to check, e.g. http://127.0.0.1:8765 (default: $UCE_VENUE_URL)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    token_auth_for(args.ray_address)  # before Ray is imported
    report = all_checks(data_dir(args), api_url=os.environ.get("PREFECT_API_URL"), ray_address=args.ray_address,
                        venue_url=args.venue_url)
    table = Table(title=f"health: {report.level} ({report.score:.0f}/100)")
    for column in ("component", "state", "score", "detail"):
        table.add_column(column, justify="right" if column == "score" else "left")
    for check in report.checks:
        style = _STYLE[check.state]
        table.add_row(check.component, f"[{style}]{check.state}[/]", "-" if check.score is None else str(check.score),
                      check.detail)
    Console(width=160).print(table)
    return 1 if report.level == "critical" else 0
