"""Gate 3: the candidate trades the live window through the exchange client (the unmodified SDK inside)
against the loopback venue replaying those bars, and its real fills are measured.

Per candidate, a private venue serves the coin's bars up to the live window's end, starting when the
bar before the window has closed (mid = that close), its clock stepped one bar at a time; a funded
throwaway account (key derived from the strategy id) trades it. At each bar close the strategy's target
is read; when it changes, the account is resized with one IOC market order: target x account value /
mid - position coins (a close is reduce-only; orders under the venue's $10 minimum are skipped). The
venue fills at mid ± its half-spread (set to the run's slippage) with the run's taker fee and charges
funding at each bar close.

Stops: the client has no trigger-order call yet, so gate 3 trades the targets without the candidate's
stop loss / take profit, and its expectation is the replay engine on the same bars with stops off.

Measured: live return (account value) vs that expectation, slippage of each fill vs the mid, rejected
orders, latency of each order call. Scores in [0, 1]:
    performance = max(0, 1 - |live return - expected return| / venue_tolerance)
    execution   = mean(max(0, 1 - mean |slippage| / 10 bp), 1 - rejected / orders, max(0, 1 - p95 latency / 1 s))
The gate passes when performance >= min_venue_performance; its score is the mean of the two.
"""
from __future__ import annotations

import hashlib
import time

import numpy as np
from eth_account import Account

from exchange.client import HyperliquidClient
from exchange.errors import ExchangeError
from exchange.ids import NonceSource
from exchange.limits import MIN_NOTIONAL_USD, Fees
from exchange.replay import Broker, Engine, TargetSeries
from exchange.settings import ExchangeSettings
from exchange.venue import Venue, VenueServer
from exchange.venue.data import BAR_MS, CoinSeries
from kernels.evaluate import Costs
from tasks.candidate import Candidate, CoinInputs
from tasks.gate_replay import replay_bars

__all__ = ["SLIPPAGE_SCALE_BPS", "LATENCY_SCALE_MS", "venue_candidate"]

SLIPPAGE_SCALE_BPS = 10.0  # mean |slippage| at which the execution score's slippage part reaches 0
LATENCY_SCALE_MS = 1000.0  # p95 order latency at which its latency part reaches 0


def venue_series(coin_name: str, coin: CoinInputs) -> CoinSeries:
    """The coin's bars as the venue replays them; each bar's funding is paid at its close."""
    m = coin.market
    return CoinSeries(coin_name, coin.times_ms.astype(np.int64), m.open, m.high, m.low, m.close, m.volume,
                      coin.times_ms.astype(np.int64) + BAR_MS, m.funding, np.zeros(len(m.close)))


def venue_candidate(candidate: Candidate, coin: CoinInputs, costs: Costs, *, capital: float,
                    tolerance: float) -> dict:
    """gate3_* values of one candidate traded over the live window (module docstring)."""
    l0, l1 = coin.live
    if l1 - l0 < 2:
        raise ValueError(f"the live window has {l1 - l0} bars; gate 3 needs at least 2")
    target = candidate.targets(coin.market, stop=l1).tolist()  # Python floats: the SDK msgpacks what it is given
    wallet = Account.from_key(hashlib.sha256(f"uce-gate3|{candidate.strategy_id}".encode()).digest())
    venue = Venue({candidate.coin: venue_series(candidate.coin, coin)}, start_ms=int(coin.times_ms[l0 - 1]) + BAR_MS,
                  speed=0.0, accounts={wallet.address: capital}, fees=Fees(taker=costs.fee),
                  half_spread=costs.slippage)
    orders = rejected = skipped = 0
    slippage_bps, latency_ms = [], []
    with VenueServer(venue) as server:
        client = HyperliquidClient(wallet, ExchangeSettings(endpoint=server.url, timeout_s=5.0, max_attempts=6,
                                                            backoff_s=0.01), nonces=NonceSource())
        rules = client.rules[candidate.coin]
        client.update_leverage(candidate.coin, min(10, rules.max_leverage))
        previous = 0.0
        for t in range(l0 - 1, l1):
            if target[t] != previous:
                previous = target[t]
                state = client.user_state()
                held = state.positions[candidate.coin].size if candidate.coin in state.positions else 0.0
                mid = client.mid(candidate.coin)
                size = target[t] * state.account_value / mid - held
                closing = target[t] == 0.0 and held != 0.0
                if closing:
                    size = -held
                if size == 0.0 or rules.round_size(abs(size)) == 0.0 or (
                        not closing and abs(size) * mid < MIN_NOTIONAL_USD):
                    skipped += 1
                else:
                    orders += 1
                    started = time.perf_counter()
                    try:
                        result = client.market_order(candidate.coin, size > 0, abs(size),
                                                     strategy_id=candidate.strategy_id,
                                                     bar_time=int(coin.times_ms[t]), reduce_only=closing)
                    except ExchangeError:
                        rejected += 1
                    else:
                        if result.avg_px is not None:
                            slippage_bps.append((result.avg_px / mid - 1.0) * 1e4 * (1.0 if size > 0 else -1.0))
                    latency_ms.append((time.perf_counter() - started) * 1000.0)
            if t < l1 - 1:
                venue.step(BAR_MS)
        live_value = client.user_state().account_value
    expected = Engine(TargetSeries(np.asarray(target)), Broker(fee=costs.fee, slippage=costs.slippage), capital=capital)
    expected.run(replay_bars(coin, l0 - 1, l1))
    live_return = live_value / capital - 1.0
    expected_return = expected.books.equity / capital - 1.0
    mean_slip = float(np.mean(np.abs(slippage_bps))) if slippage_bps else 0.0
    p95_latency = float(np.percentile(latency_ms, 95)) if latency_ms else 0.0
    performance = max(0.0, 1.0 - abs(live_return - expected_return) / tolerance)
    execution = float(np.mean([max(0.0, 1.0 - mean_slip / SLIPPAGE_SCALE_BPS), 1.0 - rejected / max(orders, 1),
                               max(0.0, 1.0 - p95_latency / LATENCY_SCALE_MS)]))
    return {
        "gate3_return": live_return,
        "gate3_expected_return": expected_return,
        "gate3_orders": orders,
        "gate3_rejected": rejected,
        "gate3_skipped_orders": skipped,
        "gate3_slippage_bps": mean_slip,
        "gate3_latency_ms_p95": p95_latency,
        "gate3_performance": performance,
        "gate3_execution": execution,
    }
