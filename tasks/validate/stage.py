"""Validate stage: every candidate faces the gates of its mode on data that selected nothing.

    minimal: gate 1            fast: gates 1-2            full: gates 1-3

1. Backtest (tasks.validate.gate1_backtest): the validation window with the fused kernel; Sharpe, drawdown, win
   rate, trades; significance: StepM over every candidate's returns on the significance window (validation,
   by default with the replay window after it), family-wise error ``fwer`` (tasks.validate.gate1_significance); the
   look-ahead truncation test on the candidate's own targets.
2. Replay (tasks.validate.gate2_replay): the replay window through the event-driven engine; its trades must equal
   the kernel's, and its Sharpe must not contradict validation (``min_replay_sharpe``).
3. Venue (tasks.validate.gate3_venue): the survivors of gates 1-2 trade the live window through the exchange
   client against the loopback venue; the live return must track the replay engine's expectation.

Candidates travel in at most ``concurrency`` coarse batches (tasks.validate.batches), one Prefect task each,
on whatever task runner the flow chose (Ray in the pipeline): first gates 1-2 for every candidate, then
gate 3 for the survivors. The significance test over the whole set and the judging run once the batches
are back. A candidate whose validation raises fails with the error as its reason; the others go on.

Scores: each gate's score is the mean over its criteria of min(1, achieved / required) (for the
drawdown, limit / achieved), capped at 0.69 when a criterion fails; a hard failure (look-ahead, trade
mismatch, error) scores 0. Overall = 0.5 / 0.3 / 0.2 weighted mean over the gates performed; passed =
every gate of the mode performed and passed, and overall >= min_score.
"""
from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from exchange.atomic import write_parquet_atomic
from tasks.market.source import MarketData
from tasks.market.store import interval_timedelta
from tasks.market.windows import RunWindows
from tasks.orchestration.events import EventSink
from tasks.orchestration.safety import DEFAULT_SCOPE, SafetyScope
from tasks.orchestration.submitters import Submit, default_submit
from tasks.run.config import RunConfig, ValidationConfig
from tasks.run.run_dir import RunDir
from tasks.validate.batches import MODE_GATES, run_batches
from tasks.validate.candidate import Candidate, candidates_from_frame
from tasks.validate.gate1_backtest import candidate_significance
from tasks.validate.gate1_significance import MIN_DAYS
from tasks.validate.gate3_venue import gate3_venue

__all__ = ["GATE_WEIGHTS", "MODE_GATES", "validate_run"]

log = logging.getLogger(__name__)
GATE_WEIGHTS = {"gate1": 0.5, "gate2": 0.3, "gate3": 0.2}
GATE3_HOURLY_ONLY = "gate 3 (venue) not performed: the loopback venue replays hourly bars only"
FAILED_SCORE_CAP = 0.69


def validate_run(run: RunDir, market: MarketData, windows: RunWindows, config: RunConfig, *,
                 scope: SafetyScope = DEFAULT_SCOPE, submit: Submit | None = None,
                 on_event: EventSink | None = None) -> pd.DataFrame:
    """Read candidates.parquet, validate every candidate, write validated.parquet (one row each) and the
    run-level statistics into the manifest under ``validation``.

    Each batch runs under ``scope`` and its retry policy, through ``submit`` (default:
    tasks.orchestration.submitters.default_submit), in a flow or not: a gate-3 batch that meets a transient
    venue error is retried, and fails the stage once its retries are spent. ``on_event`` hears of each
    finished batch (tasks.validate.batches.run_batches)."""
    started = time.perf_counter()
    work = functools.partial(run_batches, market=market, windows=windows, config=config,
                             submit=submit or default_submit(), scope=scope, on_event=on_event)
    settings = config.validation
    candidates = pd.read_parquet(run.candidates)
    summary: dict = {"mode": settings.mode, "gates": list(MODE_GATES[settings.mode]), "candidates": len(candidates)}
    if "gate3" in MODE_GATES[settings.mode]:
        summary["gate3_venue"] = gate3_venue(settings)
    if candidates.empty:
        table = candidates.assign(overall_score=[], passed=[], reasons=[], gates_performed=[])
    else:
        members = candidates_from_frame(candidates)
        results = work("gates12", _batches(members, settings.concurrency))
        rows = [row for r in results for row in r.rows]
        returns = [x for r in results for x in r.returns]
        gates = pd.DataFrame(rows).set_index("strategy_id").loc[candidates["strategy_id"]].reset_index(drop=True)
        table, stats = _judge(candidates.join(gates), returns, _bars_per_day(market.interval), config)
        if "gate3" in MODE_GATES[settings.mode]:
            table = _gate3(table, members, market.interval, settings, work)
            if "gate3_start_ms" in table and table["gate3_start_ms"].notna().any():
                summary["gate3_span_ms"] = [int(table["gate3_start_ms"].min()), int(table["gate3_end_ms"].max())]
        table = _overall(table, settings)
        summary |= stats | {f"{g}_passed": int(table[f"{g}_pass"].sum()) for g in MODE_GATES[settings.mode]
                            if f"{g}_pass" in table}
    summary |= {"passed": int(table["passed"].sum()) if len(table) else 0,
                "seconds": round(time.perf_counter() - started, 3)}
    write_parquet_atomic(table, run.validated)
    run.update_manifest(validation=summary)
    log.info("validated %d candidates (%s mode): %d passed", len(table), settings.mode, summary["passed"])
    return table


