"""`uce data fetch`: page candles and funding from Hyperliquid (or the loopback venue) into the store."""
from __future__ import annotations

import argparse

import pandas as pd
from rich.console import Console

from exchange.errors import ExchangeError, TemporaryError
from exchange.hyperliquid.settings import ExchangeSettings
from flows.commands.common import data_dir, fail
from tasks.market.fetch import fetch_market_data
from tasks.market.store import MarketDataError, MarketStore

__all__ = ["register_fetch", "run_fetch"]

_SHOWN_GAPS = 10


def register_fetch(data_subparsers: argparse._SubParsersAction) -> None:
    """Add `fetch` under `uce data`."""
    parser = data_subparsers.add_parser(
        "fetch", help="page candles and funding from the Hyperliquid info API into the store",
        description="Hyperliquid serves only the latest 5,000 candles per coin and interval, so the store "
                    "is the history: each run appends what is new, resuming where the store ends.")
    parser.add_argument("--coins", required=True,
                        help="comma-separated coin names as Hyperliquid spells them, e.g. BTC,ETH")
    parser.add_argument("--interval", default="1h", help="candle interval (default 1h)")
    parser.add_argument("--since", help="UTC date where coins the store lacks start, e.g. 2024-01-01 "
                                        "(default: the oldest candle the API still serves)")
    parser.add_argument("--url", default="mainnet",
                        help="mainnet (default), testnet, or a URL such as the loopback venue's http://127.0.0.1:8765")
    parser.set_defaults(func=run_fetch)


def run_fetch(args: argparse.Namespace) -> int:
    """Fetch, then print one line per coin and its gaps; exit 0, 1 (network) or 2 (user error)."""
    coins = [c.strip() for c in args.coins.split(",") if c.strip()]
    if not coins:
        return fail(f"--coins {args.coins!r} names no coin; e.g. --coins BTC,ETH")
    try:
        since = pd.Timestamp(args.since, tz="UTC") if args.since else None
        settings = ExchangeSettings(endpoint=args.url)
    except ValueError as exc:  # pydantic's ValidationError is one
        return fail(str(exc).replace("\n", " "))
    store = MarketStore(data_dir(args) / "market")
    console = Console()
    try:
        reports = fetch_market_data(store, settings, coins, args.interval, since=since)
    except TemporaryError as exc:
        console.print(f"error: {settings.url} kept failing ({exc}); pages fetched so far are kept, re-run to resume")
        return 1
    except (ExchangeError, MarketDataError, ValueError) as exc:
        return fail(str(exc))
    for r in reports:
        console.print(f"{r.coin} {r.interval}: +{r.candles_added} bars ({r.candles_total} in store), "
                      f"+{r.funding_added} funding rows, {len(r.gaps)} gap(s)")
        for first, last in r.gaps[:_SHOWN_GAPS]:
            console.print(f"  gap: {first} → {last}")
    return 0
