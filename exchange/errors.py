"""Typed exchange errors: the hierarchy decides what is retried, the venue's own words decide the class.

    ExchangeError
    ├── TemporaryError          retried with backoff (the request may not have reached the venue)
    │   ├── TransportError      connection refused or dropped, timeout
    │   ├── RateLimitError      HTTP 429
    │   └── VenueUnavailableError  HTTP 5xx or an unreadable answer
    └── PermanentError          never retried: the venue understood and said no
        ├── BadRequestError     HTTP 4xx other than 429 (the venue could not read the request)
        ├── ConfigurationError  no private key, unknown coin, ...
        ├── AuthError           signature does not recover a known account, vault not allowed
        ├── NonceError          nonce reused, too old or too far ahead
        ├── ExpiredError        the action's expiresAfter has passed
        └── OrderRejectedError  one order or cancel refused (tick, $10 minimum, margin, reduce-only, ...)

The message of every exception raised from a venue answer is the venue's own sentence. The sentences
below are Hyperliquid's (docs "Error responses"; live answers append " asset=N" to order errors); the
loopback venue writes them from this table so the client and the venue can never disagree.

`typed_error` maps what the SDK and `requests` raise onto the hierarchy, and `is_transient` is the one
answer to "is this failure worth retrying?" for the client's retries and for the pipeline's task policies.
"""
from __future__ import annotations

from typing import NamedTuple

import requests
from hyperliquid.utils.error import ClientError, ServerError

__all__ = [
    "ExchangeError", "TemporaryError", "TransportError", "RateLimitError", "VenueUnavailableError",
    "PermanentError", "BadRequestError", "ConfigurationError", "AuthError", "NonceError", "ExpiredError",
    "OrderRejectedError", "TickSizeError", "InvalidSizeError", "MinNotionalError", "InsufficientMarginError",
    "ReduceOnlyError", "PostOnlyMatchError", "IocNoMatchError", "NoLiquidityError", "OrderNotFoundError",
    "Msg", "error_from_message", "error_from_order_status", "typed_error", "is_transient",
]


class ExchangeError(Exception):
    """Anything that went wrong talking to the exchange; the message is one line naming the problem."""


class TemporaryError(ExchangeError):
    """Worth retrying: the request may not have reached the venue, or the venue asked us to slow down."""


class TransportError(TemporaryError):
    """Connection refused, dropped or timed out."""


class RateLimitError(TemporaryError):
    """HTTP 429: the weight budget is spent; wait before the next request."""


class VenueUnavailableError(TemporaryError):
    """HTTP 5xx, or a body that is not JSON."""


class PermanentError(ExchangeError):
    """The venue understood the request and refused it; retrying the same request cannot help."""


class BadRequestError(PermanentError):
    """HTTP 4xx (not 429): the request could not be deserialised."""


class ConfigurationError(PermanentError):
    """Local setup is wrong (no private key, unknown coin); fix the configuration."""


class AuthError(PermanentError):
    """The signature does not recover a known account, or the account may not act for the vault."""


class NonceError(PermanentError):
    """The nonce was used before, or lies outside the venue's accepted window."""


class ExpiredError(PermanentError):
    """The action's expiresAfter lies in the past."""


class OrderRejectedError(PermanentError):
    """One order or cancel in a batch was refused."""


class TickSizeError(OrderRejectedError):
    """Price has more than 5 significant figures or more than 6 - szDecimals decimals."""


class InvalidSizeError(OrderRejectedError):
    """Size has more than szDecimals decimals, or is zero."""


class MinNotionalError(OrderRejectedError):
    """Order worth less than the $10 minimum."""


class InsufficientMarginError(OrderRejectedError):
    """The account's margin does not cover the order."""


class ReduceOnlyError(OrderRejectedError):
    """A reduce-only order would open or grow a position."""


class PostOnlyMatchError(OrderRejectedError):
    """An ALO order would have matched at once."""


class IocNoMatchError(OrderRejectedError):
    """An IOC order found nothing to match at its price."""


class NoLiquidityError(OrderRejectedError):
    """No price to trade against (the market has no data yet)."""


class OrderNotFoundError(OrderRejectedError):
    """Cancel of an order that was never placed, is already canceled, or filled."""


