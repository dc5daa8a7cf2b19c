"""Gate 3: the candidate trades through the exchange client (the unmodified SDK inside) and its real fills
are measured against what the replay engine expects on the same bars. Two venues:

- loopback replay (default, `venue_candidate`): the live window replayed at full speed by the loopback
  venue;
- forward (`ValidationConfig.testnet`, tasks.validate.gate3_testnet): in real time on the Hyperliquid testnet, or
  any Hyperliquid-compatible URL, for `testnet_minutes`.

`gate3_candidate` picks the one the configuration names; `gate3_venue` says which, for the manifest.

Loopback replay, per candidate: a private venue serves the coin's bars up to the live window's end,
starting when the bar before the window has closed (mid = that close), its clock stepped one bar at a
time; a funded throwaway account (key derived from the strategy id) trades it with a
tasks.validate.gate3_trader.CandidateTrader: at each bar close the strategy's target is read and, when it changes,
the account is resized with one IOC market order; the candidate's stop loss / take profit rest on the
venue as reduce-only trigger orders, which the venue executes on the bar whose low / high reaches them
(at the trigger, or at the open when the bar gaps through it). The venue fills at mid ± its half-spread
(set to the run's slippage) with the run's taker fee and charges funding at each bar close. The
expectation is the replay engine on the same bars with the same targets and stops.

Measured: live return (account value) vs that expectation, slippage of each fill vs the mid, rejected
orders, latency of each order call, stop exits the venue executed. Scores in [0, 1]:
    performance = max(0, 1 - |live return - expected return| / venue_tolerance)
    execution   = mean(max(0, 1 - mean |slippage| / 10 bp), 1 - rejected / orders, max(0, 1 - p95 latency / 1 s))
The gate passes when performance >= min_venue_performance; its score is the mean of the two.
"""
from __future__ import annotations

import hashlib

import numpy as np
from eth_account import Account

from exchange.hyperliquid.client import HyperliquidClient
from exchange.hyperliquid.ids import NonceSource
from exchange.hyperliquid.limits import Fees
from exchange.hyperliquid.settings import ExchangeSettings
from exchange.replay import Broker, Engine, TargetSeries
from exchange.venue import Venue, VenueServer
from exchange.venue.data import BAR_MS, CoinSeries
from kernels.evaluate import Costs
from tasks.run.config import ValidationConfig
from tasks.validate.candidate import Candidate, CoinInputs
from tasks.validate.gate2_replay import replay_bars
from tasks.validate.gate3_testnet import forward_venue, testnet_candidate
from tasks.validate.gate3_trader import (LATENCY_SCALE_MS, SLIPPAGE_SCALE_BPS, CandidateTrader, expected_exits,
                                         gate3_scores)

__all__ = ["LATENCY_SCALE_MS", "LOOPBACK_REPLAY", "SLIPPAGE_SCALE_BPS", "gate3_candidate", "gate3_venue",
           "venue_candidate", "venue_series"]

LOOPBACK_REPLAY = "loopback replay"
"""gate3_venue of a candidate whose live window was replayed by the loopback venue."""


def gate3_candidate(candidate: Candidate, coin: CoinInputs | None, costs: Costs, config: ValidationConfig) -> dict:
    """gate3_* values of one candidate on the venue `config` names (module docstring); `coin` (the bars
    through the live window) is only read by the loopback replay."""
    if config.testnet:
        return testnet_candidate(candidate, costs, config)
    if coin is None:
        raise ValueError(f"gate 3 of {candidate.strategy_id}: the loopback replay needs the coin's live-window bars")
    return venue_candidate(candidate, coin, costs, capital=config.venue_capital, tolerance=config.venue_tolerance)


def gate3_venue(config: ValidationConfig) -> str:
    """Which venue gate 3 trades on, in words (the manifest's validation.gate3_venue)."""
    if config.testnet:
        return (f"{forward_venue(config.testnet_url)} at {ExchangeSettings(endpoint=config.testnet_url).url}, "
                f"{config.testnet_minutes:g} min per candidate in real time; venue-held stop orders")
    return f"{LOOPBACK_REPLAY} of the live window; venue-held stop orders"


def venue_series(coin_name: str, coin: CoinInputs) -> CoinSeries:
    """The coin's bars as the venue replays them; each bar's funding is paid at its close."""
    m = coin.market
    return CoinSeries(coin_name, coin.times_ms.astype(np.int64), m.open, m.high, m.low, m.close, m.volume,
                      coin.times_ms.astype(np.int64) + BAR_MS, m.funding, np.zeros(len(m.close)))


def venue_candidate(candidate: Candidate, coin: CoinInputs, costs: Costs, *, capital: float,
                    tolerance: float) -> dict:
    """gate3_* values of one candidate traded over the live window on the loopback venue (module docstring)."""
    l0, l1 = coin.live
    if l1 - l0 < 2:
        raise ValueError(f"the live window has {l1 - l0} bars; gate 3 needs at least 2")
    target = candidate.targets(coin.market, stop=l1).tolist()  # Python floats: the SDK msgpacks what it is given
    stop_loss, take_profit = candidate.stops()
    wallet = Account.from_key(hashlib.sha256(f"uce-gate3|{candidate.strategy_id}".encode()).digest())
    start_ms = int(coin.times_ms[l0 - 1]) + BAR_MS
    venue = Venue({candidate.coin: venue_series(candidate.coin, coin)}, start_ms=start_ms, speed=0.0,
                  accounts={wallet.address: capital}, fees=Fees(taker=costs.fee), half_spread=costs.slippage)
    with VenueServer(venue) as server:
        client = HyperliquidClient(wallet, ExchangeSettings(endpoint=server.url, timeout_s=5.0, max_attempts=6,
                                                            backoff_s=0.01), nonces=NonceSource())
        client.update_leverage(candidate.coin, min(10, client.rules[candidate.coin].max_leverage))
        trader = CandidateTrader(client, candidate.coin, candidate.strategy_id, stop_loss=stop_loss,
                                 take_profit=take_profit, capital=capital)
        for t in range(l0 - 1, l1):
            trader.on_bar(target[t], int(coin.times_ms[t]))
            if t < l1 - 1:
                venue.step(BAR_MS)
        end = client.user_state()
    expected = Engine(TargetSeries(np.asarray(target)), Broker(fee=costs.fee, slippage=costs.slippage),
                      capital=capital, stop_loss=stop_loss, take_profit=take_profit)
    expected.run(replay_bars(coin, l0 - 1, l1))
    measures = trader.measures() | expected_exits(expected.books)
    return measures | gate3_scores(trader.equity(end) / capital - 1.0, expected.books.equity / capital - 1.0,
                                   measures, tolerance) | {
        "gate3_venue": LOOPBACK_REPLAY, "gate3_start_ms": start_ms, "gate3_end_ms": end.time_ms or venue.clock.now_ms(),
        "gate3_bars": l1 - l0 + 1}
