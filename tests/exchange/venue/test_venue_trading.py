"""The unmodified SDK trades against the loopback venue over real HTTP."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info
from hyperliquid.utils.types import Cloid
from venue_helpers import ALICE, BALANCE, START_BAR, T0_MS, statuses

from exchange.hyperliquid.limits import FEES, HistoryLimits
from exchange.venue import Venue, VenueServer
from exchange.venue.data import BAR_MS

ETH = 1  # asset id: BTC is 0, ETH is 1, as on mainnet


def _position(info: Info, coin: str) -> dict:
    found = [p["position"] for p in info.user_state(ALICE.address)["assetPositions"] if p["position"]["coin"] == coin]
    return found[0] if found else {}


def test_market_open_and_close_round_trip(venue: Venue, info: Info, alice: Exchange) -> None:
    mid = float(info.all_mids()["ETH"])
    bid, ask = venue.engine.bbo("ETH", mid)
    filled = statuses(alice.market_open("ETH", True, 1.5))[0]["filled"]
    assert (float(filled["totalSz"]), float(filled["avgPx"])) == (1.5, ask)
    assert float(_position(info, "ETH")["szi"]) == 1.5

    closed = statuses(alice.market_close("ETH"))[0]["filled"]
    assert (float(closed["totalSz"]), float(closed["avgPx"])) == (1.5, bid)
    assert _position(info, "ETH") == {}
    fills = info.user_fills(ALICE.address)
    assert [f["dir"] for f in fills] == ["Close Long", "Open Long"]
    assert float(fills[0]["closedPnl"]) == pytest.approx(1.5 * (bid - ask), abs=1e-6)
    fees = 1.5 * (ask + bid) * FEES.taker
    value = float(info.user_state(ALICE.address)["marginSummary"]["accountValue"])
    assert value == pytest.approx(BALANCE + 1.5 * (bid - ask) - fees, abs=1e-5)


def test_limit_order_rests_then_fills_when_a_later_bar_trades_through(venue: Venue, info: Info,
                                                                       alice: Exchange) -> None:
    series = venue.engine.series["ETH"]
    limit = venue.engine.rules["ETH"].round_price(float(info.all_mids()["ETH"]) * 0.97)
    oid = statuses(alice.order("ETH", True, 2.0, limit, {"limit": {"tif": "Gtc"}}))[0]["resting"]["oid"]
    fill_bar = next(k for k in range(START_BAR, len(series.low)) if series.low[k] < limit)

    venue.step((fill_bar - START_BAR) * BAR_MS)  # bar fill_bar - 1 has closed, fill_bar has not
    assert [o["oid"] for o in info.open_orders(ALICE.address)] == [oid]
    venue.step(BAR_MS)
    assert info.open_orders(ALICE.address) == []
    fill = info.user_fills(ALICE.address)[0]
    assert (fill["oid"], float(fill["px"]), fill["crossed"]) == (oid, limit, False)
    assert float(fill["fee"]) == pytest.approx(2.0 * limit * FEES.maker, abs=1e-6)
    assert fill["time"] == T0_MS + (fill_bar + 1) * BAR_MS
    assert info.query_order_by_oid(ALICE.address, oid)["order"]["status"] == "filled"


def test_cancel_by_oid_and_by_cloid(info: Info, alice: Exchange) -> None:
    low = round(float(info.all_mids()["BTC"]) * 0.9)
    cloid = Cloid.from_int(42)
    by_oid = statuses(alice.order("BTC", True, 0.01, low, {"limit": {"tif": "Gtc"}}))[0]["resting"]["oid"]
    statuses(alice.order("BTC", True, 0.01, low, {"limit": {"tif": "Gtc"}}, cloid=cloid))
    assert len(info.open_orders(ALICE.address)) == 2

    assert statuses(alice.cancel("BTC", by_oid)) == ["success"]
    assert statuses(alice.cancel_by_cloid("BTC", cloid)) == ["success"]
    assert info.open_orders(ALICE.address) == []
    assert info.query_order_by_cloid(ALICE.address, cloid)["order"]["status"] == "canceled"
    again = statuses(alice.cancel("BTC", by_oid))[0]["error"]
    assert again == "Order was never placed, already canceled, or filled. asset=0"


def test_leverage_update_sets_margin(info: Info, alice: Exchange) -> None:
    assert alice.update_leverage(5, "ETH") == {"status": "ok", "response": {"type": "default"}}
    statuses(alice.market_open("ETH", False, 1.0))
    position = _position(info, "ETH")
    assert position["leverage"] == {"type": "cross", "value": 5}
    assert float(position["marginUsed"]) == pytest.approx(float(position["positionValue"]) / 5, abs=1e-5)
    assert alice.update_leverage(51, "ETH") == {"status": "err", "response": "Invalid leverage value"}


def test_user_state_shows_position_and_unrealized_pnl(venue: Venue, info: Info, alice: Exchange) -> None:
    entry = float(statuses(alice.market_open("BTC", False, 0.5))[0]["filled"]["avgPx"])
    venue.step(6 * BAR_MS)
    mid = float(info.all_mids()["BTC"])
    position = _position(info, "BTC")
    assert (float(position["szi"]), float(position["entryPx"])) == (-0.5, entry)
    assert float(position["unrealizedPnl"]) == pytest.approx(-0.5 * (mid - entry), abs=1e-5)
    assert float(position["positionValue"]) == pytest.approx(0.5 * mid, abs=1e-5)


def test_hourly_funding_is_charged_on_open_positions(venue: Venue, info: Info, alice: Exchange) -> None:
    statuses(alice.market_open("ETH", True, 3.0))
    before = venue.engine.accounts[ALICE.address.lower()].balance
    series = venue.engine.series["ETH"]
    hours = 10
    venue.step(hours * BAR_MS)
    expected = sum(3.0 * series.close[i - 1] * (0.0001 if i % 2 == 0 else -0.00005)
                   for i in range(START_BAR + 1, START_BAR + hours + 1))
    paid = float(_position(info, "ETH")["cumFunding"]["allTime"])
    assert paid == pytest.approx(expected, abs=1e-5)
    assert venue.engine.accounts[ALICE.address.lower()].balance == pytest.approx(before - expected, abs=1e-9)


def test_stop_loss_trigger_closes_the_position(venue: Venue, info: Info, alice: Exchange) -> None:
    statuses(alice.market_open("ETH", True, 1.0))
    stop = venue.engine.rules["ETH"].round_price(float(info.all_mids()["ETH"]) * 0.98)
    order_type = {"trigger": {"triggerPx": stop, "isMarket": True, "tpsl": "sl"}}
    statuses(alice.order("ETH", False, 1.0, stop, order_type, reduce_only=True))
    venue.step(48 * BAR_MS)
    assert _position(info, "ETH") == {}
    close = info.user_fills(ALICE.address)[0]
    assert close["dir"] == "Close Long" and float(close["px"]) <= stop


def _six_figures(mid: float) -> float:
    return float(f"{mid * 0.9:.5g}") + 0.01


@pytest.mark.parametrize(("coin", "is_buy", "size", "price", "tif", "reduce_only", "error"), [
    ("ETH", True, 1.0, _six_figures, "Gtc", False, "Price must be divisible by tick size. asset=1"),
    ("ETH", True, 0.00001, lambda m: round(m * 0.9), "Gtc", False, "Order has invalid size. asset=1"),
    ("ETH", True, 0.001, lambda m: round(m * 0.9), "Gtc", False, "Order must have minimum value of $10. asset=1"),
    ("ETH", False, 1.0, lambda m: round(m * 0.9), "Ioc", True, "Reduce only order would increase position. asset=1"),
    ("BTC", True, 100.0, lambda m: round(m * 1.01), "Ioc", False, "Insufficient margin to place order. asset=0"),
    ("ETH", True, 1.0, lambda m: round(m * 0.9), "Ioc", False,
     "Order could not immediately match against any resting orders. asset=1"),
])
def test_order_refusals_use_the_exchange_words(info: Info, alice: Exchange, coin: str, is_buy: bool, size: float,
                                               price: Callable[[float], float], tif: str, reduce_only: bool,
                                               error: str) -> None:
    px = price(float(info.all_mids()[coin]))
    answer = alice.order(coin, is_buy, size, px, {"limit": {"tif": tif}}, reduce_only=reduce_only)
    assert statuses(answer) == [{"error": error}]
    assert info.user_state(ALICE.address)["assetPositions"] == []
    assert info.open_orders(ALICE.address) == []


def test_post_only_order_that_would_match_is_refused(venue: Venue, info: Info, alice: Exchange) -> None:
    mid = float(info.all_mids()["ETH"])
    bid, ask = venue.engine.bbo("ETH", mid)
    answer = alice.order("ETH", True, 1.0, round(mid * 1.01), {"limit": {"tif": "Alo"}})
    assert statuses(answer) == [{"error": f"Post only order would have immediately matched, bbo was {bid}@{ask}. "
                                          f"asset={ETH}"}]


def test_market_views_follow_the_replay_clock(venue: Venue, info: Info) -> None:
    series = venue.engine.series["BTC"]
    assert float(info.all_mids()["BTC"]) == series.close[START_BAR - 1]
    candles = info.candles_snapshot("BTC", "1h", 0, 2 ** 62)
    assert len(candles) == START_BAR and candles[-1]["t"] == T0_MS + (START_BAR - 1) * BAR_MS
    assert set(candles[0]) == {"t", "T", "s", "i", "o", "h", "l", "c", "v", "n"}
    venue.step(5 * BAR_MS + BAR_MS // 2)
    candles = info.candles_snapshot("BTC", "1h", 0, 2 ** 62)
    assert candles[-1]["t"] + BAR_MS <= venue.clock.now_ms() and len(candles) == START_BAR + 5
    funding = info.funding_history("BTC", 0)
    assert len(funding) == START_BAR + 5 and funding[-1]["time"] <= venue.clock.now_ms()
    book = info.l2_snapshot("BTC")
    mid = float(info.all_mids()["BTC"])
    assert float(book["levels"][0][0]["px"]) < mid < float(book["levels"][1][0]["px"])
    meta, ctxs = info.meta_and_asset_ctxs()
    assert [a["name"] for a in meta["universe"]] == ["BTC", "ETH"] and ctxs[0]["midPx"] == info.all_mids()["BTC"]


def test_candle_history_limit_and_page_sizes(market: dict) -> None:
    limits = HistoryLimits(candles_available=50, candles_per_response=20, funding_per_response=30)
    venue = Venue(market, start_ms=T0_MS + START_BAR * BAR_MS, speed=0.0, history=limits)
    with VenueServer(venue) as server:
        info = Info(server.url, skip_ws=True, timeout=5)
        first = info.candles_snapshot("ETH", "1h", 0, 2 ** 62)
        assert len(first) == 20 and first[0]["t"] == T0_MS + (START_BAR - 50) * BAR_MS
        assert len(info.funding_history("ETH", 0)) == 30
