"""The validate stage's work in batches: gates 1-2 per candidate, gate 3 per survivor, under safety scopes.

A batch is one unit of submitted work (tasks.orchestration.submitters: a Prefect task on the flow's task
runner, or a call in this process outside a flow) under its policy: gates 1-2 batches depend on the Ray
cluster, gate-3 batches on the venue too. Inside a batch the candidates run one by one under the run's
safety scope (tasks.orchestration.safety): those left when the time limit passes fail with the scope's
reason, and the violation goes to the run's resilience log. A candidate whose work raises fails with the
error as its reason; the others go on.

A candidate whose gate 3 meets a transient exchange error (the venue unreachable, rate limiting, 5xx)
fails the whole batch with that error at once, so that the batch is retried and the venue's breaker
counts it; any other error stays the candidate's reason.

With ``--testnet`` the survivors trade forward in real time, one after another on one wallet, in a single
batch (``testnet_batch``): its time limit grows by the sessions' minutes, and its policy never retries
(a retry would trade every session again).
"""
from __future__ import annotations

import logging
from typing import Any, NamedTuple

import numpy as np

from exchange import errors
from tasks.market.source import MarketData
from tasks.market.windows import RunWindows
from tasks.orchestration.events import EventSink
from tasks.orchestration.policies import record_violation
from tasks.orchestration.retry_policy import Policy, retry_policy
from tasks.orchestration.safety import Deadline, SafetyScope, Scoped, scoped_items
from tasks.orchestration.submitters import Submit
from tasks.run.config import RunConfig, ValidationConfig
from tasks.validate.candidate import Candidate, ValidationInputs, prepare_validation_inputs
from tasks.validate.gate1_backtest import backtest_candidate, lookahead_leaks, significance_returns
from tasks.validate.gate2_replay import replay_candidate
from tasks.validate.gate3_venue import gate3_candidate

__all__ = ["MODE_GATES", "BatchResult", "prepare_live_inputs", "run_batches", "testnet_batch", "validate_batch",
           "venue_batch"]

log = logging.getLogger(__name__)
MODE_GATES = {"minimal": ("gate1",), "fast": ("gate1", "gate2"), "full": ("gate1", "gate2", "gate3")}

class BatchResult(NamedTuple):
    """Per candidate of a batch: its gate values (a dict) and its significance-window returns (None on error)."""

    rows: list[dict]
    returns: list[np.ndarray | None]


def _gates12(candidate: Candidate, inputs: ValidationInputs, config: ValidationConfig) -> BatchResult:
    """Gate 1's per-candidate work and, in fast / full mode, gate 2."""
    coin = inputs.coins[candidate.coin]
    row: dict = {"strategy_id": candidate.strategy_id, "error": ""}
    try:
        metrics = backtest_candidate(candidate, coin, inputs.costs)
        per_bar = significance_returns(candidate, coin, inputs.costs, config.significance_window)
        leaks = lookahead_leaks(candidate, coin, config.lookahead_cuts)
        row.update(metrics, gate1_lookahead_leaks=len(leaks), lookahead_first=coin.bar_time(leaks[0]) if leaks else "")
        if "gate2" in MODE_GATES[config.mode]:
            row.update(replay_candidate(candidate, coin, inputs.costs))
    except Exception as exc:  # noqa: BLE001 - one broken candidate must not sink the others
        log.exception("validating %s failed", candidate.strategy_id)
        row["error"] = f"{type(exc).__name__}: {exc}"  # what was measured before the error stays in the row
        return BatchResult([row], [None])
    return BatchResult([row], [per_bar])


def _gate3(candidate: Candidate, inputs: ValidationInputs, config: ValidationConfig) -> list[dict]:
    """Gate 3's values for one candidate, or the error that stopped it; a transient exchange error is raised
    (the venue, not the candidate, failed: the batch's policy retries it)."""
    row: dict = {"strategy_id": candidate.strategy_id, "gate3_error": ""}
    try:
        row.update(gate3_candidate(candidate, inputs.coins.get(candidate.coin), inputs.costs, config))
    except Exception as exc:  # noqa: BLE001 - one broken candidate must not sink the others
        if errors.is_transient(exc):
            raise
        log.exception("gate 3 of %s failed", candidate.strategy_id)
        row["gate3_error"] = f"{type(exc).__name__}: {exc}"
    return [row]


