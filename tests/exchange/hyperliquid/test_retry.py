"""Only temporary failures are retried, with the same callable, after an exponential backoff."""
from __future__ import annotations

import pytest
import requests
from hyperliquid.utils.error import ClientError, ServerError

from exchange.errors import (BadRequestError, MinNotionalError, RateLimitError, TransportError, VenueUnavailableError,
                             typed_error)
from exchange.hyperliquid.retry import RetryPolicy, call_with_retries


def _flaky(failures: list[BaseException], result: object = "ok"):
    calls = []

    def fn() -> object:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return result
    return fn, calls


def test_transport_failures_are_retried_with_backoff() -> None:
    waits: list[float] = []
    fn, calls = _flaky([requests.exceptions.ConnectionError("dropped"), ServerError(503, "busy"),
                        ClientError(429, 429, "slow down", None)])
    assert call_with_retries(fn, RetryPolicy(5, 0.5, 1.5), sleep=waits.append) == "ok"
    assert len(calls) == 4 and waits == [0.5, 1.0, 1.5]


def test_rejections_are_not_retried() -> None:
    fn, calls = _flaky([MinNotionalError("Order must have minimum value of $10. asset=1")])
    with pytest.raises(MinNotionalError):
        call_with_retries(fn, sleep=lambda s: None)
    fn, calls = _flaky([ClientError(422, None, "Failed to deserialize", None)])
    with pytest.raises(BadRequestError, match="HTTP 422"):
        call_with_retries(fn, sleep=lambda s: None)
    assert len(calls) == 1


def test_last_temporary_failure_is_raised_typed() -> None:
    fn, calls = _flaky([requests.exceptions.ReadTimeout("slow")] * 3)
    with pytest.raises(TransportError, match="ReadTimeout"):
        call_with_retries(fn, RetryPolicy(3, 0, 0), sleep=lambda s: None)
    assert len(calls) == 3


def test_unreadable_answer_is_temporary() -> None:
    fn, calls = _flaky([], {"error": "Could not parse JSON: <html>"})
    with pytest.raises(VenueUnavailableError):
        call_with_retries(fn, RetryPolicy(2, 0, 0), sleep=lambda s: None)
    assert len(calls) == 2


def test_typed_error_classification() -> None:
    assert isinstance(typed_error(ClientError(429, 429, "x", None)), RateLimitError)
    assert typed_error(KeyError("x")) is None
    assert RetryPolicy(backoff_s=0.25, backoff_max_s=8).delay(10) == 8
