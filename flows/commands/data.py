"""``uce data import|list|fetch``: fill and inspect the market store."""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from flows.commands.common import data_dir, fail
from tasks.market.coins import coin_name
from tasks.market.file_import import import_file, import_funding_file
from tasks.market.store import MarketDataError, MarketStore, StoreEntry

__all__ = ["register", "run_import", "run_list"]

_SHOWN_GAPS = 10


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="import, fetch and list market data")
    data_sub = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    imp = data_sub.add_parser("import", help="import a CSV or Parquet OHLCV file (or, with --funding, a funding "
                                             "history) into the store")
    imp.add_argument("path", type=Path)
    imp.add_argument("--coin", required=True, help="e.g. BTC")
    imp.add_argument("--interval", default="1h", help="bar interval of the file, e.g. 1h (default); "
                                                      "not used with --funding")
    imp.add_argument("--funding", action="store_true",
                     help="the file is hourly funding history (Hyperliquid fundingHistory rows or timestamp + "
                          "funding_rate [+ premium]), not candles")
    imp.set_defaults(func=run_import)

    lst = data_sub.add_parser("list", help="coins, intervals, first/last bar, gaps and funding in the store")
    lst.set_defaults(func=run_list)

    _register_fetch(data_sub)


def _register_fetch(data_sub: argparse._SubParsersAction) -> None:
    try:
        from flows.commands.data_fetch import register_fetch
    except ImportError:  # the fetch command ships with the exchange package
        return
    register_fetch(data_sub)


def run_import(args: argparse.Namespace) -> int:
    try:
        coin = coin_name(args.coin)
    except ValueError as exc:
        return fail(f"--coin: {exc}")
    store = MarketStore(data_dir(args) / "market")
    if args.funding:
        return _import_funding(store, args.path, coin)
    return _import_candles(store, args.path, coin, args.interval)


def _import_candles(store: MarketStore, path: Path, coin: str, interval: str) -> int:
    try:
        result = import_file(store, path, coin, interval)
    except MarketDataError as exc:
        return fail(str(exc))
    console = Console()
    console.print(
        f"imported {result.added} new bars into {store.candles_path(coin, interval)} "
        f"({result.total} in total, {len(result.gaps)} gap(s))"
    )
    _print_gaps(console, result.gaps)
    return 0


def _import_funding(store: MarketStore, path: Path, coin: str) -> int:
    try:
        result = import_funding_file(store, path, coin)
    except MarketDataError as exc:
        return fail(str(exc))
    entry = store.funding_entry(coin)  # a successful import leaves at least one row
    console = Console()
    console.print(
        f"imported {result.added} new funding hours into {entry.path} ({result.total} in total, "
        f"{_hour(entry.first)} → {_hour(entry.last)}, {len(result.gaps)} gap(s))"
    )
    _print_gaps(console, result.gaps)
    return 0


def _print_gaps(console: Console, gaps: list[tuple[pd.Timestamp, pd.Timestamp]]) -> None:
    for first, last in gaps[:_SHOWN_GAPS]:
        console.print(f"  gap: {first} → {last}")
    if len(gaps) > _SHOWN_GAPS:
        console.print(f"  … and {len(gaps) - _SHOWN_GAPS} more")


def run_list(args: argparse.Namespace) -> int:
    store = MarketStore(data_dir(args) / "market")
    candles = store.entries()
    funding = {e.coin: e for e in store.funding_entries()}
    if not candles and not funding:
        Console().print(f"the store at {store.root} is empty; `uce data import` or `uce data fetch` fills it")
        return 0
    table = Table(title=f"market store {store.root} (times UTC)")
    for column in ("coin", "interval", "bars", "first → last bar", "gaps", "funding"):
        table.add_column(column)
    rows = [(e.coin, [e.interval, str(e.rows), _span(e), _describe_gaps(e.gaps)]) for e in candles]
    with_candles = {e.coin for e in candles}
    rows += [(coin, ["-", "-", "-", "-"]) for coin in funding if coin not in with_candles]  # funding only
    for coin, cells in sorted(rows, key=lambda row: row[0]):
        table.add_row(coin, *cells, _describe_funding(funding.get(coin)))
    Console().print(table)
    return 0


def _hour(ts: pd.Timestamp) -> str:
    return f"{ts:%Y-%m-%d %H:%M}"


def _span(entry: StoreEntry) -> str:
    return f"{_hour(entry.first)} → {_hour(entry.last)}"


def _describe_gaps(gaps: list) -> str:
    if not gaps:
        return "none"
    first, last = gaps[0]
    more = f" (+{len(gaps) - 1} more)" if len(gaps) > 1 else ""
    return f"{len(gaps)}: {_hour(first)} → {_hour(last)}{more}"


def _describe_funding(entry: StoreEntry | None) -> str:
    """Days, not hours: the cell must fit beside the bars' columns; `data import --funding` prints the hours."""
    if entry is None:
        return "-"
    return f"{entry.rows} h, {entry.first:%Y-%m-%d} → {entry.last:%Y-%m-%d}, {len(entry.gaps)} gap(s)"
