"""Gate 3 forward (``uce run --testnet``): the candidate trades in real time on the Hyperliquid testnet, or on
any Hyperliquid-compatible URL such as a `uce venue` whose clock runs fast, for a fixed wall-clock time.

A session (`forward_candidate`):
1. The wallet must be idle: no position and no resting order anywhere. Another session, or `uce paper`
   on the same key, would mix its orders with these and the account value would no longer measure them.
2. Bars: the coin's completed hourly candles the venue serves (candleSnapshot, at most its latest 5,000)
   and its funding, polled through exchange.paper.feed.MarketFeed, the feed of the paper trader. The
   target of the newest bar is `Candidate.targets` on the bars known so far, the kernel's positions
   that gates 1-2 and the replay engine use; the bars read from the same first one every time.
3. At once, and then at every newly completed bar in order, a tasks.validate.gate3_trader.CandidateTrader moves
   the account to the target (IOC orders at the mid) and keeps the candidate's stop loss / take profit
   resting on the venue as reduce-only trigger orders.
4. When the time is up: a last look for new bars, then flatten (reduce-only) and cancel the stops.
   The expectation is the replay engine over the same bars: the newest completed bar at the start
   (closing at the mid the session entered at), every bar completed during it, and the bar in progress
   at the end (its high / low if the venue serves it) closing at the mid the session left at.

Sizing capital is min(venue_capital, the account's value at the start). Cloids carry the session's
start time, so a retried session never takes an earlier session's orders for its own.

Recorded with the gate3_* measures: gate3_venue ("testnet forward" on the Hyperliquid testnet, else
"forward"), gate3_venue_url, gate3_start_ms / gate3_end_ms (the venue's clock at the first and last
account read: replay time on a loopback venue), gate3_wall_seconds and gate3_bars.

The key comes from $UCE_PRIVATE_KEY or the Prefect Secret block 'uce-private-key'
(exchange.hyperliquid.secrets.load_wallet) in the process that trades: it is never a task parameter and never
reaches a log, an artifact or an exception message.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
from eth_account.signers.local import LocalAccount
from hyperliquid.utils.constants import TESTNET_API_URL

from exchange.errors import ConfigurationError
from exchange.hyperliquid.client import AccountState, HyperliquidClient
from exchange.hyperliquid.secrets import load_wallet
from exchange.hyperliquid.settings import ExchangeSettings
from exchange.paper.feed import BAR_MS, MarketFeed
from exchange.replay import Bar, Books, Broker, Engine, TargetSeries
from kernels.evaluate import Costs
from tasks.run.config import CostConfig, ValidationConfig
from tasks.validate.candidate import Candidate
from tasks.validate.gate3_trader import CandidateTrader, expected_exits, gate3_scores

__all__ = ["FORWARD", "TESTNET_FORWARD", "forward_candidate", "forward_venue", "testnet_candidate"]

log = logging.getLogger(__name__)

TESTNET_FORWARD = "testnet forward"
FORWARD = "forward"
_LEVERAGE = 10  # cross leverage of the account's coin: margin for targets up to 3x equity


def forward_venue(endpoint: str) -> str:
    """gate3_venue of a forward session on `endpoint` ("testnet" or a URL)."""
    return TESTNET_FORWARD if ExchangeSettings(endpoint=endpoint).url == TESTNET_API_URL.rstrip("/") else FORWARD


def testnet_candidate(candidate: Candidate, costs: Costs, config: ValidationConfig, *,
                      wallet: LocalAccount | None = None) -> dict:
    """gate3_* values of one candidate traded forward on `config.testnet_url` for `config.testnet_minutes`,
    with the key of $UCE_PRIVATE_KEY or the Prefect Secret block unless `wallet` is given."""
    client = HyperliquidClient(wallet if wallet is not None else load_wallet(),
                               ExchangeSettings(endpoint=config.testnet_url, timeout_s=10.0))
    return forward_candidate(candidate, client, costs=costs, capital=config.venue_capital,
                             tolerance=config.venue_tolerance, duration_s=config.testnet_minutes * 60.0,
                             poll_s=config.testnet_poll_s)


class _Session:
    """The bars a session has seen, with the target it acted on at each (the expectation's input)."""

    def __init__(self, candidate: Candidate, feed: MarketFeed, anchor_ms: int) -> None:
        self.candidate = candidate
        self.feed = feed
        self.anchor_ms = anchor_ms
        self.bars: list[Bar] = []
        self.targets: list[float] = []

    def target(self, open_ms: int) -> float:
        """The candidate's target at the close of the bar opening at `open_ms`, from the bars up to it."""
        market = self.feed.market(self.candidate.coin, self.anchor_ms, open_ms)
        return float(self.candidate.targets(market)[-1])

    def add(self, bar: Bar, close: float, target: float) -> None:
        self.bars.append(Bar(len(self.bars), bar.time, bar.open, max(bar.high, close), min(bar.low, close), close,
                             bar.volume, bar.funding))
        self.targets.append(target)

    def expectation(self, costs: Costs, capital: float) -> Books:
        """The replay engine's books over the session's bars, targets and the candidate's stops."""
        stop_loss, take_profit = self.candidate.stops()
        engine = Engine(TargetSeries(np.asarray(self.targets)), Broker(fee=costs.fee, slippage=costs.slippage),
                        capital=capital, stop_loss=stop_loss, take_profit=take_profit)
        return engine.run(self.bars)


def forward_candidate(candidate: Candidate, client: HyperliquidClient, *, costs: Costs, capital: float,
                      tolerance: float, duration_s: float, poll_s: float,
                      assumed_funding_rate: float = CostConfig().assumed_funding_rate,
                      clock: Callable[[], float] = time.monotonic,
                      sleep: Callable[[float], None] = time.sleep) -> dict:
    """gate3_* values of one candidate traded forward for `duration_s` wall seconds (module docstring).

    poll_s: seconds between looks for a new bar. assumed_funding_rate: the kernels' funding rate (per
    hour, fraction) of a bar the venue reports no funding for.
    """
    if duration_s <= 0 or poll_s <= 0:
        raise ValueError(f"duration_s={duration_s!r}, poll_s={poll_s!r}: both must be > 0")
    coin, url = candidate.coin, client.settings.url
    start = _idle_start(client, coin)
    feed = MarketFeed(client.info, client.settings.retry_policy(), assumed_funding_rate=assumed_funding_rate)
    feed.refresh([coin], [coin])
    anchor, last = feed.first(coin), feed.latest([coin])
    if anchor is None or last is None:
        raise ConfigurationError(f"{url} serves no hourly {coin} candles: gate 3 cannot trade {candidate.strategy_id}")
    capital = min(capital, start.account_value)
    client.update_leverage(coin, min(_LEVERAGE, client.rules[coin].max_leverage))
    stop_loss, take_profit = candidate.stops()
    session = _Session(candidate, feed, anchor)
    target = session.target(last)  # the first call may compile the kernels: the session starts after it
    trader = CandidateTrader(client, coin, f"{candidate.strategy_id}@{_venue_ms(start)}", stop_loss=stop_loss,
                             take_profit=take_profit, capital=capital)
    started = clock()
    try:
        session.add(feed.bar(coin, last), client.mid(coin), target)
        trader.on_bar(target, last)
        while (left := duration_s - (clock() - started)) > 0:
            sleep(min(poll_s, left))
            last = _trade_new_bars(session, trader, last)
        last = _trade_new_bars(session, trader, last)
        mid = client.mid(coin)
        trader.flatten(last + BAR_MS, tag="end")
        session.add(_bar_in_progress(client, coin, last + BAR_MS, mid), mid, 0.0)
    except BaseException:
        _abandon(trader, last)
        raise
    end = client.user_state()
    expected = session.expectation(costs, capital)
    measures = trader.measures() | expected_exits(expected)
    log.info("gate 3 forward on %s: %s traded %d bars in %.0f s", url, candidate.strategy_id, len(session.bars),
             clock() - started)
    return measures | gate3_scores(trader.equity(end) / capital - 1.0, expected.equity / capital - 1.0,
                                   measures, tolerance) | {
        "gate3_venue": forward_venue(url), "gate3_venue_url": url,
        "gate3_start_ms": _venue_ms(trader.start), "gate3_end_ms": _venue_ms(end),
        "gate3_wall_seconds": round(clock() - started, 3), "gate3_bars": len(session.bars)}


def _venue_ms(state: AccountState) -> int:
    """The venue's clock when it reported `state` (the wall clock if it did not say)."""
    return state.time_ms if state.time_ms is not None else int(time.time() * 1000)


def _idle_start(client: HyperliquidClient, coin: str) -> AccountState:
    """The account's state, if it holds no position and no resting order (module docstring, step 1)."""
    state = client.user_state()
    held = sorted(c for c, p in state.positions.items() if p.size != 0.0)
    resting = client.open_orders()
    if held or resting:
        raise ConfigurationError(
            f"wallet {client.address} on {client.settings.url} is not idle (positions: {', '.join(held) or 'none'}; "
            f"{len(resting)} resting orders): gate 3 trades {coin} forward only from an idle wallet "
            f"(is `uce paper` trading it?)")
    if state.account_value <= 0:
        raise ConfigurationError(f"wallet {client.address} on {client.settings.url} has no funds to trade with")
    return state


def _trade_new_bars(session: _Session, trader: CandidateTrader, last: int) -> int:
    """Hand every bar completed since `last` to the trader, oldest first; the newest bar's open time."""
    coin = session.candidate.coin
    session.feed.refresh([coin], [])
    newest = session.feed.latest([coin]) or last
    if newest > last:  # funding rows only come with new bars: spare the venue's rate limit in between
        session.feed.refresh([], [coin])
    for open_ms in range(last + BAR_MS, newest + 1, BAR_MS):
        bar = session.feed.bar(coin, open_ms)
        if bar is None:  # no trade in that hour: no candle, nothing to act on
            continue
        target = session.target(open_ms)
        session.add(bar, bar.close, target)
        trader.on_bar(target, open_ms)
    return newest


def _bar_in_progress(client: HyperliquidClient, coin: str, open_ms: int, mid: float) -> Bar:
    """The bar opening at `open_ms` so far, as the venue serves it (Hyperliquid serves the bar in
    progress; a replaying venue only completed ones), else a bar that stayed at `mid`."""
    rows = client.info.candles_snapshot(coin, "1h", open_ms, open_ms + BAR_MS - 1)
    row = next((r for r in rows if int(r["t"]) == open_ms), None)
    if row is None:
        return Bar(open_ms // BAR_MS, open_ms, mid, mid, mid, mid, 0.0, 0.0)
    return Bar(open_ms // BAR_MS, open_ms, float(row["o"]), float(row["h"]), float(row["l"]), mid, float(row["v"]), 0.0)


def _abandon(trader: CandidateTrader, last: int) -> None:
    """After a failure, leave the wallet idle if the venue lets us (the session's own error is raised)."""
    try:
        trader.flatten(last + BAR_MS, tag="abandon")
    except Exception as exc:  # noqa: BLE001 - the original error matters more; this one is only logged
        log.error("gate 3 forward could not flatten %s after a failure: %s: %s", trader.coin, type(exc).__name__, exc)