@retry_policy(Policy("ray", retries=2, timeout_s=3600))
def validate_batch(candidates: list[Candidate], inputs: ValidationInputs, config: ValidationConfig,
                   scope: SafetyScope) -> Scoped:
    """Gates 1-2 for each candidate, one at a time, within ``scope``'s time limit."""
    done = scoped_items(candidates, lambda c: _gates12(c, inputs, config),
                        lambda c, reason: BatchResult([{"strategy_id": c.strategy_id, "error": reason}], [None]),
                        Deadline(scope), work="validation batch")
    return Scoped(BatchResult([r for b in done.value for r in b.rows], [x for b in done.value for x in b.returns]),
                  done.violation)


@retry_policy(Policy("venue", retries=3, backoff_s=2.0, timeout_s=3600))
def venue_batch(candidates: list[Candidate], inputs: ValidationInputs, config: ValidationConfig,
                scope: SafetyScope) -> Scoped:
    """Gate 3 for each candidate, one at a time, within ``scope``'s time limit; the first transient exchange
    error a candidate meets fails the batch (see the module docstring)."""
    done = scoped_items(candidates, lambda c: _gate3(c, inputs, config),
                        lambda c, reason: [{"strategy_id": c.strategy_id, "gate3_error": reason}],
                        Deadline(scope), work="venue batch")
    return Scoped([r for rows in done.value for r in rows], done.violation)


# Forward sessions on the testnet: bounded by --testnet-minutes each; a retry would trade them all again.
@retry_policy(Policy("venue", retries=0))
def testnet_batch(candidates: list[Candidate], inputs: ValidationInputs, config: ValidationConfig,
                  scope: SafetyScope) -> Scoped:
    """venue_batch for forward sessions: the scope's limit plus every session's minutes (the trading itself
    is bounded by --testnet-minutes, not by kernel work)."""
    sessions_s = config.testnet_minutes * 60.0 * len(candidates)
    return venue_batch(candidates, inputs, config, scope._replace(time_limit_s=scope.time_limit_s + sessions_s))


@retry_policy(Policy("ray", retries=2, timeout_s=900))
def prepare_live_inputs(market: MarketData, windows: RunWindows, config: RunConfig) -> ValidationInputs:
    """Gate 3's inputs: the bars through the end of the live window."""
    return prepare_validation_inputs(market, windows, config, through="live")


# Each kind of batch work: how its shared inputs are built, and what one batch does with them.
_WORK = {"gates12": (prepare_validation_inputs, validate_batch), "gate3": (prepare_live_inputs, venue_batch),
         "testnet": (prepare_live_inputs, testnet_batch)}


def run_batches(work: str, batches: list[list[Candidate]], market: MarketData, windows: RunWindows,
                config: RunConfig, *, submit: Submit, scope: SafetyScope,
                on_event: EventSink | None = None) -> list[Any]:
    """Submit the ``work`` ("gates12", "gate3" or "testnet") of every batch; returns each batch's value, in
    order. Violations of ``scope`` go to the run's resilience log; ``on_event`` hears of each finished batch
    ({"event": "validation", "work", "done", "total", "candidates", "of"})."""
    prepare, batch = _WORK[work]
    inputs = submit(prepare, market, windows, config)
    pending = [submit(batch, b, inputs, config.validation, scope) for b in batches]
    values = []
    for i, future in enumerate(pending):
        result = future.result()
        if result.violation:
            record_violation(result.violation)
        if on_event is not None:
            on_event({"event": "validation", "work": work, "done": i + 1, "total": len(batches),
                      "candidates": sum(len(b) for b in batches[:i + 1]), "of": sum(len(b) for b in batches)})
        values.append(result.value)
    return values
