"""A unit of work's retry and time-limit policy, attached to the function itself.

    @retry_policy(Policy("ray", retries=3, timeout_s=3600), run_name="island-{island}-epoch-{epoch}")
    def evolve_island(...): ...

tasks.orchestration.policies reads it where the work is submitted (``policy_of``); a function without one gets
``DEFAULT_POLICY``. The policy travels with the function, so renaming the function cannot detach it.
``run_name`` (optional) names each run of the work in the Prefect UI, a template over its parameters
(tasks.orchestration.submitters).
No Prefect or Ray here: the lowest modules (the market store's loader) declare their policy too.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from tasks.orchestration.breakers import Component

__all__ = ["DEFAULT_POLICY", "Policy", "policy_of", "retry_policy", "run_name_of"]

F = TypeVar("F", bound=Callable[..., Any])


class Policy(NamedTuple):
    """``retries`` after the first attempt; the wait before retry k (0-based) is
    min(backoff_max_s, backoff_s x 2^k) x a uniform factor in [1 - jitter, 1 + jitter]. ``component`` names the
    circuit breaker the work charges (tasks.orchestration.breakers); ``timeout_s`` is the Prefect task's time limit
    (it stops Python code; numba calls are bounded by size instead, tasks.orchestration.safety)."""

    component: Component | None
    retries: int = 2
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    jitter: float = 0.5
    timeout_s: float | None = None

    def delay(self, attempt: int, rng: random.Random) -> float:
        base = min(self.backoff_max_s, self.backoff_s * 2.0 ** attempt)
        return base * rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)


DEFAULT_POLICY = Policy(None, retries=1)


def retry_policy(policy: Policy, *, run_name: str | None = None) -> Callable[[F], F]:
    """Attach ``policy`` (and the UI's ``run_name`` template, if given) to the decorated function."""

    def attach(fn: F) -> F:
        fn.retry_policy = policy  # type: ignore[attr-defined]
        fn.run_name = run_name  # type: ignore[attr-defined]
        return fn

    return attach


def policy_of(work: Any) -> Policy:
    """The policy of a function, or of the function a Prefect task runs (``task.fn``)."""
    fn = getattr(work, "fn", work)
    return getattr(fn, "retry_policy", DEFAULT_POLICY)


def run_name_of(fn: Any) -> str | None:
    """The Prefect UI's name template for each run of ``fn``; None = Prefect's own."""
    return getattr(getattr(fn, "fn", fn), "run_name", None)
