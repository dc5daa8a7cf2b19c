"""`uce paper`: run the paper trader, show its book, and the kill switch.

    uce paper run [--url URL] [--once] [--advance] [--rules FILE]
    uce paper status [--json] [--url URL]
    uce paper stop (--all | ID ...) [--url URL]
    uce paper resume
    uce paper rules [FILE]
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from exchange.errors import ExchangeError, TemporaryError
from exchange.paper import PaperSettings, PaperStateError, RegistryError, book_status, nothing_to_trade, venue_account
from exchange.paper.replay_clock import loopback_advance
from flows.commands.common import data_dir, fail
from tasks.deploy.decision import RulesError, load_rules, rules_template
from tasks.deploy.paper import account_address, book_endpoint, open_trader
from tasks.deploy.stage import paper_paths

__all__ = ["register", "run"]

log = logging.getLogger(__name__)

HALTED_EXIT = 3
_EPILOG = (f"exit codes: 0 done, 2 a problem to fix (bad rules file, unreachable venue, damaged state), "
           f"{HALTED_EXIT} the book is halted (emergency or stop --all; `uce paper resume` lifts it). "
           "The key comes from $UCE_PRIVATE_KEY or the Prefect Secret block 'uce-private-key'.")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `uce paper` and its subcommands."""
    parser = subparsers.add_parser("paper", help="paper-trade the deployed strategies", epilog=_EPILOG)
    sub = parser.add_subparsers(dest="paper_command", required=True, metavar="ACTION")

    p = sub.add_parser("run", help="trade every new bar (until Ctrl-C, or once)", epilog=_EPILOG)
    _venue_options(p)
    p.add_argument("--once", action="store_true", help="process the bars completed so far, then exit")
    p.add_argument("--advance", action="store_true",
                   help="loopback venue only: step its replay clock one bar after each bar (replays at full speed)")
    p.add_argument("--rules", help="rules file (YAML / JSON / TOML; default: the embedded rules)")
    p.add_argument("--poll", type=float, default=30.0, help="seconds between polls for a new bar (default 30)")
    p.add_argument("--lookback", type=int, default=PaperSettings().lookback_bars,
                   help="bars of history the kernels read before the first bar (default %(default)s)")
    p.set_defaults(func=run)

    p = sub.add_parser("status", help="positions, PnL and the reasons behind every retirement or halt, "
                                      "and the account's equity on the venue")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _venue_options(p, retries=2, timeout_s=5.0)
    p.set_defaults(func=run)

    p = sub.add_parser("stop", help="kill switch: flatten strategies now (and halt the book with --all)")
    p.add_argument("--all", action="store_true", help="every strategy, and halt the book")
    p.add_argument("ids", nargs="*", default=[], metavar="ID", help="strategy ids to stop")
    _venue_options(p)
    p.add_argument("--reason", default="stopped by the operator", help="recorded in the status")
    p.set_defaults(func=run)

    p = sub.add_parser("resume", help="lift the halt of an emergency or of stop --all")
    p.set_defaults(func=run)

    p = sub.add_parser("rules", help="print the embedded rules, or check a rules file")
    p.add_argument("file", nargs="?", help="rules file to check")
    p.set_defaults(func=run)


def _venue_options(p: argparse.ArgumentParser, *, retries: int = 6, timeout_s: float = 10.0) -> None:
    p.add_argument("--url", help="venue: 'testnet', 'mainnet' or a URL such as the loopback venue's "
                                 "(default: the book's venue, else testnet)")
    p.add_argument("--retries", type=int, default=retries,
                   help="tries per request before giving up (default %(default)s)")
    p.add_argument("--timeout", type=float, default=timeout_s, help="seconds per request (default %(default)s)")


def _empty_book(idle: str) -> str:
    """The one line that says the book has nothing to trade; `idle` from `nothing_to_trade` names the registry."""
    return f"nothing deployed, the paper book is empty ({idle}); run `uce run` first to deploy strategies"


def run(args: argparse.Namespace) -> int:
    """Dispatch `uce paper ACTION`; problems the user can fix print one line and return 2."""
    root = data_dir(args)
    action = args.paper_command
    try:
        if action == "rules":
            return _rules(args)
        if action == "status":
            return _status(root, args)
        if action in ("run", "stop", "resume"):
            return _trade(root, args)
    except (RulesError, PaperStateError, RegistryError, ValueError) as exc:
        return fail(str(exc))
    except TemporaryError as exc:
        return fail(f"cannot reach the venue at {getattr(args, 'url', None) or 'the book endpoint'}: {exc}")
    except ExchangeError as exc:
        return fail(f"{type(exc).__name__}: {exc}")
    raise ValueError(f"unknown paper action {action!r}")


def _rules(args: argparse.Namespace) -> int:
    if args.file:
        load_rules(args.file)
        print(f"{args.file}: valid")
    else:
        print(rules_template(), end="")
    return 0


