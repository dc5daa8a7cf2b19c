"""The one answer to "is this failure worth retrying?" (exchange.errors.is_transient), shared by the client's
retries, the pipeline's task policies and the validate stage's gate-3 batches."""
from __future__ import annotations

import pytest
import requests
from hyperliquid.utils.error import ClientError, ServerError

from exchange import errors
from exchange.errors import (AuthError, BadRequestError, ConfigurationError, ExchangeError, MinNotionalError,
                             NonceError, OrderRejectedError, PermanentError, RateLimitError, TemporaryError,
                             TransportError, VenueUnavailableError, is_transient, typed_error)


@pytest.mark.parametrize(("exc", "transient"), [
    (TransportError("connection refused"), True),
    (RateLimitError("HTTP 429"), True),
    (VenueUnavailableError("HTTP 502"), True),
    (requests.exceptions.ConnectionError("reset"), True),
    (requests.exceptions.ReadTimeout("slow"), True),
    (requests.exceptions.ChunkedEncodingError("cut"), True),
    (ServerError(503, "unavailable"), True),
    (ClientError(429, 429, "slow down", None), True),
    (ConnectionResetError(), True),
    (TimeoutError(), True),
    (ClientError(422, 422, "Failed to deserialize", None), False),
    (MinNotionalError("Order must have minimum value of $10."), False),
    (OrderRejectedError("Order would increase open interest too quickly."), False),
    (NonceError("Invalid nonce: duplicate nonce 1"), False),
    (AuthError("Unable to recover signer."), False),
    (ConfigurationError("no private key"), False),
    (BadRequestError("HTTP 400"), False),
    (ValueError("--coins: bad"), False),
    (KeyError("x"), False),
    (requests.exceptions.InvalidURL("no host"), False),
])
def test_transient_classification(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_every_temporary_error_is_transient_and_no_permanent_one() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, ExchangeError)]
    assert len(classes) > 15
    for cls in classes:
        if cls in (ExchangeError, TemporaryError, PermanentError) or issubclass(cls, (TemporaryError, PermanentError)):
            assert is_transient(cls("x")) is issubclass(cls, TemporaryError), cls.__name__


def test_typed_error_keeps_the_status_and_a_short_message() -> None:
    error = typed_error(ServerError(502, "x" * 1000))
    assert isinstance(error, VenueUnavailableError) and str(error) == "HTTP 502: " + "x" * 200
    assert isinstance(typed_error(ClientError(400, 400, "bad", None)), BadRequestError)
    same = MinNotionalError("m")
    assert typed_error(same) is same
