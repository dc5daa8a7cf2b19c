"""HyperliquidClient against the loopback venue: rounding, typed errors, idempotency, and faults."""
from __future__ import annotations

from collections import Counter

import pytest
from venue_helpers import ALICE

from exchange.client import HyperliquidClient
from exchange.errors import (ConfigurationError, IocNoMatchError, MinNotionalError, OrderNotFoundError,
                             ReduceOnlyError, TemporaryError)
from exchange.ids import NonceSource, cloid_for
from exchange.settings import ExchangeSettings
from exchange.venue import Faults, Venue, VenueServer
from exchange.venue.data import BAR_MS

SID = "strategy-7f3a"


def _client(server: VenueServer, *, max_attempts: int = 8) -> HyperliquidClient:
    settings = ExchangeSettings(endpoint=server.url, timeout_s=5, max_attempts=max_attempts, backoff_s=0)
    return HyperliquidClient(ALICE, settings, nonces=NonceSource(), sleep=lambda s: None)


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
