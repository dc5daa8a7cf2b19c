"""Per-task policies (tasks.orchestration.retry_policy, attached to each function) applied where work is submitted.

A policy says which component the work depends on (its circuit breaker, tasks.orchestration.breakers), how often a
transient failure is retried (exponential backoff with jitter) and the task's time limit. Only
transient errors are retried: a lost Ray worker or node, an exchange ``TemporaryError`` (network,
rate limit, 5xx), a connection error. Bad input, an exchange refusal, a timeout and an open breaker
are not.

Retries happen where the work was submitted (the flow process), not inside the task: a Ray worker that
dies takes the task's own retry loop with it, and only the submitter sees ``WorkerCrashedError``. So
one mechanism covers both kinds: the failed attempt is recorded (tasks.orchestration.resilience), the component's
breaker is charged, and after the backoff the same call is submitted again as a new task run. Ray's own
task retries are switched off (``max_retries=0``) so Prefect's record and ours agree. A retried call
gets the same arguments: island epochs and validation batches are deterministic, and venue orders carry
idempotent client order ids, so a retry neither loses nor duplicates work.

Usage, in a flow::

    with guarding(ResilienceLog(run, board), board):
        future = submit(with_policy(evolve_island_task), state, inputs, island=0, ...)   # a GuardedFuture
        result = future.result()                                                        # retried as its policy says

``submit`` is how every stage submits its work in a flow (through tasks.orchestration.submitters.prefect_submit);
``call(fn, ...)`` runs a function in this process under its policy (work done outside a flow run);
``with_policy(task)`` gives a Prefect task its policy's time limit; ``guarded(submit_fn)`` is what
``submit`` is built on, for a submitter other than a Prefect task's own.
"""
from __future__ import annotations

import contextvars
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import ray.exceptions as rx
from prefect import Task
from prefect.task_engine import TaskRunTimeoutError
from prefect_ray.context import remote_options

from exchange.errors import is_transient as is_transient_exchange_error
from tasks.orchestration.breakers import BreakerBoard, BreakerOpenError
from tasks.orchestration.resilience import ResilienceLog
from tasks.orchestration.retry_policy import Policy, policy_of

__all__ = ["GuardedFuture", "call", "guarded", "guarding", "is_transient", "is_worker_lost", "policy_for",
           "record_violation", "submit", "with_policy"]

log = logging.getLogger(__name__)


# Errors that mean the machine under the task went away, not that the task is wrong.
_WORKER_LOST: tuple[type[BaseException], ...] = (
    rx.WorkerCrashedError, rx.NodeDiedError, rx.LocalRayletDiedError, rx.ObjectLostError, rx.ObjectFetchTimedOutError,
    rx.RayActorError, rx.ActorUnavailableError, rx.OutOfMemoryError,
)


def _cause(exc: BaseException) -> BaseException:
    """The user's exception inside a Ray task error."""
    return exc.cause if isinstance(exc, rx.RayTaskError) and exc.cause is not None else exc


def is_worker_lost(exc: BaseException) -> bool:
    return isinstance(_cause(exc), _WORKER_LOST)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: worker or node lost, network, rate limit, venue 5xx. Never bad input."""
    exc = _cause(exc)
    if isinstance(exc, (BreakerOpenError, TaskRunTimeoutError)):
        return False
    return isinstance(exc, _WORKER_LOST) or is_transient_exchange_error(exc)


def policy_for(work: Any) -> Policy:
    """The policy attached to a function or to the function a Prefect task runs (tasks.orchestration.retry_policy)."""
    return policy_of(work)


def _name(work: Any) -> str:
    fn = work.fn if isinstance(work, Task) else work
    return getattr(fn, "__name__", str(fn))


def with_policy(task: Task) -> Task:
    """``task`` with its policy's time limit and no Prefect retries (retries happen at submission)."""
    return task.with_options(timeout_seconds=policy_for(task).timeout_s, retries=0)


class _Guard(NamedTuple):
    log: ResilienceLog | None
    board: BreakerBoard | None
    sleep: Callable[[float], None]
    rng: random.Random


_GUARD: contextvars.ContextVar[_Guard] = contextvars.ContextVar(
    "uce_guard", default=_Guard(None, None, time.sleep, random.Random()))


@contextmanager
def guarding(resilience: ResilienceLog | None, board: BreakerBoard | None, *,
             sleep: Callable[[float], None] = time.sleep) -> Iterator[None]:
    """Record failures in ``resilience`` and consult ``board`` for the work submitted inside the block."""
    token = _GUARD.set(_Guard(resilience, board, sleep, random.Random()))
    try:
        yield
    finally:
        _GUARD.reset(token)


