"""The validate stage's batches under policies and safety scopes: a ``run_batches`` for tasks.validate.stage.

Each batch is one task (on the flow's task runner, or in this process outside a flow) submitted under
its policy (tasks.orchestration.policies): gates 1-2 batches depend on the Ray cluster, gate-3 batches on the venue
too. Inside a batch the candidates run one by one under the run's safety scope (tasks.orchestration.safety): those
left when the time limit passes fail with the scope's reason, and the violation goes to the run's
resilience log.

A gate-3 row whose error is a transient exchange error (the venue unreachable, rate limiting, 5xx)
fails the whole batch with that error, so that the batch is retried and the venue's breaker counts it;
any other error stays the candidate's reason.

With ``--testnet`` the survivors trade forward in real time, one after another on one wallet, in a single
batch (``scoped_testnet_batch``): its time limit grows by the sessions' minutes, and its policy never
retries (a retry would trade every session again).
"""
from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext

from exchange import errors
from tasks.market.source import MarketData
from tasks.market.windows import RunWindows
from tasks.orchestration.events import EventSink
from tasks.orchestration.policies import call, record_violation, submit, with_policy
from tasks.orchestration.retry_policy import Policy, retry_policy
from tasks.orchestration.safety import Deadline, SafetyScope, Scoped, scoped_items
from tasks.run.config import RunConfig, ValidationConfig
from tasks.validate.candidate import Candidate, ValidationInputs, prepare_validation_inputs
from tasks.validate.stage import BatchResult, RunBatches, prepare_live_inputs, validate_batch, venue_batch

__all__ = ["scoped_batches", "scoped_testnet_batch", "scoped_validation_batch", "scoped_venue_batch"]

# Exchange errors by the class name a gate-3 row carries ("TransportError: ..."); errors.is_transient decides.
_EXCHANGE_ERRORS = {cls.__name__: cls for cls in vars(errors).values()
                    if isinstance(cls, type) and issubclass(cls, errors.ExchangeError)}


@retry_policy(Policy("ray", retries=2, timeout_s=3600))
def scoped_validation_batch(candidates: list[Candidate], inputs: ValidationInputs, config: ValidationConfig,
                            scope: SafetyScope) -> Scoped:
    """tasks.validate.stage.validate_batch, one candidate at a time, within ``scope``'s time limit."""
    done = scoped_items(candidates, lambda c: validate_batch([c], inputs, config),
                        lambda c, reason: BatchResult([{"strategy_id": c.strategy_id, "error": reason}], [None]),
                        Deadline(scope), work="validation batch")
    return Scoped(BatchResult([r for b in done.value for r in b.rows], [x for b in done.value for x in b.returns]),
                  done.violation)


@retry_policy(Policy("venue", retries=3, backoff_s=2.0, timeout_s=3600))
def scoped_venue_batch(candidates: list[Candidate], inputs: ValidationInputs, config: ValidationConfig,
                       scope: SafetyScope) -> Scoped:
    """tasks.validate.stage.venue_batch, one candidate at a time, within ``scope``'s time limit; raises the
    first transient exchange error a candidate met (see the module docstring)."""
    done = scoped_items(candidates, lambda c: venue_batch([c], inputs, config),
                        lambda c, reason: [{"strategy_id": c.strategy_id, "gate3_error": reason}],
                        Deadline(scope), work="venue batch")
    rows = [r for rows in done.value for r in rows]
    for row in rows:
        name, _, message = str(row.get("gate3_error", "")).partition(": ")
        error = _EXCHANGE_ERRORS.get(name)
        if error is not None and errors.is_transient(error(message)):
            raise error(f"gate 3 of {row['strategy_id']}: {message}")
    return Scoped(rows, done.violation)


# Forward sessions on the testnet: bounded by --testnet-minutes each; a retry would trade them all again.
@retry_policy(Policy("venue", retries=0))
def scoped_testnet_batch(candidates: list[Candidate], inputs: ValidationInputs, config: ValidationConfig,
                         scope: SafetyScope) -> Scoped:
    """scoped_venue_batch for forward sessions: the scope's limit plus every session's minutes (the
    trading itself is bounded by --testnet-minutes, not by kernel work)."""
    sessions_s = config.testnet_minutes * 60.0 * len(candidates)
    return scoped_venue_batch(candidates, inputs, config, scope._replace(time_limit_s=scope.time_limit_s + sessions_s))


_TASKS = {fn: with_policy(task(name=name, cache_policy=NO_CACHE)(fn)) for fn, name in (
    (prepare_validation_inputs, "prepare-validation-inputs"), (prepare_live_inputs, "prepare-live-inputs"),
    (scoped_validation_batch, "validate-batch"), (scoped_venue_batch, "venue-batch"),
    (scoped_testnet_batch, "testnet-batch"))}
_WORK = {"gates12": (prepare_validation_inputs, scoped_validation_batch),
         "gate3": (prepare_live_inputs, scoped_venue_batch),
         "testnet": (prepare_live_inputs, scoped_testnet_batch)}


def _reported(result: Scoped, work: str, index: int, batches: list[list[Candidate]],
              on_event: EventSink | None) -> Scoped:
    if on_event is not None:
        on_event({"event": "validation", "work": work, "done": index + 1, "total": len(batches),
                  "candidates": sum(len(b) for b in batches[:index + 1]),
                  "of": sum(len(b) for b in batches)})
    return result


def scoped_batches(scope: SafetyScope, on_event: EventSink | None = None) -> RunBatches:
    """A ``run_batches`` for tasks.validate.stage.validate_run running every batch under ``scope``; ``on_event``
    hears of each finished batch ({"event": "validation", "work", "done", "total", "candidates"})."""

    def run_batches(work: str, batches: list[list[Candidate]], market: MarketData, windows: RunWindows,
                    config: RunConfig) -> list[Any]:
        prepare, batch = _WORK[work]
        if FlowRunContext.get() is not None:
            inputs = submit(_TASKS[prepare], market, windows, config)
            pending = [submit(_TASKS[batch], b, inputs, config.validation, scope) for b in batches]
            results = [_reported(f.result(), work, i, batches, on_event) for i, f in enumerate(pending)]
        else:
            inputs = call(prepare, market, windows, config)
            results = [_reported(call(batch, b, inputs, config.validation, scope), work, i, batches, on_event)
                       for i, b in enumerate(batches)]
        for result in results:
            if result.violation:
                record_violation(result.violation)
        return [r.value for r in results]

    return run_batches
