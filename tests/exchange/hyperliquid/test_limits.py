"""Tick, lot and error-sentence rules shared by the client and the venue."""
from __future__ import annotations

import pytest

from exchange.errors import (AuthError, ExpiredError, InsufficientMarginError, IocNoMatchError, MinNotionalError, Msg,
                             NonceError, OrderNotFoundError, OrderRejectedError, PermanentError, PostOnlyMatchError,
                             ReduceOnlyError, TickSizeError, error_from_message, error_from_order_status)
from exchange.hyperliquid.limits import INTERVAL_MS, KNOWN_ASSETS, AssetRules, asset_rules_for, bars_per_year

BTC, ETH, DOGE = KNOWN_ASSETS["BTC"], KNOWN_ASSETS["ETH"], KNOWN_ASSETS["DOGE"]


@pytest.mark.parametrize(("rules", "px", "valid"), [
    (ETH, "1234.5", True), (ETH, "1234.56", False), (ETH, "123456", True), (BTC, "12345.6", False),
    (AssetRules("X", 0, 50), "0.001234", True), (AssetRules("X", 0, 50), "0.0012345", False),
    (AssetRules("X", 1, 50), "0.01234", True), (AssetRules("X", 1, 50), "0.012345", False),
    (ETH, "0", False), (ETH, "-5", False), (ETH, "abc", False), (ETH, "NaN", False),
])
def test_price_tick_rule_matches_the_docs_examples(rules: AssetRules, px: str, valid: bool) -> None:
    assert rules.price_is_valid(px) is valid


@pytest.mark.parametrize(("rules", "sz", "valid"), [
    (ETH, "1.0001", True), (ETH, "1.00001", False), (DOGE, "12", True), (DOGE, "12.5", False), (BTC, "-1", False),
])
def test_size_lot_rule(rules: AssetRules, sz: str, valid: bool) -> None:
    assert rules.size_is_valid(sz) is valid


@pytest.mark.parametrize("px", [0.000123456, 0.98765, 17.123456, 1234.5678, 43123.456, 99999.7, 123456.7])
@pytest.mark.parametrize("rules", [BTC, ETH, DOGE, AssetRules("X", 1, 50)])
def test_rounded_prices_are_valid_and_close(rules: AssetRules, px: float) -> None:
    if px < 0.5 * 10 ** -rules.price_decimals:
        with pytest.raises(ValueError, match="rounds to 0"):
            rules.round_price(px)
        return
    rounded = rules.round_price(px)
    assert rules.price_is_valid(f"{rounded:.10f}".rstrip("0"))
    assert rounded == pytest.approx(px, rel=1e-4, abs=0.5 * 10 ** -rules.price_decimals)


def test_rounding_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="px=-1"):
        ETH.round_price(-1.0)
    with pytest.raises(ValueError, match="sz=nan"):
        ETH.round_size(float("nan"))


def test_unknown_coins_get_lot_sizes_worth_little() -> None:
    assert asset_rules_for("BTC", 1.0) == BTC
    assert asset_rules_for("NEW", 0.08).sz_decimals == 0
    assert asset_rules_for("NEW", 3000.0).sz_decimals == 4


@pytest.mark.parametrize(("message", "error"), [
    (Msg.TICK + " asset=4", TickSizeError), (Msg.MIN_NOTIONAL + " asset=4", MinNotionalError),
    (Msg.MARGIN + " asset=0", InsufficientMarginError), (Msg.REDUCE_ONLY + " asset=1", ReduceOnlyError),
    (Msg.BAD_ALO.format(bid="1.0", ask="1.1") + " asset=2", PostOnlyMatchError),
    (Msg.IOC_CANCEL + " asset=3", IocNoMatchError), (Msg.MISSING_ORDER, OrderNotFoundError),
    ("User or API Wallet 0xabc does not exist.", AuthError), (Msg.UNRECOVERABLE, AuthError),
    ("Invalid nonce: duplicate nonce 1754922717871", NonceError), ("Action expired: expiresAfter 1 < 2", ExpiredError),
    ("Order would increase open interest too quickly. asset=5", OrderRejectedError),
    ("Something new", PermanentError),
])
def test_venue_sentences_map_to_typed_errors(message: str, error: type) -> None:
    raised = error_from_message(message)
    assert type(raised) is error and str(raised) == message


def test_rejected_order_statuses_map_to_typed_errors() -> None:
    assert isinstance(error_from_order_status("minTradeNtlRejected", "0x1"), MinNotionalError)
    assert type(error_from_order_status("oracleRejected", "0x1")) is OrderRejectedError


def test_bars_per_year_from_the_interval() -> None:
    assert bars_per_year("1h") == 8760.0 and bars_per_year("1d") == 365.0 and bars_per_year("1m") == 525_600.0
    assert all(bars_per_year(i) * INTERVAL_MS[i] == 365 * 86_400_000 for i in INTERVAL_MS)
    with pytest.raises(ValueError, match="interval='1M'"):
        bars_per_year("1M")
