"""Where a strategy came from: its ancestors in evolved.parquet, followed by uid back to the init genomes.

Every row of evolved.parquet is one genome (``uid`` unique) with ``parent_uids`` (none for init, one for
mutate / micro_mutate / migrate, two for crossover / ensemble). A migrant is a copy (evaluated=False,
operator migrate) whose parent is the emigrant on the previous island. One strategy_id can name several
rows (a migrant and its original, or an identical child made twice); a strategy's lineage starts at the
row serialize picks for it: evaluated, highest fitness, lowest uid.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["LINEAGE_COLUMNS", "LineageError", "ancestry", "resolve_strategy"]

# Columns lineage reads from evolved.parquet.
LINEAGE_COLUMNS = ["strategy_id", "uid", "parent_uids", "operator", "generation", "island", "coin", "family",
                   "family_b", "fitness", "sharpe", "cagr", "evaluated"]


class LineageError(ValueError):
    """The strategy is not in the run, or the id is ambiguous."""


def resolve_strategy(evolved: pd.DataFrame, strategy_id: str) -> int:
    """The uid where ``strategy_id``'s lineage starts; a unique prefix of the id is enough."""
    rows = evolved[evolved["strategy_id"] == strategy_id]
    if rows.empty:
        rows = evolved[evolved["strategy_id"].str.startswith(strategy_id)]
        ids = rows["strategy_id"].unique()
        if len(ids) > 1:
            raise LineageError(f"strategy id prefix {strategy_id!r} matches {len(ids)} strategies; "
                               "give more characters")
    if rows.empty:
        raise LineageError(f"strategy {strategy_id!r} is not in this run's evolved.parquet")
    rows = rows.assign(_fit=np.nan_to_num(rows["fitness"].to_numpy(float), nan=-np.inf))
    best = rows.sort_values(["evaluated", "_fit", "uid"], ascending=[False, False, True], kind="stable")
    return int(best["uid"].iloc[0])


def ancestry(evolved: pd.DataFrame, uid: int) -> pd.DataFrame:
    """The genome ``uid`` and all its ancestors, indexed by uid (newest generation first, then by uid).

    Raises LineageError when a parent uid is missing from the table (the lineage is not closed).
    """
    by_uid = evolved.set_index("uid")
    if uid not in by_uid.index:
        raise LineageError(f"uid {uid} is not in this run's evolved.parquet")
    seen: set[int] = set()
    frontier = [uid]
    while frontier:
        current = frontier.pop()
        if current in seen:
            continue
        if current not in by_uid.index:
            raise LineageError(f"parent uid {current} is missing from evolved.parquet: the lineage is not closed")
        seen.add(current)
        frontier.extend(int(p) for p in by_uid.at[current, "parent_uids"])
    return by_uid.loc[sorted(seen)].sort_values("generation", ascending=False, kind="stable")
