"""HyperliquidClient against the loopback venue: rounding, typed errors, idempotency, and faults."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from eth_account.signers.local import LocalAccount
from venue_helpers import ALICE, BOB, START_BAR, T0_MS

from exchange.errors import (ConfigurationError, IocNoMatchError, MinNotionalError, OrderNotFoundError, ReduceOnlyError,
                             TemporaryError)
from exchange.hyperliquid.client import HyperliquidClient
from exchange.hyperliquid.ids import NonceSource, cloid_for
from exchange.hyperliquid.limits import FEES
from exchange.hyperliquid.settings import ExchangeSettings
from exchange.venue import Faults, Venue, VenueServer
from exchange.venue.data import BAR_MS, CoinSeries

SID = "strategy-7f3a"


def _client(server: VenueServer, *, max_attempts: int = 8, wallet: LocalAccount = ALICE) -> HyperliquidClient:
    settings = ExchangeSettings(endpoint=server.url, timeout_s=5, max_attempts=max_attempts, backoff_s=0)
    return HyperliquidClient(wallet, settings, nonces=NonceSource(), sleep=lambda s: None)


def test_orders_are_rounded_to_tick_and_lot(server: VenueServer) -> None:
    client = _client(server)
    price = client.mid("ETH") * 0.91234567
    result = client.place_order("ETH", True, 1.23456789, price, strategy_id=SID, bar_time=1)
    assert result.status == "resting"
    (order,) = client.open_orders()
    assert order["sz"] == "1.2346" and float(order["limitPx"]) == client.rules["ETH"].round_price(price)
    assert order["cloid"] == str(cloid_for(SID, 1))


def test_market_order_fills_and_shows_in_user_state(venue: Venue, server: VenueServer) -> None:
    client = _client(server)
    result = client.market_order("BTC", False, 0.25, strategy_id=SID, bar_time=2)
    assert (result.status, result.filled_size) == ("filled", 0.25)
    venue.step(3 * BAR_MS)
    state = client.user_state()
    position = state.positions["BTC"]
    assert (position.size, position.entry_px, position.leverage) == (-0.25, result.avg_px, 20)
    assert position.unrealized_pnl == pytest.approx(-0.25 * (client.mid("BTC") - result.avg_px), abs=1e-5)
    assert state.margin_used == pytest.approx(0.25 * client.mid("BTC") / 20, abs=1e-5)


def test_same_strategy_bar_and_tag_never_doubles(server: VenueServer) -> None:
    client = _client(server)
    first = client.market_order("ETH", True, 1.0, strategy_id=SID, bar_time=3)
    again = client.market_order("ETH", True, 1.0, strategy_id=SID, bar_time=3)
    other = client.market_order("ETH", True, 1.0, strategy_id=SID, bar_time=3, tag="add")
    assert again.oid == first.oid and again.status == "filled" and other.oid != first.oid
    assert client.user_state().positions["ETH"].size == 2.0


def test_refusals_raise_typed_errors_with_the_venue_words(server: VenueServer) -> None:
    client = _client(server)
    mid = client.mid("ETH")
    with pytest.raises(MinNotionalError, match=r"^Order must have minimum value of \$10\. asset=1$"):
        client.place_order("ETH", True, 0.001, mid * 0.9, strategy_id=SID, bar_time=4)
    with pytest.raises(ReduceOnlyError):
        client.market_order("ETH", False, 1.0, strategy_id=SID, bar_time=5, reduce_only=True)
    with pytest.raises(IocNoMatchError):
        client.place_order("ETH", True, 1.0, mid * 0.9, strategy_id=SID, bar_time=6, tif="Ioc")
    with pytest.raises(ConfigurationError, match="DOGE"):
        client.mid("DOGE")


def test_cancel_and_leverage(server: VenueServer) -> None:
    client = _client(server)
    low = client.mid("BTC") * 0.8
    by_oid = client.place_order("BTC", True, 0.01, low, strategy_id=SID, bar_time=7)
    by_cloid = client.place_order("BTC", True, 0.01, low, strategy_id=SID, bar_time=8)
    client.cancel("BTC", by_oid.oid)
    client.cancel_by_cloid("BTC", cloid_for(SID, 8))
    assert client.open_orders() == [] and by_cloid.status == "resting"
    with pytest.raises(OrderNotFoundError):
        client.cancel("BTC", by_oid.oid)
    client.update_leverage("BTC", 3)
    client.market_order("BTC", True, 0.01, strategy_id=SID, bar_time=9)
    assert client.user_state().positions["BTC"].leverage == 3


def test_orders_land_exactly_once_at_30_percent_injected_errors(venue: Venue, server: VenueServer) -> None:
    venue.faults = Faults(error_rate=0.3, seed=5)
    client = _client(server)
    market_bars = range(100, 124)
    for bar in market_bars:
        client.market_order("ETH", True, 0.1, strategy_id=SID, bar_time=bar)
    low = client.mid("BTC") * 0.8
    for bar in range(200, 206):
        client.place_order("BTC", True, 0.01, low, strategy_id=SID, bar_time=bar)
    for bar in range(200, 203):
        client.cancel_by_cloid("BTC", cloid_for(SID, bar))
    injected, venue.faults = venue.faults.injected, Faults()

    assert injected["drop_after"] >= 5 and sum(injected.values()) >= 20, injected
    fills = Counter(f["cloid"] for f in client.info.user_fills(client.address))
    assert fills == Counter(str(cloid_for(SID, b)) for b in market_bars)
    assert client.user_state().positions["ETH"].size == pytest.approx(2.4)
    resting = Counter(o["cloid"] for o in client.open_orders())
    assert resting == Counter(str(cloid_for(SID, b)) for b in range(203, 206))


def test_a_venue_that_stays_down_raises_a_temporary_error(venue: Venue, server: VenueServer) -> None:
    client = _client(server, max_attempts=3)
    venue.faults = Faults(error_rate=1.0, seed=1)
    with pytest.raises(TemporaryError):
        client.market_order("ETH", True, 1.0, strategy_id=SID, bar_time=10)
    venue.faults = Faults()
    assert client.user_state().positions == {}


# ---- TP/SL trigger orders ----------------------------------------------------------------------------------

def test_stop_loss_rests_then_fires_on_the_bar_whose_low_crosses_it(venue: Venue, server: VenueServer) -> None:
    client = _client(server)
    rules, series, half_spread = client.rules["ETH"], venue.engine.series["ETH"], venue.engine.half_spread
    client.market_order("ETH", True, 2.0, strategy_id=SID, bar_time=20)
    result = client.trigger_order("ETH", False, 2.0, client.mid("ETH") * 0.985, tpsl="sl", strategy_id=SID,
                                  bar_time=20, tag="sl")
    (order,) = client.open_orders()
    trigger = float(order["triggerPx"])
    assert result.status == "resting" and order["oid"] == result.oid and order["cloid"] == str(cloid_for(SID, 20, "sl"))
    assert (order["isTrigger"], order["reduceOnly"], order["orderType"], order["side"]) == (
        True, True, "Stop Market", "A")
    assert trigger == rules.round_price(trigger) and order["triggerCondition"] == f"Price below {order['triggerPx']}"
    # The SDK's wire format reached the venue: a market trigger whose worst price is 10 % beyond the trigger.
    placed = venue.engine.orders.by_oid(ALICE.address.lower(), result.oid)
    assert (placed.tif, placed.tpsl, placed.limit_px) == ("Trigger", "sl", rules.round_price(trigger * 0.9))

    hit = next(k for k in range(START_BAR, len(series.low)) if series.low[k] <= trigger)
    assert hit > START_BAR + 2  # the stop really rests through bars that do not reach it
    venue.step((hit - START_BAR) * BAR_MS)
    assert client.user_state().positions["ETH"].size == 2.0 and len(client.open_orders()) == 1
    venue.step(BAR_MS)
    assert "ETH" not in client.user_state().positions and client.open_orders() == []
    fill = client.info.user_fills(client.address)[0]
    px = rules.round_price(min(trigger, series.open[hit]) * (1 - half_spread))  # a taker sale at the bid side
    assert (fill["cloid"], fill["dir"], float(fill["sz"]), float(fill["px"])) == (order["cloid"], "Close Long", 2.0, px)
    assert fill["time"] == T0_MS + (hit + 1) * BAR_MS and fill["crossed"]
    assert float(fill["fee"]) == pytest.approx(2.0 * px * FEES.taker, abs=1e-6)
    assert client.order_status(cloid_for(SID, 20, "sl"))["order"]["status"] == "filled"


def _gap_market() -> dict[str, CoinSeries]:
    """ETH flat at 2,000 for 12 hours, then a bar that opens 5 % lower (1,900) and recovers a little."""
    n = 16
    t = T0_MS + np.arange(n, dtype=np.int64) * BAR_MS
    close = np.full(n, 2000.0)
    close[12:] = 1905.0
    open_ = np.r_[2000.0, close[:-1]]
    open_[12] = 1900.0
    high, low = np.maximum(open_, close) + 5.0, np.minimum(open_, close) - 5.0
    return {"ETH": CoinSeries("ETH", t, open_, high, low, close, np.ones(n), t + BAR_MS, np.zeros(n), np.zeros(n))}


def test_triggers_fill_at_the_open_when_the_bar_gaps_through_them() -> None:
    venue = Venue(_gap_market(), start_ms=T0_MS + 10 * BAR_MS, speed=0.0,
                  accounts={ALICE.address: 1e5, BOB.address: 1e5})
    with VenueServer(venue) as server:
        long, short = _client(server), _client(server, wallet=BOB)
        long.market_order("ETH", True, 1.0, strategy_id=SID, bar_time=1)
        short.market_order("ETH", False, 1.0, strategy_id=SID, bar_time=1)
        long.trigger_order("ETH", False, 1.0, 1960.0, tpsl="sl", strategy_id=SID, bar_time=1, tag="sl")
        short.trigger_order("ETH", True, 1.0, 1950.0, tpsl="tp", strategy_id=SID, bar_time=1, tag="tp")
        venue.step(2 * BAR_MS)  # bars 10 and 11 stay at 2,000 +- 5
        assert len(long.open_orders()) == len(short.open_orders()) == 1
        venue.step(BAR_MS)  # bar 12 opens at 1,900, below both triggers
        sold, bought = long.info.user_fills(long.address)[0], short.info.user_fills(short.address)[0]
    assert (sold["dir"], float(sold["px"])) == ("Close Long", 1899.8)  # the open 1,900 less the 1 bp half-spread
    assert (bought["dir"], float(bought["px"])) == ("Close Short", 1900.2)  # the take profit gains from the gap


def test_trigger_orders_are_reduce_only(server: VenueServer) -> None:
    client = _client(server)
    mid = client.mid("ETH")
    with pytest.raises(ReduceOnlyError, match=r"^Reduce only order would increase position\. asset=1$"):
        client.trigger_order("ETH", False, 1.0, mid * 0.98, tpsl="sl", strategy_id=SID, bar_time=30, tag="sl")
    client.market_order("ETH", True, 1.0, strategy_id=SID, bar_time=30)
    with pytest.raises(ReduceOnlyError):  # a buy stop would grow the long
        client.trigger_order("ETH", True, 1.0, mid * 1.02, tpsl="sl", strategy_id=SID, bar_time=31, tag="sl")
    with pytest.raises(ValueError, match="tpsl='stop'"):
        client.trigger_order("ETH", False, 1.0, mid * 0.98, tpsl="stop",  # type: ignore[arg-type]
                             strategy_id=SID, bar_time=32)
    assert client.open_orders() == []
    # A take profit above a long rests, once however often the same step asks for it.
    first = client.trigger_order("ETH", False, 1.0, mid * 1.03, tpsl="tp", strategy_id=SID, bar_time=33, tag="tp")
    again = client.trigger_order("ETH", False, 1.0, mid * 1.03, tpsl="tp", strategy_id=SID, bar_time=33, tag="tp")
    (order,) = client.open_orders()
    assert again.oid == first.oid == order["oid"] and order["orderType"] == "Take Profit Market"
