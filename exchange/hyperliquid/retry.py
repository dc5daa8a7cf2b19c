"""Retries on temporary failures only: SDK and transport exceptions become typed errors
(`exchange.errors.typed_error`), and only transient ones (`exchange.errors.is_transient`: the
`TemporaryError`s) are tried again, after an exponential backoff."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from exchange.errors import VenueUnavailableError, is_transient, typed_error

__all__ = ["RetryPolicy", "call_with_retries"]

T = TypeVar("T")


class RetryPolicy(NamedTuple):
    """`max_attempts` tries in all; the wait before retry k (0-based) is min(backoff_max_s, backoff_s x 2^k)."""

    max_attempts: int = 6
    backoff_s: float = 0.25
    backoff_max_s: float = 8.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        return min(self.backoff_max_s, self.backoff_s * 2.0 ** attempt)


def _unreadable(result: Any) -> bool:
    """The SDK's answer for a 2xx body that is not JSON."""
    return isinstance(result, dict) and len(result) == 1 and str(result.get("error", "")).startswith(
        "Could not parse JSON")


def call_with_retries(fn: Callable[[], T], policy: RetryPolicy = RetryPolicy(), *,
                      sleep: Callable[[float], None] = time.sleep) -> T:
    """Call `fn` until it succeeds, retrying `TemporaryError`s up to `policy.max_attempts` tries in all.

    Raises the typed error of the last failure; exceptions that are not exchange errors pass through.
    """
    for attempt in range(policy.max_attempts):
        try:
            result = fn()
            if _unreadable(result):
                raise VenueUnavailableError(f"unreadable answer: {str(result['error'])[:200]}")
            return result
        except Exception as exc:  # noqa: BLE001 - translated below, the rest re-raised as is
            error = typed_error(exc)
            if error is None:
                raise
            if not is_transient(error) or attempt == policy.max_attempts - 1:
                if error is exc:
                    raise
                raise error from exc
        sleep(policy.delay(attempt))
    raise ValueError(f"max_attempts={policy.max_attempts}: expected at least 1")
