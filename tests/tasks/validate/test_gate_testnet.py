"""Gate 3 forward (``--testnet``), pointed at the loopback venue over HTTP with its clock running fast: the
same loop that trades the real testnet in real time, here over a few seconds of wall time."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import requests
from eth_account import Account
from hyperliquid.utils.constants import TESTNET_API_URL
from pydantic import ValidationError

from exchange.errors import ConfigurationError
from exchange.hyperliquid.client import HyperliquidClient
from exchange.hyperliquid.ids import NonceSource
from exchange.hyperliquid.secrets import PRIVATE_KEY_ENV
from exchange.hyperliquid.settings import ExchangeSettings
from exchange.venue import Venue, VenueServer
from exchange.venue.data import BAR_MS, CoinSeries
from kernels.evaluate import Costs
from kernels.families import FAMILY_NAMES
from tasks.run.config import ValidationConfig
from tasks.validate.candidate import Candidate
from tasks.validate.gate3_testnet import FORWARD, TESTNET_FORWARD, forward_candidate, forward_venue
from tasks.validate.gate3_venue import gate3_candidate, gate3_venue

KEY = "0x" + "d4" * 32  # a throwaway key, funded on the test venues only
WALLET = Account.from_key(KEY)
T0_MS = 1_640_995_200_000  # 2022-01-01
N_BARS, START_BAR = 800, 608
"""The session starts when bar START_BAR - 1 has closed; the planted genome flips from short to long at 613."""
CAPITAL = 100_000.0
COSTS = Costs(fee=0.00045, slippage=0.0001)
# The stochastic genome of tests/tasks/test_validate.py: a 0.57 % stop loss and a 41 % take profit.
PLANTED = Candidate("planted", "BTC", FAMILY_NAMES.index("stochastic"),
                    np.array([0.088, 0.278, 0.963, 0.953, 0.604, 0.756, 0.249, 0.527, 0.411, 0.775, 0.228, 0.567]))


def sine_series(jump_at: int | None = None) -> CoinSeries:
    """BTC around 100: a 48-hour ±3 % cycle under a little noise, hourly funding of 0.00125 %; from bar
    `jump_at` on, prices are 2 % higher, that bar opening there (a gap)."""
    rng = np.random.default_rng(0)
    i = np.arange(N_BARS)
    close = 100 * (1 + 0.03 * np.sin(2 * np.pi * i / 48)) * np.exp(np.cumsum(rng.normal(0, 0.001, N_BARS)))
    open_ = np.r_[close[0], close[:-1]]
    if jump_at is not None:
        close[jump_at:] *= 1.02
        open_[jump_at + 1:] *= 1.02
        open_[jump_at] = close[jump_at]
    t = T0_MS + i.astype(np.int64) * BAR_MS
    return CoinSeries("BTC", t, open_, np.maximum(open_, close) * 1.001, np.minimum(open_, close) * 0.999, close,
                      np.ones(N_BARS), t + BAR_MS, np.full(N_BARS, 1.25e-5), np.zeros(N_BARS))


@contextmanager
def serve(*, speed: float = 0.0, jump_at: int | None = None) -> Iterator[VenueServer]:
    """The loopback venue over `sine_series(jump_at)` from START_BAR, WALLET funded; `speed` replay seconds per
    wall second (0: only /admin/step moves time)."""
    venue = Venue({"BTC": sine_series(jump_at)}, start_ms=T0_MS + START_BAR * BAR_MS, speed=speed,
                  accounts={WALLET.address: CAPITAL}, half_spread=COSTS.slippage)
    with VenueServer(venue) as running:
        yield running


@pytest.fixture
def server() -> Iterator[VenueServer]:
    with serve() as running:
        yield running


def client_of(server: VenueServer) -> HyperliquidClient:
    return HyperliquidClient(WALLET, ExchangeSettings(endpoint=server.url, timeout_s=5), nonces=NonceSource())


def stepping(server: VenueServer):
    """A `sleep` for the forward loop that also moves the venue one bar on through its /admin/step endpoint:
    bars complete only between polls, so the session is the same on every run."""
    def sleep(seconds: float) -> None:
        time.sleep(seconds)
        requests.post(f"{server.url}/admin/step", json={"hours": 1}, timeout=5).raise_for_status()
    return sleep


def assert_idle(client: HyperliquidClient) -> None:
    assert client.user_state().positions == {} and client.open_orders() == []


def test_forward_session_trades_each_new_bar_and_ends_flat(server: VenueServer) -> None:
    client = client_of(server)
    result = forward_candidate(PLANTED, client, costs=COSTS, capital=CAPITAL, tolerance=0.01, duration_s=2.2,
                               poll_s=0.2, sleep=stepping(server))
    steps = result["gate3_bars"] - 2  # the bar known at the start, one per step, the bar in progress at the end
    assert steps >= 6, result  # so the flip at bar 613 happened during the session
    assert result["gate3_end_ms"] - result["gate3_start_ms"] == steps * BAR_MS
    assert result["gate3_start_ms"] == T0_MS + START_BAR * BAR_MS
    assert (result["gate3_venue"], result["gate3_venue_url"]) == (FORWARD, server.url)
    assert result["gate3_wall_seconds"] >= 2.2  # it trades for the session it was given, not less
    # Short at the start, long after the flip, flat at the end: three market orders, stops re-armed twice.
    assert result["gate3_rejected"] == 0 and result["gate3_orders"] >= 3 + 2
    assert result["gate3_stop_loss_exits"] == result["gate3_expected_stop_loss_exits"]
    assert result["gate3_return"] == pytest.approx(result["gate3_expected_return"], abs=5e-4)
    assert result["gate3_performance"] > 0.9 and 0.0 < result["gate3_slippage_bps"] < 5.0
    assert_idle(client)
    fills = client.info.user_fills(client.address)
    assert [f["dir"] for f in fills[::-1]] == ["Open Short", "Short > Long", "Close Long"], fills


def test_a_stop_rests_on_the_venue_and_the_venue_executes_it() -> None:
    jump = START_BAR + 2  # the short taken at the start meets a 2 % gap up
    with serve(jump_at=jump) as server:
        client = client_of(server)
        result = forward_candidate(PLANTED, client, costs=COSTS, capital=CAPITAL, tolerance=0.01, duration_s=1.0,
                                   poll_s=0.2, sleep=stepping(server))
        fills = client.info.user_fills(client.address)[::-1]
        assert_idle(client)
        gap_open = server.venue.engine.series["BTC"].open[jump]
    assert result["gate3_stop_loss_exits"] == result["gate3_expected_stop_loss_exits"] == 1, result
    assert result["gate3_return"] == pytest.approx(result["gate3_expected_return"], abs=5e-4)
    stop = fills[1]  # after the opening short: the venue's stop, at the close of the gap bar, at its open
    assert (stop["dir"], stop["time"]) == ("Close Short", T0_MS + (jump + 1) * BAR_MS)
    assert float(stop["px"]) == client.rules["BTC"].round_price(gap_open * (1 + COSTS.slippage))
    assert fills[2]["dir"] == "Open Long"  # the target flipped in the same bar: a new entry from flat


def test_forward_session_on_a_free_running_clock_keeps_the_key_secret(monkeypatch, caplog) -> None:
    monkeypatch.setenv(PRIVATE_KEY_ENV, KEY)
    caplog.set_level(logging.DEBUG)
    with serve(speed=3600.0) as server:  # one replayed hour per wall second
        config = ValidationConfig(testnet=True, testnet_url=server.url, testnet_minutes=3 / 60, testnet_poll_s=0.05,
                                  venue_capital=CAPITAL)
        result = gate3_candidate(PLANTED, None, COSTS, config)  # the live-window inputs are not read forward
        assert_idle(client_of(server))
    assert result["gate3_wall_seconds"] >= 3.0  # three minutes of replay at 3600x: the whole session
    assert result["gate3_bars"] >= 3 and result["gate3_venue"] == FORWARD
    assert result["gate3_end_ms"] - result["gate3_start_ms"] >= (result["gate3_bars"] - 3) * BAR_MS
    assert result["gate3_return"] == pytest.approx(result["gate3_expected_return"], abs=0.005)
    secret = KEY.removeprefix("0x")
    assert secret not in caplog.text and secret not in repr(result) and caplog.text  # something was logged


def test_a_busy_wallet_is_refused_before_any_order(server: VenueServer) -> None:
    client = client_of(server)
    client.market_order("BTC", True, 10.0, strategy_id="someone-else", bar_time=1)
    with pytest.raises(ConfigurationError, match=r"is not idle \(positions: BTC; 0 resting orders\)"):
        forward_candidate(PLANTED, client, costs=COSTS, capital=CAPITAL, tolerance=0.01, duration_s=1.0, poll_s=0.1)
    assert len(client.info.user_fills(client.address)) == 1


def test_venue_names_and_mainnet_refusal() -> None:
    assert forward_venue("testnet") == forward_venue(TESTNET_API_URL) == TESTNET_FORWARD
    assert forward_venue("http://127.0.0.1:8765") == FORWARD
    assert gate3_venue(ValidationConfig()).startswith("loopback replay")
    assert gate3_venue(ValidationConfig(testnet=True, testnet_minutes=5)).startswith(
        f"testnet forward at {TESTNET_API_URL}, 5 min per candidate")
    for url in ("mainnet", "https://api.hyperliquid.xyz"):
        with pytest.raises(ValidationError, match="is Hyperliquid mainnet"):
            ValidationConfig(testnet=True, testnet_url=url)
    with pytest.raises(ValidationError, match="testnet trades gate 3, which runs only in full validation mode"):
        ValidationConfig(testnet=True, mode="fast")


def test_testnet_batch_trades_sessions_back_to_back_beyond_the_scope_limit(monkeypatch) -> None:
    """Forward sessions share one wallet: one batch, one after another, and the batch's time limit grows
    by the sessions' minutes (a 1 s scope would otherwise stop the second before it starts)."""
    from tasks.orchestration.safety import SafetyScope
    from tasks.validate.batches import testnet_batch
    from tasks.validate.candidate import ValidationInputs

    monkeypatch.setenv(PRIVATE_KEY_ENV, KEY)
    second = Candidate("planted-2", PLANTED.coin, PLANTED.family, PLANTED.genes)
    with serve(speed=3600.0) as server:
        config = ValidationConfig(testnet=True, testnet_url=server.url, testnet_minutes=2 / 60, testnet_poll_s=0.05,
                                  venue_capital=CAPITAL)
        inputs = ValidationInputs(coins={}, costs=COSTS)
        done = testnet_batch([PLANTED, second], inputs, config, SafetyScope("tiny", 1.0, 1_000))
        assert_idle(client_of(server))
    assert done.violation is None
    first, then = done.value
    assert not first["gate3_error"] and not then["gate3_error"]
    assert then["gate3_start_ms"] >= first["gate3_end_ms"]  # the second session began after the first ended