def _batches(members: list[Candidate], concurrency: int) -> list[list[Candidate]]:
    """At most `concurrency` batches of nearly equal size, in candidate order."""
    chunks = np.array_split(np.arange(len(members)), min(concurrency, len(members)))
    return [[members[i] for i in chunk] for chunk in chunks if len(chunk)]


def _gate3(table: pd.DataFrame, members: list[Candidate], interval: str, settings: ValidationConfig,
           work: Callable[[str, list[list[Candidate]]], list]) -> pd.DataFrame:
    """Gate 3 for the survivors of gates 1-2 (``work(kind, batches)`` runs the batches); the others get its
    columns with the reason it did not run."""
    survivors = table["gate1_pass"].to_numpy(bool) & table["gate2_pass"].to_numpy(bool)
    passed, scores = np.zeros(len(table), dtype=bool), np.zeros(len(table))
    reasons = np.where(survivors, "", "not run: an earlier gate failed").astype(object)
    if interval != "1h":
        reasons[survivors] = GATE3_HOURLY_ONLY
    elif survivors.any():
        chosen = [m for m, ok in zip(members, survivors) if ok]
        # Forward sessions share one testnet wallet, so they trade one after another in a single batch.
        kind, batches = (("testnet", [chosen]) if settings.testnet else
                         ("gate3", _batches(chosen, settings.concurrency)))
        rows = [r for batch in work(kind, batches) for r in batch]
        table = table.join(pd.DataFrame(rows).set_index("strategy_id"), on="strategy_id")
        for i in np.flatnonzero(survivors):
            passed[i], scores[i], reasons[i] = _judge_gate3(table.iloc[i], settings)
    return table.assign(gate3_pass=passed, gate3_score=scores, gate3_reasons=reasons)


def _judge_gate3(row: pd.Series, s: ValidationConfig) -> tuple[bool, float, str]:
    if row["gate3_error"]:
        return False, 0.0, f"venue error: {row['gate3_error']}"
    performance, execution = row["gate3_performance"], row["gate3_execution"]
    score = float(np.mean([performance, execution]))
    if performance < s.min_venue_performance:
        return False, min(score, FAILED_SCORE_CAP), (
            f"venue performance {performance:.2f} < {s.min_venue_performance} (live return "
            f"{row['gate3_return']:.2%} vs expected {row['gate3_expected_return']:.2%})")
    return True, score, ""


def _bars_per_day(interval: str) -> int:
    return max(1, round(pd.Timedelta(days=1) / interval_timedelta(interval)))


def _judge(table: pd.DataFrame, returns: list[np.ndarray | None], bars_per_day: int,
           config: RunConfig) -> tuple[pd.DataFrame, dict]:
    """Add the significance, every gate's pass / score / reasons and the verdicts; returns (table, run statistics)."""
    settings = config.validation
    ok = [i for i, r in enumerate(returns) if r is not None]
    stats: dict = {"errors": len(returns) - len(ok)}
    significant = np.zeros(len(table), dtype=bool)
    sharpe = np.full(len(table), np.nan)
    too_short = ""
    if ok:
        test = candidate_significance([returns[i] for i in ok], bars_per_day, settings, config.seed)
        described = {"method": "StepM (Romano-Wolf), stationary bootstrap, daily returns vs cash",
                     "window": settings.significance_window, "fwer": settings.fwer, "candidates": len(ok)}
        if isinstance(test, int):
            too_short = f"only {test} days on {settings.significance_window}, the test needs {MIN_DAYS}"
            stats["significance"] = described | {"days": test, "significant": 0, "skipped": too_short}
        else:
            significant[ok], sharpe[ok] = test.superior, test.sharpe
            stats["significance"] = described | {
                "days": test.days, "block_days": round(test.block_days, 2), "reps": settings.bootstrap_reps,
                "critical_sharpe": round(test.critical_sharpe, 4), "spa_pvalue": test.spa_pvalue,
                "significant": int(test.superior.sum())}
    table = table.assign(gate1_significant=significant, gate1_significance_sharpe=sharpe)
    verdicts = {"gate1": [_gate1(row, settings, too_short) for _, row in table.iterrows()]}
    if "gate2" in MODE_GATES[settings.mode]:
        verdicts["gate2"] = [_gate2(row, settings) for _, row in table.iterrows()]
    for gate, values in verdicts.items():
        table = table.assign(**{f"{gate}_pass": [v[0] for v in values], f"{gate}_score": [v[1] for v in values],
                                f"{gate}_reasons": [v[2] for v in values]})
    return table, stats


