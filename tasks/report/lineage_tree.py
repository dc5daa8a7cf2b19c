"""A strategy's ancestry (tasks.evolve.lineage) drawn for the report: the nearest ancestors as tree nodes, and a
summary of all of them.

Migrants are rows of evolved.parquet too, so lineage crosses islands. The tree shows the strategy and its
closest ancestors, breadth first up to ``max_nodes``, one column per generation; the summary covers the
whole ancestry.
"""
from __future__ import annotations

from collections import Counter, deque
from typing import NamedTuple

import numpy as np
import pandas as pd

from tasks.evolve.lineage import LineageError, ancestry
from tasks.report.svg import Node

__all__ = ["OPERATOR_COLORS", "Lineage", "lineage"]

OPERATOR_COLORS = {"init": "#9e9e9e", "mutate": "#4e79a7", "crossover": "#f28e2b", "micro_mutate": "#59a14f",
                   "ensemble": "#b07aa1", "migrate": "#9c755f"}
_FAMILY_ABBREV = 17  # characters of a family name inside a node
_NEEDED = {"strategy_id", "uid", "parent_uids", "operator", "generation", "island", "family", "fitness"}


class Lineage(NamedTuple):
    nodes: list[Node]
    column_labels: dict[int, str]
    ancestors: int  # every ancestor found (not only the drawn ones)
    generations: tuple[int, int] | None  # oldest and newest generation in the ancestry, strategy included
    operators: dict[str, int]  # how each ancestor (and the strategy) was made
    root_families: list[str]  # families of the initial genomes it descends from


def _parents(row: pd.Series) -> list[int]:
    value = row.get("parent_uids")
    return [int(p) for p in value] if isinstance(value, (list, np.ndarray)) else []


def _family(row: pd.Series) -> str:
    family_b = row.get("family_b")
    return f"{row['family']}+{family_b}" if isinstance(family_b, str) else str(row["family"])


def lineage(evolved: pd.DataFrame, uid: int | None, *, max_nodes: int = 21) -> Lineage:
    """The ancestry of genome ``uid`` (None, unknown or not closed: empty)."""
    if uid is None or not _NEEDED <= set(evolved.columns):
        return Lineage([], {}, 0, None, {}, [])
    try:
        rows = ancestry(evolved.drop_duplicates("uid"), int(uid))
    except LineageError:
        return Lineage([], {}, 0, None, {}, [])
    rows = rows.assign(uid=rows.index)
    order, seen, queue = [int(uid)], {int(uid)}, deque([int(uid)])
    while queue:  # breadth first: the nearest ancestors come first
        for parent in _parents(rows.loc[queue.popleft()]):
            if parent not in seen:
                seen.add(parent)
                order.append(parent)
                queue.append(parent)
    all_rows = rows.loc[order]
    operators = Counter(str(op) for op in all_rows["operator"])
    roots = sorted({_family(r) for _, r in all_rows.iterrows() if not _parents(r)})
    generations = (int(all_rows["generation"].min()), int(all_rows["generation"].max()))
    drawn = rows.loc[order[:max_nodes]]
    gens = sorted(set(int(g) for g in drawn["generation"]))
    column = {g: i for i, g in enumerate(gens)}
    keys = set(order[:max_nodes])
    by_column: dict[int, list[pd.Series]] = {}
    for _, r in drawn.iterrows():
        by_column.setdefault(column[int(r["generation"])], []).append(r)
    nodes = []
    for col, members in sorted(by_column.items()):
        for row_index, r in enumerate(sorted(members, key=lambda r: (int(r["island"]), int(r["uid"])))):
            fitness = float(r["fitness"]) if np.isfinite(r["fitness"]) else float("nan")
            nodes.append(Node(
                key=int(r["uid"]), column=col, row=row_index,
                label=f"{_family(r)[:_FAMILY_ABBREV]} {fitness:+.2f}",
                tip=(f"{_family(r)} · {r['operator']} · generation {int(r['generation'])} · island "
                     f"{int(r['island'])} · fitness {fitness:.3f} · id {r['strategy_id']}"),
                color=OPERATOR_COLORS.get(str(r["operator"]), "#cccccc"),
                parents=tuple(p for p in _parents(r) if p in keys),
                highlight=int(r["uid"]) == uid,
            ))
    labels = {column[g]: f"generation {g}" for g in gens}
    return Lineage(nodes, labels, len(order) - 1, generations, dict(sorted(operators.items())), roots)