def _trade(root, args: argparse.Namespace) -> int:
    if args.paper_command == "stop" and args.all == bool(args.ids):
        return fail("give either --all or the strategy IDs to stop")
    if args.paper_command == "run":
        idle = nothing_to_trade(paper_paths(root))
        if idle is not None:  # before the key and the venue: an empty book needs neither
            print(_empty_book(idle))
            return 0
    settings = PaperSettings(lookback_bars=getattr(args, "lookback", PaperSettings().lookback_bars))
    trader = open_trader(root, url=getattr(args, "url", None), rules_path=getattr(args, "rules", None),
                         retries=getattr(args, "retries", 6), timeout_s=getattr(args, "timeout", 10.0),
                         settings=settings)
    if args.paper_command == "resume":
        reason = trader.resume()
        print("the book was not halted" if reason is None else f"resumed; the halt was: {reason}")
        return 0
    if args.paper_command == "stop":
        report = trader.stop(None if args.all else list(args.ids), reason=args.reason)
        print(f"stopped {len(report.stopped)} strateg{'y' if len(report.stopped) == 1 else 'ies'} "
              f"({', '.join(report.stopped) or 'none active'}); {report.orders} flattening order(s), "
              f"{report.rejected} refused" + ("; the book is halted" if report.halted else ""))
        return 0
    advance = loopback_advance(trader.endpoint, timeout_s=args.timeout) if args.advance else None
    why = trader.run(once=args.once, advance=advance, poll_s=args.poll)
    print(why)
    return HALTED_EXIT if trader.halted is not None else 0


def _status(root: Path, args: argparse.Namespace) -> int:
    paths = paper_paths(root)
    status, idle = book_status(paths), nothing_to_trade(paths)
    venue = _venue_status(root, args)
    if args.json:
        print(json.dumps({**(status or {"book_id": None, "strategies": []}), "idle": idle, "venue": venue},
                         indent=2, default=str))
        return 0
    console = Console()
    if status is None:
        console.print(escape(_empty_book(idle) if idle else f"no paper book in {paths.root} yet: `uce paper run` "
                             "starts trading the deployed strategies"), soft_wrap=True)
        console.print(_venue_line(venue), soft_wrap=True)
        return 0
    console.print(f"[bold]paper book[/] {status['book_id'][:8]} on {status['endpoint']} ({status['address']}); "
                  f"last bar {status['last_bar']}", soft_wrap=True)
    console.print(_venue_line(venue), soft_wrap=True)
    if not status["strategies"]:  # a book that never held a strategy: its zeros would only mislead
        console.print(escape(_empty_book(idle)) if idle else "no strategy has joined the book yet: the deployed "
                      "ones join at the next bar of `uce paper run`", soft_wrap=True)
        return 0
    _print_book(console, status)
    return 0


def _venue_status(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The account's equity on the venue (see `venue_account`); with no book and no key there is no
    address to read, and "error" says so."""
    endpoint = book_endpoint(root, args.url)
    try:
        address = account_address(root)
    except ExchangeError as exc:  # no key: the status still shows the book
        why = f"not read: {exc}"
    except Exception as exc:  # noqa: BLE001 - the Prefect Secret lookup fails in many ways (no server, ...)
        why = f"not read: the key could not be looked up ({type(exc).__name__}: {exc})"
    else:
        return venue_account(endpoint, address, timeout_s=args.timeout, retries=args.retries)
    return {"endpoint": endpoint, "address": None, "equity": None, "withdrawable": None, "margin_used": None,
            "positions": None, "error": why}


def _venue_line(venue: dict[str, Any]) -> str:
    """One line of console markup: the venue's equity of the account, or why it was not read."""
    who = f"venue account {venue['address']}" if venue["address"] else "venue account"
    if venue["error"]:
        return f"[yellow]{escape(who)}: {escape(venue['error'])}[/]"
    return (f"{who} on {venue['endpoint']}: equity {venue['equity']:,.2f} USD (withdrawable "
            f"{venue['withdrawable']:,.2f}, margin used {venue['margin_used']:,.2f}, "
            f"{venue['positions']} open position{'' if venue['positions'] == 1 else 's'})")


def _print_book(console: Console, status: dict[str, Any]) -> None:
    console.print(f"book equity {status['equity']:,.2f} USD of {status['capital']:,.2f} (PnL {status['pnl']:+,.2f}, "
                  f"drawdown {status['drawdown']:.1%}); {status['orders']} orders, {status['rejected']} refused; "
                  + ", ".join(f"{n} {k}" for k, n in status["counts"].items()), soft_wrap=True)
    if status["halted"]:
        h = status["halted"]
        console.print(f"[bold red]HALTED[/] by {h['by']} at {h['at']}: {h['reason']}", soft_wrap=True)
    for coin, diff in status["reconciliation"].items():
        console.print(f"[yellow]venue position of {coin} is {diff['venue']:g}, the book's {diff['book']:g}[/]",
                      soft_wrap=True)
    table = Table(show_edge=False)
    for name in ("strategy", "coin", "family", "status", "position", "equity", "PnL", "return", "drawdown",
                 "Sharpe", "fills"):
        table.add_column(name, justify="left" if name in ("strategy", "coin", "family", "status") else "right")
    for s in status["strategies"]:
        table.add_row(s["strategy_id"], s["coin"], s["family"] or "?", s["status"], f"{s['position']:g}",
                      f"{s['equity']:,.2f}", f"{s['pnl']:+,.2f}", f"{s['return']:+.2%}", f"{s['drawdown']:.1%}",
                      f"{s['sharpe']:.2f}", str(s["fills"]))
    console.print(table)
    for s in status["strategies"]:
        if s["status"] != "active":
            console.print(f"{s['strategy_id']} {s['status']} at {s['status_at']}: {s['reason']}", soft_wrap=True)