def _gate1(row: pd.Series, s: ValidationConfig, too_short: str) -> tuple[bool, float, str]:
    if row["error"]:
        return False, 0.0, f"validation error: {row['error']}"
    if row["gate1_lookahead_leaks"]:
        return False, 0.0, (f"look-ahead: positions change when later bars are removed ({row['gate1_lookahead_leaks']}"
                            f" of {s.lookahead_cuts} cut points, first at {row['lookahead_first']})")
    dd = row["gate1_max_drawdown"]
    return _criteria({
        f"Sharpe {row['gate1_sharpe']:.2f} < {s.min_sharpe}": (row["gate1_sharpe"], s.min_sharpe),
        f"max drawdown {dd:.1%} > {s.max_drawdown:.0%}": (s.max_drawdown, max(dd, 1e-12)),
        f"win rate {row['gate1_win_rate']:.1%} < {s.min_win_rate:.0%}": (row["gate1_win_rate"], s.min_win_rate),
        f"{row['gate1_trades']:.0f} trades < {s.min_trades}": (row["gate1_trades"], s.min_trades),
        (f"not significant: {too_short}" if too_short else
         f"not significant among the candidates at {s.fwer:.0%} family-wise error "
         f"(Sharpe {row['gate1_significance_sharpe']:.2f} on {s.significance_window})"):
            (float(row["gate1_significant"]), 1.0),
    })


def _gate2(row: pd.Series, s: ValidationConfig) -> tuple[bool, float, str]:
    if row["error"]:
        return False, 0.0, f"validation error: {row['error']}"
    if not row["gate2_trades_match"]:
        return False, 0.0, f"replay engine and kernel disagree: {row['gate2_mismatch']}"
    return _criteria({
        f"replay Sharpe {row['gate2_sharpe']:.2f} < {s.min_replay_sharpe}": _at_least(row["gate2_sharpe"],
                                                                                     s.min_replay_sharpe),
    })


def _at_least(got: float, need: float) -> tuple[float, float]:
    """A criterion "got >= need" for _criteria, whose ratios need a positive requirement: shifted when it is not."""
    return (got, need) if need > 0 else (got - need + 1.0, 1.0)


def _criteria(criteria: dict[str, tuple[float, float]]) -> tuple[bool, float, str]:
    """(passed, score, reasons) of criteria {reason if failed: (achieved, required)}, higher is better."""
    ratios = {reason: (got / need if need > 0 else 1.0) for reason, (got, need) in criteria.items()}
    failed = [reason for reason, r in ratios.items() if not r >= 1.0]  # NaN fails
    score = float(np.mean([min(1.0, max(0.0, r)) if np.isfinite(r) else 0.0 for r in ratios.values()]))
    return not failed, (score if not failed else min(score, FAILED_SCORE_CAP)), "; ".join(failed)


def _overall(table: pd.DataFrame, s: ValidationConfig) -> pd.DataFrame:
    """Weighted score over the mode's gates; pass needs every one of them and the minimum score."""
    gates = list(MODE_GATES[s.mode])
    weights = np.array([GATE_WEIGHTS[g] for g in gates])
    overall = np.column_stack([table[f"{g}_score"].to_numpy(float) for g in gates]) @ weights / weights.sum()
    gates_ok = np.logical_and.reduce([table[f"{g}_pass"].to_numpy(bool) for g in gates])
    passed = gates_ok & (overall >= s.min_score)
    reasons = []
    for i, (ok, score) in enumerate(zip(gates_ok, overall)):
        parts = [f"{g}: {table[f'{g}_reasons'].iat[i]}" for g in gates if table[f"{g}_reasons"].iat[i]]
        if ok and score < s.min_score:
            parts.append(f"overall score {score:.2f} < {s.min_score}")
        reasons.append("; ".join(parts))
    return table.assign(overall_score=overall, passed=passed, reasons=reasons, gates_performed=",".join(gates))
