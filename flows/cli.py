"""The ``uce`` command line: one subcommand module per job in ``flows/commands``."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from flows.commands import data, health, lineage, paper, report, run, stage, venue

# Subcommand modules; each exposes register(subparsers).
_COMMANDS = (run, data, venue, paper, report, lineage, stage, health)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uce",
        description="Ultra-Compressed Evolution: evolve, validate and paper-trade Hyperliquid strategies.",
    )
    parser.add_argument("--data-dir", help="market store and run artifacts (default: $UCE_DATA_DIR or ./data)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Per-request lines from the HTTP clients drown the run's own messages.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
