"""``uce data import|list|fetch``: fill and inspect the market store."""
from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from flows.commands.common import data_dir, fail
from tasks.market_import import import_file
from tasks.market_store import MarketDataError, MarketStore


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="import, fetch and list market data")
    data_sub = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    imp = data_sub.add_parser("import", help="import a CSV or Parquet OHLCV file into the store")
    imp.add_argument("path", type=Path)
    imp.add_argument("--coin", required=True, help="e.g. BTC")
    imp.add_argument("--interval", default="1h", help="bar interval of the file, e.g. 1h (default)")
    imp.set_defaults(func=run_import)

    lst = data_sub.add_parser("list", help="coins, intervals, first/last bar and gaps in the store")
    lst.set_defaults(func=run_list)

    _register_fetch(data_sub)


def _register_fetch(data_sub: argparse._SubParsersAction) -> None:
    try:
        from flows.commands.data_fetch import register_fetch
    except ImportError:  # the fetch command ships with the exchange package
        return
    register_fetch(data_sub)


def run_import(args: argparse.Namespace) -> int:
    store = MarketStore(data_dir(args) / "market")
    try:
        result = import_file(store, args.path, args.coin.upper(), args.interval)
    except MarketDataError as exc:
        return fail(str(exc))
    console = Console()
    console.print(
        f"imported {result.added} new bars into {store.candles_path(args.coin, args.interval)} "
        f"({result.total} in total, {len(result.gaps)} gap(s))"
    )
    for first, last in result.gaps[:10]:
        console.print(f"  gap: {first} → {last}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    store = MarketStore(data_dir(args) / "market")
    entries = store.entries()
    if not entries:
        Console().print(f"the store at {store.root} is empty; `uce data import` or `uce data fetch` fills it")
        return 0
    table = Table(title=f"market store {store.root}")
    for column in ("coin", "interval", "bars", "first bar", "last bar", "gaps", "funding"):
        table.add_column(column)
    for e in entries:
        funding = store.read_funding(e.coin)
        table.add_row(
            e.coin, e.interval, str(e.rows), str(e.first), str(e.last),
            _describe_gaps(e.gaps), "-" if funding is None else f"{len(funding)} h",
        )
    Console().print(table)
    return 0


def _describe_gaps(gaps: list) -> str:
    if not gaps:
        return "none"
    first, last = gaps[0]
    more = f" (+{len(gaps) - 1} more)" if len(gaps) > 1 else ""
    return f"{len(gaps)}: {first:%Y-%m-%d %H:%M} → {last:%Y-%m-%d %H:%M}{more}"
