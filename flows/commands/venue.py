"""`uce venue`: run the loopback Hyperliquid venue on 127.0.0.1 over a folder of hourly data."""
from __future__ import annotations

import argparse
import threading
from pathlib import Path

import pandas as pd
from rich.console import Console

from exchange.hyperliquid.limits import HISTORY
from exchange.venue import Faults, Venue, VenueServer
from exchange.venue.server import MAX_BODY_BYTES
from flows.commands.common import data_dir, fail

__all__ = ["register", "run", "build_venue"]

_DEFAULT_USDC = 100_000.0
_EPILOG = f"""operator endpoints (POST JSON): /admin/clock, /admin/step {{"hours": 24}}, \
/admin/fund {{"user": "0x..", "usdc": 1000}}, /admin/faults {{"error_rate": 0.3, "latency_ms": 50, "seed": 1}}. \
Bodies over {MAX_BODY_BYTES / 2**20:g} MiB are refused with 413, malformed requests with a 4xx and \
{{"code": status, "msg": reason}}."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `uce venue`."""
    parser = subparsers.add_parser("venue", help="run the loopback Hyperliquid venue (a local sandbox)",
                                   epilog=_EPILOG)
    parser.add_argument("--data", type=Path, help="folder of hourly data: the market store layout or "
                                                  "candles-1h/ + funding-1h/ (default: <data dir>/market)")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765, 0 = any free)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="replay seconds per wall second (default 1; 0 = only /admin/step moves time)")
    parser.add_argument("--start", help="UTC replay start, e.g. 2023-12-01 (default: 14 days before the data ends)")
    parser.add_argument("--coins", help="comma-separated subset of the folder's coins")
    parser.add_argument("--account", action="append", default=[], metavar="ADDRESS[=USDC]",
                        help=f"fund a test account (repeatable; default {_DEFAULT_USDC:,.0f} USDC)")
    parser.add_argument("--half-spread-bps", type=float, default=1.0, help="mid to best bid/ask, basis points")
    parser.add_argument("--candle-history", type=int, default=HISTORY.candles_available,
                        help="candles candleSnapshot can reach back (default 5000; 0 = unlimited)")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of requests that fail (faults)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every request")
    parser.add_argument("--seed", type=int, default=0, help="seed of the injected faults")
    parser.set_defaults(func=run)


def _accounts(specs: list[str]) -> dict[str, float]:
    accounts = {}
    for spec in specs:
        address, _, usdc = spec.partition("=")
        if not (address.startswith("0x") and len(address) == 42):
            raise ValueError(f"--account {spec!r}: expected a 0x address of 40 hex digits, optionally =USDC")
        accounts[address.lower()] = float(usdc) if usdc else _DEFAULT_USDC
    return accounts


def build_venue(args: argparse.Namespace) -> Venue:
    """The venue the options describe (raises ValueError naming a bad option)."""
    root = args.data or data_dir(args) / "market"
    start = pd.Timestamp(args.start, tz="UTC") if args.start else None
    history = HISTORY._replace(candles_available=args.candle_history or None)
    return Venue.from_dir(
        root, coins=[c.strip() for c in args.coins.split(",")] if args.coins else None,
        start_ms=None if start is None else int(start.value // 1_000_000), speed=args.speed,
        accounts=_accounts(args.account), history=history, half_spread=args.half_spread_bps / 10_000,
        faults=Faults(error_rate=args.error_rate, latency_ms=args.latency_ms, seed=args.seed))


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    try:
        venue = build_venue(args)
        server = VenueServer(venue, args.port)
    except (ValueError, OSError) as exc:
        return fail(str(exc))
    start = pd.Timestamp(venue.clock.now_ms(), unit="ms", tz="UTC")
    Console().print(f"venue on {server.url}: {', '.join(venue.engine.coins)}, replay from {start} at "
                    f"{args.speed:g}x, {len(venue.engine.accounts)} funded account(s); Ctrl-C stops it")
    server.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
