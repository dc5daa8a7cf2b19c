"""Validate stage: score every candidate on data that selected nothing.

Gate 1 (every mode): a backtest on the validation window with the fused kernel. The candidate's
positions may read older bars as indicator history but the window's returns are the only score.
Gates 2 and 3 arrive with the replay engine and the venue; a mode that asks for them says so in the
row's ``reasons`` until then.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from kernels.families import FAMILY_NAMES
from tasks.atomic import write_parquet_atomic
from tasks.config import RunConfig, ValidationConfig
from tasks.evaluation import evaluate_genomes, kernel_costs, kernel_market, metric_index
from tasks.genome_table import genes_matrix
from tasks.market_source import MarketData
from tasks.run_dir import RunDir
from tasks.windows import RunWindows, bar_range

__all__ = ["GATE_WEIGHTS", "gate1_backtest", "validate_run"]

log = logging.getLogger(__name__)
GATE_WEIGHTS = {"gate1": 0.5, "gate2": 0.3, "gate3": 0.2}
_GATE1_METRICS = ("sharpe", "max_drawdown", "win_rate", "trades", "total_return", "cagr", "sortino",
                  "exposure", "turnover", "fees_paid", "funding_paid")


def gate1_backtest(candidates: pd.DataFrame, market: MarketData, windows: RunWindows,
                   config: RunConfig) -> pd.DataFrame:
    """Per candidate: validation-window metrics, pass/fail against the thresholds, a score in [0, 1]."""
    rows = []
    coin_names = [c.coin for c in market.coins]
    for coin_name, group in candidates.groupby("coin", sort=False):
        coin = market.coins[coin_names.index(coin_name)]
        i0, i1 = bar_range(coin.candles, windows.validation)
        kmarket = kernel_market(coin, market.interval, stop=i1)
        # The position held over the window's first bar is decided at the close of the bar before it.
        bounds = np.array([i0 - 1, i1 - 1], dtype=np.int64)
        metrics = evaluate_genomes(
            kmarket,
            np.array([FAMILY_NAMES.index(f) for f in group["family"]], dtype=np.int64),
            genes_matrix(group["genes"]), bounds, kernel_costs(config.costs),
            np.array([FAMILY_NAMES.index(f) if isinstance(f, str) else -1 for f in group["family_b"]], np.int64),
            genes_matrix(group["genes_b"]),
        )[:, 0, :]
        for row_index, m in zip(group.index, metrics):
            values = {f"gate1_{name}": float(m[metric_index(name)]) for name in _GATE1_METRICS}
            rows.append({"index": row_index, **values, **_judge_gate1(values, config.validation)})
    return pd.DataFrame(rows).set_index("index").loc[candidates.index]


def _judge_gate1(v: dict[str, float], limits: ValidationConfig) -> dict:
    """Pass needs every threshold; the score averages how far each criterion is met (each capped at 1)."""
    dd = v["gate1_max_drawdown"]
    criteria = {
        f"Sharpe {v['gate1_sharpe']:.2f} < {limits.min_sharpe}": (v["gate1_sharpe"], limits.min_sharpe),
        f"max drawdown {dd:.1%} > {limits.max_drawdown:.0%}": (limits.max_drawdown, max(dd, 1e-12)),
        f"win rate {v['gate1_win_rate']:.1%} < {limits.min_win_rate:.0%}": (v["gate1_win_rate"], limits.min_win_rate),
        f"{v['gate1_trades']:.0f} trades < {limits.min_trades}": (v["gate1_trades"], limits.min_trades),
    }
    ratios = {reason: (got / need if need > 0 else 1.0) for reason, (got, need) in criteria.items()}
    failed = [reason for reason, r in ratios.items() if r < 1.0]
    score = float(np.mean([min(1.0, max(0.0, r)) for r in ratios.values()]))
    return {"gate1_pass": not failed, "gate1_score": score if not failed else min(score, 0.69),
            "gate1_reasons": "; ".join(failed)}


def _overall(table: pd.DataFrame, mode: str, min_score: float) -> pd.DataFrame:
    """Weighted score over the gates performed; pass needs every required gate and the minimum score."""
    performed = ["gate1"]
    not_built = {"minimal": [], "fast": ["gate 2 (replay) is not built yet"],
                 "full": ["gate 2 (replay) is not built yet", "gate 3 (venue) is not built yet"]}[mode]
    weights = np.array([GATE_WEIGHTS[g] for g in performed])
    overall = np.column_stack([table[f"{g}_score"] for g in performed]) @ weights / weights.sum()
    gates_ok = np.logical_and.reduce([table[f"{g}_pass"].to_numpy(bool) for g in performed])
    passed = gates_ok & (overall >= min_score) & (not not_built)
    reasons = []
    for gate_reasons, ok, score in zip(table["gate1_reasons"], gates_ok, overall):
        parts = [gate_reasons] if gate_reasons else []
        if ok and score < min_score:
            parts.append(f"overall score {score:.2f} < {min_score}")
        reasons.append("; ".join(parts + not_built))
    return table.assign(overall_score=overall, passed=passed, reasons=reasons, gates_performed=",".join(performed))


def validate_run(run: RunDir, market: MarketData, windows: RunWindows, config: RunConfig) -> pd.DataFrame:
    """Read candidates.parquet, validate every candidate, write validated.parquet (one row each)."""
    candidates = pd.read_parquet(run.candidates)
    if candidates.empty:
        table = candidates.assign(overall_score=[], passed=[], reasons=[])
    else:
        gate1 = gate1_backtest(candidates, market, windows, config)
        table = _overall(candidates.join(gate1), config.validation.mode, config.validation.min_score)
    write_parquet_atomic(table, run.validated)
    log.info("validated %d candidates: %d passed", len(table), int(table["passed"].sum()) if len(table) else 0)
    return table
