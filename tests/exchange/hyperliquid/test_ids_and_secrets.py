"""Deterministic cloids, rising nonces, and a private key that never leaks into messages."""
from __future__ import annotations

import threading

import pytest
from venue_helpers import ALICE

from exchange.errors import ConfigurationError
from exchange.hyperliquid.ids import NonceSource, cloid_for
from exchange.hyperliquid.secrets import PRIVATE_KEY_BLOCK, PRIVATE_KEY_ENV, load_wallet, read_prefect_secret

ALICE_KEY = "0x" + "a1" * 32


def test_cloid_depends_on_strategy_bar_and_tag_only() -> None:
    a = cloid_for("s1", 1_700_000_000_000)
    assert str(a) == str(cloid_for("s1", 1_700_000_000_000)) and len(str(a)) == 34
    assert len({str(a), str(cloid_for("s2", 1_700_000_000_000)), str(cloid_for("s1", 1_700_003_600_000)),
                str(cloid_for("s1", 1_700_000_000_000, "close"))}) == 4
    with pytest.raises(ValueError, match="strategy_id"):
        cloid_for("", 1)


def test_nonces_strictly_increase_across_threads_with_a_frozen_clock() -> None:
    source = NonceSource(clock=lambda: 1_700_000_000.0)
    seen: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(200):
            n = source.next()
            with lock:
                seen.append(n)
    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 800 and min(seen) == 1_700_000_000_000


def test_key_from_the_environment_first() -> None:
    wallet = load_wallet(env={PRIVATE_KEY_ENV: ALICE_KEY}, read_secret=lambda name: pytest.fail("not needed"))
    assert wallet.address == ALICE.address


def test_key_from_the_prefect_secret_block_otherwise() -> None:
    asked: list[str] = []
    wallet = load_wallet(env={}, read_secret=lambda name: asked.append(name) or ALICE_KEY)
    assert wallet.address == ALICE.address and asked == [PRIVATE_KEY_BLOCK]


def test_missing_key_names_both_places() -> None:
    with pytest.raises(ConfigurationError, match=f"\\${PRIVATE_KEY_ENV}.*'{PRIVATE_KEY_BLOCK}'"):
        load_wallet(env={}, read_secret=lambda name: None)


def test_a_bad_key_is_never_echoed() -> None:
    bad = "0x" + "zz" * 32
    with pytest.raises(ConfigurationError) as raised:
        load_wallet(env={PRIVATE_KEY_ENV: bad}, read_secret=lambda name: None)
    assert bad not in str(raised.value) and "zz" not in str(raised.value)
    assert raised.value.__suppress_context__


def test_key_from_a_real_prefect_secret_block(prefect_server: str) -> None:
    """Against a real (local) Prefect server: no block reads as None, a saved block is the wallet's key,
    and the block is deleted again so the other tests of the session see no key."""
    from prefect.blocks.system import Secret

    assert read_prefect_secret(PRIVATE_KEY_BLOCK) is None
    Secret(value=ALICE_KEY).save(PRIVATE_KEY_BLOCK)
    try:
        assert read_prefect_secret(PRIVATE_KEY_BLOCK) == ALICE_KEY
        assert load_wallet(env={}).address == ALICE.address
    finally:
        Secret.delete(PRIVATE_KEY_BLOCK)
    assert read_prefect_secret(PRIVATE_KEY_BLOCK) is None
    with pytest.raises(ConfigurationError, match=PRIVATE_KEY_BLOCK):
        load_wallet(env={})
