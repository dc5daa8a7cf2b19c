"""Genomes as table rows: the evolved / candidates artifacts and the stable ``strategy_id``."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from kernels.families import FAMILY_NAMES
from kernels.ga.population import OPERATORS, Population
from kernels.regimes import REGIME_NAMES

__all__ = ["GENE_DECIMALS", "REGIME_COLUMNS", "population_frame", "strategy_id", "with_parent_ids",
           "with_regime_sharpe"]

# Per-regime Sharpe of the best genomes (tasks.evolve.regime_bias), NaN for the others.
REGIME_COLUMNS = tuple(f"sharpe_{name}" for name in REGIME_NAMES)

# Genes are quantised to this many decimals for the id: closer genomes trade identically in practice.
GENE_DECIMALS = 6


def strategy_id(coin: str, family: int, genes: np.ndarray, family_b: int = -1,
                genes_b: np.ndarray | None = None) -> str:
    """A hash of coin + family + quantised genes (and the second member of an ensemble)."""
    parts = [coin, FAMILY_NAMES[family], _quantised(genes)]
    if family_b >= 0 and genes_b is not None:
        parts += [FAMILY_NAMES[family_b], _quantised(genes_b)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _quantised(genes: np.ndarray) -> str:
    return ",".join(f"{g:.{GENE_DECIMALS}f}" for g in np.asarray(genes, dtype=np.float64))


def population_frame(pop: Population, coins: tuple[str, ...], metric_names: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per genome: identity, genes, lineage and scores (columns stable for Parquet)."""
    coin_names = [coins[c] for c in pop.coin]
    ids = [
        strategy_id(coin_names[i], int(pop.family[i]), pop.genes[i], int(pop.family_b[i]), pop.genes_b[i])
        for i in range(len(pop.uid))
    ]
    frame = pd.DataFrame({
        "strategy_id": ids,
        "uid": pop.uid,
        "coin": coin_names,
        "family": [FAMILY_NAMES[f] for f in pop.family],
        "family_b": [FAMILY_NAMES[f] if f >= 0 else None for f in pop.family_b],
        "genes": list(pop.genes),
        "genes_b": list(pop.genes_b),
        "sigma": pop.sigma,
        "parent_uids": [[int(p) for p in (a, b) if p >= 0] for a, b in zip(pop.parent_a, pop.parent_b)],
        "operator": [OPERATORS[o] for o in pop.operator],
        "generation": pop.generation,
        "island": pop.island,
        "fitness": pop.fitness,
        "violation": pop.violation,
        "sharpe": pop.sharpe,
        "cagr": pop.cagr,
        "max_drawdown": pop.objectives[:, 1],
        "turnover": pop.objectives[:, 2],
        "descriptors": list(pop.descriptors),
        "fold_returns": list(pop.profile),
    })
    return frame


def with_parent_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``parent_ids`` (strategy ids of the parent uids) once every genome of the run is in ``frame``."""
    uid_to_id = dict(zip(frame["uid"], frame["strategy_id"]))
    return frame.assign(parent_ids=[[uid_to_id[u] for u in parents] for parents in frame["parent_uids"]])


def with_regime_sharpe(frame: pd.DataFrame, ids: list[str], scores: np.ndarray) -> pd.DataFrame:
    """Add REGIME_COLUMNS: row k of ``scores[len(ids), N_REGIMES]`` for every row whose strategy_id is ids[k]."""
    position = frame["strategy_id"].map({sid: k for k, sid in enumerate(ids)})
    known = position.notna().to_numpy()
    columns = {}
    for r, name in enumerate(REGIME_COLUMNS):
        values = np.full(len(frame), np.nan)
        values[known] = scores[position[known].astype(np.int64), r]
        columns[name] = values
    return frame.assign(**columns)
