"""Serialize stage: from every evolved genome to one JSON config per strategy and the candidate table."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from kernels.families import FAMILY_NAMES, decode_params
from tasks.atomic import write_json_atomic, write_parquet_atomic
from tasks.config import RunConfig
from tasks.run_dir import RunDir

__all__ = ["select_candidates", "serialize_run", "strategy_config"]

log = logging.getLogger(__name__)


def select_candidates(evolved: pd.DataFrame, fraction: float, limit: int) -> pd.DataFrame:
    """Best row per strategy_id among feasible genomes, then the top ``fraction`` by fitness, at most ``limit``."""
    feasible = evolved[evolved["evaluated"] & (evolved["violation"] == 0) & np.isfinite(evolved["fitness"])]
    unique = (
        feasible.sort_values(["fitness", "uid"], ascending=[False, True], kind="stable")
        .drop_duplicates("strategy_id", keep="first")
    )
    count = min(limit, max(1, int(np.ceil(len(unique) * fraction)))) if len(unique) else 0
    return unique.head(count).reset_index(drop=True).assign(rank=lambda d: np.arange(1, len(d) + 1))


def strategy_config(row: pd.Series, config: RunConfig) -> dict:
    """Everything needed to rebuild the strategy anywhere: identity, genes, decoded parameters, lineage, costs."""
    members = [_member(row["family"], row["genes"])]
    if isinstance(row.get("family_b"), str):
        members.append(_member(row["family_b"], row["genes_b"]))
    return {
        "strategy_id": row["strategy_id"],
        "coin": row["coin"],
        "interval": config.interval,
        "family": row["family"],
        "members": members,
        "lineage": {
            "uid": int(row["uid"]),
            "parent_ids": list(row["parent_ids"]),
            "operator": row["operator"],
            "generation": int(row["generation"]),
            "island": int(row["island"]),
        },
        "fitness": {k: _finite(row[k]) for k in ("fitness", "sharpe", "cagr", "max_drawdown", "turnover")},
        "costs": config.costs.model_dump(),
        "run_id": config.run_id,
    }


def _member(family: str, genes: np.ndarray) -> dict:
    fam = FAMILY_NAMES.index(family)
    return {"family": family, "genes": [float(g) for g in genes], "params": decode_params(fam, np.asarray(genes))}


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def serialize_run(run: RunDir, config: RunConfig) -> pd.DataFrame:
    """Write strategies/<id>.json for every candidate and candidates.parquet; returns the candidates."""
    evolved = pd.read_parquet(run.evolved)
    candidates = select_candidates(evolved, config.validation.candidate_fraction, config.validation.max_candidates)
    for _, row in candidates.iterrows():
        write_json_atomic(strategy_config(row, config), run.strategies / f"{row['strategy_id']}.json")
    write_parquet_atomic(candidates, run.candidates)
    log.info("serialized %d candidates from %d evaluated genomes", len(candidates), len(evolved))
    return candidates
