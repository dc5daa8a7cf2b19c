"""The ``uce`` command line: one subcommand module per job in ``flows/commands``.

Whatever goes wrong ends in one line on stderr: a user's error (bad input, a refused request) exits 2,
anything unexpected exits 1 and names itself, Ctrl-C (or SIGTERM) exits 130 after the run has recorded
that it was interrupted. ``-v`` shows the traceback as well, and debug logging.
"""
from __future__ import annotations

import os

# uce's own log records go to the Prefect run they happen in (the UI's Logs tab), in this process and in
# the Ray workers it starts; outside a run they stay on the console only. Set before Prefect is imported.
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "flows,tasks,exchange,kernels")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")

import argparse  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from flows.commands import data, health, lineage, paper, report, run, stage, venue  # noqa: E402

# Subcommand modules; each exposes register(subparsers).
_COMMANDS = (run, data, venue, paper, report, lineage, stage, health)
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uce",
        description="Ultra-Compressed Evolution: evolve, validate and paper-trade Hyperliquid strategies.",
    )
    parser.add_argument("--data-dir", help="market store and run artifacts (default: $UCE_DATA_DIR or ./data)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, and tracebacks of errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = CurrentStderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, handlers=[handler])
    # Per-request lines from the HTTP clients drown the run's own messages.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a polite kill stops the run the way Ctrl-C does
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, the traceback only on request
        if args.verbose:
            traceback.print_exc()
        print(f"error: {type(exc).__name__}: {_first_line(exc)}" + ("" if args.verbose else " (-v shows where)"),
              file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


class CurrentStderrHandler(logging.StreamHandler):  # no leading "_": Prefect would replace it
    """Writes to whatever ``sys.stderr`` is when a record comes: while a progress bar is live, rich's
    stand-in, which prints the line above the bar instead of under a stale copy of it."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


if __name__ == "__main__":
    sys.exit(main())
