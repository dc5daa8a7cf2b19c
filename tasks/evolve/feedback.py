"""What paper trading teaches the next evolution: retired strategies and their close relatives are
penalised, and every deployed strategy's live results are attached to its lineage.

Read from the paper folder (<data>/paper): the registry (status, reason, genes, lineage) and
performance.parquet (per-bar equity, returns, drawdown). Penalties are in [0, 1]:

- a retired strategy: 1.0 (a rule ended it on live data); stopped by the operator or still active: 0.0;
- a relative of a retired strategy (`relatives_penalty`): same coin and family and mean absolute gene
  distance d < radius: 1 - d / radius (1.0 for the same genes, fading to 0 at the radius);
- a child of a retired strategy (`lineage_penalty`): `child_penalty` (0.5) when any parent id is retired.

The evolution applies them to fitness, e.g. fitness - weight x max(relatives, lineage) penalty.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from exchange.paper.feed import BARS_PER_YEAR
from exchange.paper.registry import Registry
from kernels.families import FAMILY_NAMES
from tasks.deploy.stage import paper_paths

__all__ = ["LIVE_COLUMNS", "PaperFeedback", "lineage_penalty", "read_paper_feedback", "relatives_penalty"]

LIVE_COLUMNS = ("strategy_id", "run_id", "coin", "family", "family_b", "genes", "status", "status_reason", "uid",
                "parent_ids", "operator", "generation", "island", "capital", "bars", "paper_return", "paper_sharpe",
                "paper_max_drawdown", "paper_fees", "paper_funding", "last_time", "penalty")


class PaperFeedback(NamedTuple):
    """`live`: one row per deployed strategy (LIVE_COLUMNS; returns and drawdowns as fractions);
    `penalties`: strategy id -> penalty of that strategy itself."""

    live: pd.DataFrame
    penalties: dict[str, float]

    @property
    def retired(self) -> pd.DataFrame:
        return self.live[self.live["status"] == "retired"]


def _paper_metrics(perf: pd.DataFrame, capital: float) -> dict:
    if perf.empty:
        return {"bars": 0, "paper_return": np.nan, "paper_sharpe": np.nan, "paper_max_drawdown": np.nan,
                "paper_fees": np.nan, "paper_funding": np.nan, "last_time": pd.NaT}
    perf = perf.sort_values("time")
    r = perf["return"].to_numpy(float)
    sd = r.std(ddof=1) if len(r) > 1 else 0.0
    last = perf.iloc[-1]
    return {"bars": len(perf), "paper_return": float(last["equity"]) / capital - 1.0,
            "paper_sharpe": float(r.mean() / sd * np.sqrt(BARS_PER_YEAR)) if sd > 0 else 0.0,
            "paper_max_drawdown": float(perf["drawdown"].max()), "paper_fees": float(last["fees"]),
            "paper_funding": float(last["funding"]), "last_time": last["time"]}


def read_paper_feedback(data_dir: Path) -> PaperFeedback:
    """Paper results of every strategy in the registry of `data_dir` (empty when nothing was deployed)."""
    paths = paper_paths(data_dir)
    specs = Registry(paths.registry).all() if paths.registry.exists() else []
    perf = pd.read_parquet(paths.performance) if paths.performance.exists() else pd.DataFrame(
        columns=["time", "strategy_id", "return", "equity", "drawdown", "fees", "funding"])
    by_id = dict(tuple(perf.groupby("strategy_id"))) if len(perf) else {}
    rows, penalties = [], {}
    for s in specs:
        penalty = 1.0 if s.status == "retired" else 0.0
        penalties[s.strategy_id] = penalty
        lineage = s.lineage or {}
        rows.append({
            "strategy_id": s.strategy_id, "run_id": s.run_id, "coin": s.coin, "family": s.family,
            "family_b": s.family_b, "genes": list(s.genes), "status": s.status, "status_reason": s.status_reason,
            "uid": lineage.get("uid"), "parent_ids": [str(p) for p in lineage.get("parent_ids", [])],
            "operator": lineage.get("operator"), "generation": lineage.get("generation"),
            "island": lineage.get("island"), "capital": s.capital,
            **_paper_metrics(by_id.get(s.strategy_id, pd.DataFrame()), s.capital), "penalty": penalty,
        })
    return PaperFeedback(pd.DataFrame(rows, columns=list(LIVE_COLUMNS)), penalties)


def relatives_penalty(feedback: PaperFeedback, coins: Sequence[str], families: np.ndarray, genes: np.ndarray, *,
                      radius: float = 0.15) -> np.ndarray:
    """Penalty float64[S] of S genomes (coin names, family ids, genes[S, N_GENES]) for being close
    relatives of a retired strategy (module docstring); 0.0 where none is near."""
    if not radius > 0:
        raise ValueError(f"radius={radius!r} must be > 0 (mean absolute gene distance)")
    genes = np.asarray(genes, dtype=np.float64)
    families = np.asarray(families)
    out = np.zeros(len(genes))
    for _, r in feedback.retired.iterrows():
        if r["family_b"]:
            continue  # an ensemble's relatives are judged through its members' own deployments
        same = (np.asarray(coins) == r["coin"]) & (families == FAMILY_NAMES.index(r["family"]))
        if not same.any():
            continue
        d = np.abs(genes[same] - np.asarray(r["genes"])).mean(axis=1)
        out[same] = np.maximum(out[same], np.clip(1.0 - d / radius, 0.0, 1.0))
    return out


def lineage_penalty(feedback: PaperFeedback, parent_ids: Sequence[Sequence[str]], *,
                    child_penalty: float = 0.5) -> np.ndarray:
    """Penalty float64[S] of S genomes from their parents' strategy ids: `child_penalty` when a parent was
    retired, else 0.0 (a genome that is itself a retired strategy gets 1.0 from `penalties`)."""
    retired = set(feedback.retired["strategy_id"])
    return np.array([child_penalty if retired.intersection(map(str, parents)) else 0.0 for parents in parent_ids])