class Msg:
    """The venue's sentences, written by the loopback venue and read back by the client."""

    TICK = "Price must be divisible by tick size."
    MIN_NOTIONAL = "Order must have minimum value of $10."
    MARGIN = "Insufficient margin to place order."
    REDUCE_ONLY = "Reduce only order would increase position."
    BAD_ALO = "Post only order would have immediately matched, bbo was {bid}@{ask}."
    IOC_CANCEL = "Order could not immediately match against any resting orders."
    NO_LIQUIDITY = "No liquidity available for market order."
    INVALID_SIZE = "Order has invalid size."
    ZERO_SIZE = "Order has zero size."
    INVALID_PRICE = "Order has invalid price."
    BAD_TRIGGER = "Invalid TP/SL price."
    MISSING_ORDER = "Order was never placed, already canceled, or filled."
    UNKNOWN_SIGNER = "User or API Wallet {address} does not exist."
    UNRECOVERABLE = "Unable to recover signer."
    VAULT = "Vault not registered: {address}"
    NONCE_DUPLICATE = "Invalid nonce: duplicate nonce {nonce}"
    NONCE_TOO_LOW = "Invalid nonce: nonce too low {nonce} < {least}"
    NONCE_TOO_HIGH = "Invalid nonce: nonce too high {nonce} > {most}"
    # Hyperliquid's exact wording for a stale expiresAfter is not on record; this is the venue's own.
    EXPIRED = "Action expired: expiresAfter {expires_after} < {now}"
    LEVERAGE = "Invalid leverage value"
    DESERIALIZE = "Failed to deserialize the JSON body into the target type"


class _Rule(NamedTuple):
    prefix: str
    error: type[ExchangeError]


# Ordered: the first prefix that a message starts with decides its class.
_RULES: tuple[_Rule, ...] = (
    _Rule(Msg.TICK, TickSizeError),
    _Rule(Msg.INVALID_PRICE, TickSizeError),
    _Rule(Msg.MIN_NOTIONAL.split("$")[0], MinNotionalError),
    _Rule(Msg.MARGIN, InsufficientMarginError),
    _Rule(Msg.REDUCE_ONLY, ReduceOnlyError),
    _Rule(Msg.BAD_ALO.split(",")[0], PostOnlyMatchError),
    _Rule(Msg.IOC_CANCEL, IocNoMatchError),
    _Rule(Msg.NO_LIQUIDITY, NoLiquidityError),
    _Rule(Msg.INVALID_SIZE, InvalidSizeError),
    _Rule(Msg.ZERO_SIZE, InvalidSizeError),
    _Rule(Msg.MISSING_ORDER, OrderNotFoundError),
    _Rule("User or API Wallet", AuthError),
    _Rule(Msg.UNRECOVERABLE, AuthError),
    _Rule("Vault not registered", AuthError),
    _Rule("Invalid nonce", NonceError),
    _Rule("Action expired", ExpiredError),
    _Rule(Msg.DESERIALIZE, BadRequestError),
)

# orderStatus answers for orders the venue refused; used when a lost answer is recovered by cloid.
_REJECTED_STATUS: dict[str, type[OrderRejectedError]] = {
    "tickRejected": TickSizeError,
    "minTradeNtlRejected": MinNotionalError,
    "perpMarginRejected": InsufficientMarginError,
    "reduceOnlyRejected": ReduceOnlyError,
    "badAloPxRejected": PostOnlyMatchError,
    "iocCancelRejected": IocNoMatchError,
    "marketOrderNoLiquidityRejected": NoLiquidityError,
}


def error_from_message(message: str) -> ExchangeError:
    """The typed exception for a venue sentence (`{"status": "err"}` or a per-order `{"error": ...}`).

    >>> type(error_from_message("Order must have minimum value of $10. asset=4")).__name__
    'MinNotionalError'
    """
    for rule in _RULES:
        if message.startswith(rule.prefix):
            return rule.error(message)
    return OrderRejectedError(message) if "asset=" in message else PermanentError(message)


def error_from_order_status(status: str, cloid: str) -> OrderRejectedError:
    """The typed exception for an order the venue recorded as refused (`orderStatus` status string)."""
    error = _REJECTED_STATUS.get(status, OrderRejectedError)
    return error(f"order {cloid} was refused by the venue: {status}")


def typed_error(exc: BaseException) -> ExchangeError | None:
    """The typed error for an exception raised by the SDK or `requests`, or None if it is neither.

    >>> type(typed_error(requests.exceptions.ConnectionError("refused"))).__name__
    'TransportError'
    """
    if isinstance(exc, ExchangeError):
        return exc
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                        requests.exceptions.ChunkedEncodingError)):
        return TransportError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ServerError):
        return VenueUnavailableError(f"HTTP {exc.status_code}: {str(exc.message)[:200]}")
    if isinstance(exc, ClientError):
        cls = RateLimitError if exc.status_code == 429 else BadRequestError
        return cls(f"HTTP {exc.status_code}: {str(exc.error_message)[:200]}")
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` is worth retrying: a `TemporaryError`, what the SDK or `requests` raise for a dropped
    connection, a timeout, HTTP 429 or 5xx (`typed_error`), or the built-in `ConnectionError` and
    `TimeoutError`. Never a `PermanentError` (bad input, a venue refusal) nor any other exception.

    >>> is_transient(RateLimitError("HTTP 429")), is_transient(MinNotionalError("under $10"))
    (True, False)
    """
    typed = typed_error(exc)
    if typed is not None:
        return isinstance(typed, TemporaryError)
    return isinstance(exc, (ConnectionError, TimeoutError))
