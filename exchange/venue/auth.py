"""What the exchange checks before it acts: who signed the action, and whether its nonce is fresh.

Signer recovery follows Hyperliquid's L1-action scheme (docs "Signing"), written out here rather than
borrowed from the SDK so the venue checks the SDK instead of trusting it: the action is msgpack-encoded
exactly as received (key order included), followed by the 8-byte big-endian nonce, a vault flag byte
(plus the 20-byte vault address) and, when present, a zero byte and the 8-byte expiresAfter; its keccak
is the `connectionId` of a phantom agent `{source, connectionId}` signed as EIP-712 typed data in domain
("Exchange", "1", chainId 1337, zero verifying contract). `source` is "a" on mainnet and "b" elsewhere,
so an action signed for mainnet recovers to some unrelated address on this venue.
"""
from __future__ import annotations

import bisect
from typing import Any

import msgpack
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from exchange.errors import Msg
from exchange.hyperliquid.limits import NONCES, NonceWindow

__all__ = ["recover_signer", "NonceBook"]

_DOMAIN = {"chainId": 1337, "name": "Exchange", "verifyingContract": "0x" + "00" * 20, "version": "1"}
_TYPES = {
    "Agent": [{"name": "source", "type": "string"}, {"name": "connectionId", "type": "bytes32"}],
    "EIP712Domain": [
        {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
    ],
}


def _connection_id(action: Any, nonce: int, vault: str | None, expires_after: int | None) -> bytes:
    data = msgpack.packb(action) + nonce.to_bytes(8, "big")
    data += b"\x00" if vault is None else b"\x01" + bytes.fromhex(vault.removeprefix("0x"))
    if expires_after is not None:
        data += b"\x00" + expires_after.to_bytes(8, "big")
    return keccak(data)


def recover_signer(action: Any, signature: dict[str, Any], nonce: int, vault: str | None,
                   expires_after: int | None, *, mainnet: bool = False) -> str | None:
    """Lower-case address that signed this L1 action, or None when no address can be recovered."""
    try:
        message = {"source": "a" if mainnet else "b",
                   "connectionId": _connection_id(action, nonce, vault, expires_after)}
        typed = encode_typed_data(full_message={"domain": _DOMAIN, "types": _TYPES, "primaryType": "Agent",
                                                "message": message})
        vrs = (int(signature["v"]), int(signature["r"], 16), int(signature["s"], 16))
        return Account.recover_message(typed, vrs=vrs).lower()
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError):
        return None


class NonceBook:
    """Per-signer nonce sets: the `kept` highest nonces; a new one must be unseen, above the smallest kept
    one once the set is full, and within (now - behind, now + ahead) of the wall clock."""

    def __init__(self, window: NonceWindow = NONCES) -> None:
        self._window = window
        self._kept: dict[str, list[int]] = {}

    def refusal(self, signer: str, nonce: int, now_ms: int) -> str | None:
        """The venue's sentence refusing `nonce`, or None when it may be used."""
        kept = self._kept.get(signer, [])
        if nonce in kept:
            return Msg.NONCE_DUPLICATE.format(nonce=nonce)
        least = now_ms - self._window.behind_ms
        if len(kept) >= self._window.kept:
            least = max(least, kept[0])
        if nonce <= least:
            return Msg.NONCE_TOO_LOW.format(nonce=nonce, least=least)
        most = now_ms + self._window.ahead_ms
        if nonce >= most:
            return Msg.NONCE_TOO_HIGH.format(nonce=nonce, most=most)
        return None

    def use(self, signer: str, nonce: int) -> None:
        """Record an accepted nonce, forgetting the smallest once more than `kept` are held."""
        kept = self._kept.setdefault(signer, [])
        bisect.insort(kept, nonce)
        if len(kept) > self._window.kept:
            del kept[0]