class GuardedFuture:
    """A submitted call that its policy retries when ``result()`` finds it failed transiently."""

    def __init__(self, work: str, policy: Policy, start: Callable[[], Any], *, on_ray: bool) -> None:
        self.work, self.policy = work, policy
        self._guard = _GUARD.get()
        # Work run in this process does not depend on Ray, whatever its policy says.
        self._component = policy.component if on_ray or policy.component != "ray" else None
        self._components = tuple(dict.fromkeys(c for c in (self._component, "ray" if on_ray else None) if c))
        self._start = start
        self._refuse_if_open(1, [])
        self._future = start()
        self._done, self._value = False, None

    def result(self) -> Any:
        if not self._done:
            self._value = self._run()
            self._done = True
        return self._value

    def settled(self) -> Any:
        """The underlying future, once it has succeeded (to pass downstream as a dependency)."""
        self.result()
        return self._future

    def _run(self) -> Any:
        guard, policy = self._guard, self.policy
        failures: list[int] = []
        attempt = 0
        while True:
            try:
                value = self._future.result()
            except Exception as exc:  # noqa: BLE001 - classified below; anything not retried is re-raised
                transient = is_transient(exc)
                component = "ray" if is_worker_lost(exc) else self._component
                retrying = transient and attempt < policy.retries
                if guard.log:
                    failures.append(guard.log.failure(component or "none", exc, work=self.work,
                                                      attempt=attempt + 1, retrying=retrying))
                if transient and component and guard.board and guard.board.failure(component, exc):
                    if guard.log:
                        guard.log.breaker_opened(component, f"{type(exc).__name__}: {exc}")
                if not retrying:
                    self._resolve(failures, recovered=False)
                    raise
                delay = policy.delay(attempt, guard.rng)
                log.warning("%s failed (attempt %d of %d, %s: %s); retrying in %.1f s", self.work, attempt + 1,
                            policy.retries + 1, type(exc).__name__, exc, delay)
                guard.sleep(delay)
                attempt += 1
                self._refuse_if_open(attempt + 1, failures)
                self._future = self._start()
                continue
            if guard.board:
                for component in self._components:
                    guard.board.success(component)
            self._resolve(failures, recovered=True)
            return value

    def _refuse_if_open(self, attempt: int, failures: list[int]) -> None:
        """Fail fast when a breaker this work depends on is open."""
        guard = self._guard
        if guard.board is None:
            return
        for component in self._components:
            try:
                guard.board.check(component)
            except BreakerOpenError as refused:
                if guard.log:
                    failures.append(guard.log.failure(component, refused, work=self.work, attempt=attempt,
                                                      retrying=False))
                self._resolve(failures, recovered=False)
                raise

    def _resolve(self, failures: list[int], *, recovered: bool) -> None:
        if failures and self._guard.log:
            self._guard.log.resolved(failures, recovered=recovered)


def record_violation(violation: dict) -> None:
    """Write a safety-scope violation (tasks.orchestration.safety) to the guarded run's resilience log."""
    resilience = _GUARD.get().log
    if resilience:
        resilience.violation(violation)
    log.warning("safety scope %s: %s stopped after %d of %d (limit %g s)", violation["scope"], violation["work"],
                violation["done"], violation["total"], violation["limit_s"])


def _settle(value: Any) -> Any:
    """Arguments that are guarded futures become their underlying (succeeded) futures."""
    return value.settled() if isinstance(value, GuardedFuture) else value


def _submit_once(submit_fn: Callable[..., Any], fn: Any, args: tuple, kwargs: dict) -> Callable[[], Any]:
    def start() -> Any:
        with remote_options(max_retries=0):  # Prefect and this module own retries, not Ray
            return submit_fn(fn, *[_settle(a) for a in args], **{k: _settle(v) for k, v in kwargs.items()})
    return start


def guarded(submit_fn: Callable[..., Any]) -> Callable[..., GuardedFuture]:
    """Wrap ``submit_fn(fn, *args, **kwargs) -> future`` so each call runs under ``fn``'s policy."""
    def submit_guarded(fn: Any, *args: Any, **kwargs: Any) -> GuardedFuture:
        return GuardedFuture(_name(fn), policy_for(fn), _submit_once(submit_fn, fn, args, kwargs), on_ray=True)
    return submit_guarded


def submit(task: Task, *args: Any, **kwargs: Any) -> GuardedFuture:
    """Submit a Prefect task to the flow's task runner under its policy."""
    return guarded(lambda t, *a, **k: t.submit(*a, **k))(task, *args, **kwargs)


class _Call(NamedTuple):
    """A call made in this process, as a future."""
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict

    def result(self) -> Any:
        return self.fn(*self.args, **self.kwargs)


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` in this process under its policy (retries, breaker, record); returns its value."""
    return GuardedFuture(_name(fn), policy_for(fn), lambda: _Call(fn, args, kwargs), on_ray=False).result()
