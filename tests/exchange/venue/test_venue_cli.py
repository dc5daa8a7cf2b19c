"""`uce venue` options, and the operator endpoints a sandbox user drives over HTTP."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import requests
from venue_helpers import ALICE, BALANCE, N_BARS, T0_MS

from exchange.venue import Venue, VenueServer
from exchange.venue.data import BAR_MS
from flows.commands import venue as venue_command


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    venue_command.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["venue", *argv])


def test_options_build_the_venue(market_dir: Path) -> None:
    args = _args("--data", str(market_dir), "--speed", "0", "--start", "2023-01-10", "--coins", "ETH",
                 "--account", f"{ALICE.address}=2500", "--account", "0x" + "ab" * 20, "--candle-history", "0",
                 "--error-rate", "0.2", "--seed", "3", "--half-spread-bps", "2")
    venue = venue_command.build_venue(args)
    assert venue.engine.coins == ["ETH"] and venue.clock.now_ms() == T0_MS + 9 * 24 * BAR_MS
    assert {a: x.balance for a, x in venue.engine.accounts.items()} == {ALICE.address.lower(): 2500.0,
                                                                          "0x" + "ab" * 20: 100_000.0}
    assert venue.info.history.candles_available is None and venue.engine.half_spread == 0.0002
    assert (venue.faults.error_rate, venue.faults.seed) == (0.2, 3)


def test_bad_options_are_one_line_errors(market_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert venue_command.run(_args("--data", str(market_dir), "--account", "bob")) == 2
    assert capsys.readouterr().err.startswith("error: --account 'bob': expected a 0x address")
    assert venue_command.run(_args("--data", str(market_dir / "missing"))) == 2


def test_operator_endpoints(venue: Venue, server: VenueServer) -> None:
    def admin(path: str, body: dict | None = None) -> dict:
        answer = requests.post(f"{server.url}/admin/{path}", json=body or {}, timeout=5)
        assert answer.status_code == 200, answer.text
        return answer.json()

    start = admin("clock")["now"]
    assert admin("step", {"hours": 2})["now"] == start + 2 * BAR_MS
    assert admin("clock") == {"now": start + 2 * BAR_MS, "end": T0_MS + N_BARS * BAR_MS}
    assert admin("fund", {"user": ALICE.address, "usdc": 10})["balance"] == BALANCE + 10
    assert admin("faults", {"error_rate": 1.0, "seed": 1})["error_rate"] == 1.0
    assert requests.post(f"{server.url}/admin/nope", json={}, timeout=5).status_code == 400
