"""MAP-Elites archive of evaluated genomes (Mouret & Clune 2015, "Illuminating search spaces by
mapping elites") with Darwin-Gödel-Machine-style parent selection (Zhang et al. 2025).

The grid bins the three behaviour descriptors (kernels.ga.fitness.descriptors_from_folds: trade
frequency, holding time, long bias; each in [0, 1]). Every evaluated genome is stored as a member;
the best feasible member of each cell is its elite (order: fitness, then lower uid). When members
exceed ``max_size``, compaction keeps the elites and all their ancestors still in the archive, then
the fittest others up to half of max_size. State in, new state out: no function mutates its input.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernels.ga.population import N_DESCRIPTORS, Population, concat, empty_population, is_evaluated, take

__all__ = ["ArchiveConfig", "Archive", "empty_archive", "cell_index", "insert", "compact", "merge",
           "elite_rows", "coverage", "select_parents"]


class ArchiveConfig(NamedTuple):
    """Grid and selection settings."""
    bins: tuple[int, int, int] = (8, 8, 3)  # per descriptor: trade frequency, holding time, long bias
    max_size: int = 2000                    # members before compaction
    selection_pressure: float = 2.0         # sigmoid slope per unit of fitness above the elites' median


class Archive(NamedTuple):
    """members: stored genomes; cell int64[A] their grid cell; children int64[A] how many evaluated
    offspring each has fathered so far; elite int64[n_cells] member row of each cell's elite or -1."""
    members: Population
    cell: np.ndarray
    children: np.ndarray
    elite: np.ndarray


def _n_cells(config: ArchiveConfig) -> int:
    if len(config.bins) != N_DESCRIPTORS or min(config.bins) < 1:
        raise ValueError(f"bins={config.bins} must be {N_DESCRIPTORS} positive bin counts")
    return int(np.prod(config.bins))


def empty_archive(config: ArchiveConfig, n_folds: int) -> Archive:
    """An archive with no members for genomes scored on n_folds walk-forward folds."""
    return Archive(empty_population(0, n_folds), np.zeros(0, np.int64), np.zeros(0, np.int64),
                   np.full(_n_cells(config), -1, np.int64))


def cell_index(descriptors: np.ndarray, config: ArchiveConfig) -> np.ndarray:
    """int64[n] flat grid cell of each descriptor row (values in [0, 1]; 1.0 falls in the last bin)."""
    _n_cells(config)
    bins = np.asarray(config.bins, np.int64)
    pos = np.clip((np.asarray(descriptors) * bins).astype(np.int64), 0, bins - 1)
    return np.ravel_multi_index(tuple(pos.T), tuple(config.bins)).astype(np.int64)


def _elites(members: Population, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """Best feasible member per cell: highest fitness, then lowest uid."""
    elite = np.full(n_cells, -1, np.int64)
    rows = np.flatnonzero(members.violation == 0.0)
    order = rows[np.lexsort((members.uid[rows], -members.fitness[rows]))]
    ordered_cells = cell[order]
    first = np.unique(ordered_cells, return_index=True)[1]
    elite[ordered_cells[first]] = order[first]
    return elite


def _rows_of(uids: np.ndarray, members: Population) -> np.ndarray:
    """Member row of each uid, -1 where absent."""
    if members.uid.size == 0:
        return np.full(uids.shape, -1, np.int64)
    order = np.argsort(members.uid, kind="stable")
    pos = np.minimum(np.searchsorted(members.uid[order], uids), order.size - 1)
    return np.where(members.uid[order[pos]] == uids, order[pos], -1)


def insert(archive: Archive, pop: Population, config: ArchiveConfig) -> Archive:
    """Archive with pop's evaluated genomes added (uids already stored are skipped).

    Parents that are members get their children count raised; cells re-elect their elites;
    compaction runs when members exceed max_size. O(A log A).
    """
    fresh = is_evaluated(pop) & ~np.isin(pop.uid, archive.members.uid)
    once = np.zeros(pop.uid.size, bool)
    once[np.unique(pop.uid, return_index=True)[1]] = True
    new = take(pop, np.flatnonzero(fresh & once))
    if new.uid.size == 0:
        return archive
    members = concat([archive.members, new])
    children = np.concatenate([archive.children, np.zeros(new.uid.size, np.int64)])
    for parents in (new.parent_a, new.parent_b):
        rows = _rows_of(parents[parents >= 0], members)
        np.add.at(children, rows[rows >= 0], 1)
    cell = np.concatenate([archive.cell, cell_index(new.descriptors, config)])
    out = Archive(members, cell, children, _elites(members, cell, _n_cells(config)))
    return compact(out, config) if members.uid.size > config.max_size else out


def _ancestors(members: Population, rows: np.ndarray) -> np.ndarray:
    """bool[A]: ``rows`` and every member reachable from them through parent links."""
    keep = np.zeros(members.uid.size, bool)
    frontier = np.unique(rows)
    while frontier.size:
        keep[frontier] = True
        parents = np.concatenate([members.parent_a[frontier], members.parent_b[frontier]])
        found = _rows_of(parents[parents >= 0], members)
        found = found[found >= 0]
        frontier = np.unique(found[~keep[found]])
    return keep


def compact(archive: Archive, config: ArchiveConfig) -> Archive:
    """Keep cell elites and their ancestors, then the fittest others up to max_size // 2 members.

    The elites' ancestry is never cut, so the result may exceed max_size // 2. Row order is kept.
    """
    members = archive.members
    keep = _ancestors(members, archive.elite[archive.elite >= 0])
    room = config.max_size // 2 - int(keep.sum())
    if room > 0:
        others = np.flatnonzero(~keep)
        best = others[np.lexsort((members.uid[others], -members.fitness[others], members.violation[others]))]
        keep[best[:room]] = True
    rows = np.flatnonzero(keep)
    cell = archive.cell[rows]
    kept = take(members, rows)
    return Archive(kept, cell, archive.children[rows], _elites(kept, cell, archive.elite.size))


def merge(archives: list[Archive], config: ArchiveConfig) -> Archive:
    """One archive from several (e.g. the islands' copies after an epoch).

    Members are deduplicated by uid in list order; a member's children count is the largest any
    copy holds (copies of one base archive each count only their own island's offspring).
    """
    if not archives:
        raise ValueError("archives=[] is empty; merge needs at least one archive")
    members = concat([a.members for a in archives])
    children_all = np.concatenate([a.children for a in archives])
    cell_all = np.concatenate([a.cell for a in archives])
    uniq, first, inverse = np.unique(members.uid, return_index=True, return_inverse=True)
    most = np.zeros(uniq.size, np.int64)
    np.maximum.at(most, inverse, children_all)
    rows = np.sort(first)
    kept = take(members, rows)
    out = Archive(kept, cell_all[rows], most[inverse[rows]], _elites(kept, cell_all[rows], _n_cells(config)))
    return compact(out, config) if rows.size > config.max_size else out


def elite_rows(archive: Archive) -> np.ndarray:
    """Member rows of the cell elites, in cell order."""
    return archive.elite[archive.elite >= 0]


def coverage(archive: Archive) -> float:
    """Share of grid cells holding a feasible elite, in [0, 1]."""
    return float(np.mean(archive.elite >= 0))


def select_parents(archive: Archive, n: int, rng: np.random.Generator, config: ArchiveConfig) -> np.ndarray:
    """n member rows drawn (with replacement) from the cell elites.

    Weight of elite i = sigmoid(pressure * (f_i - median f)) / (1 + children_i): fitter elites
    are favoured and prolific ones fade, so neglected stepping stones get their turn (DGM, Zhang
    et al. 2025, parent selection). Returns an empty array when no cell has an elite.
    """
    rows = elite_rows(archive)
    if rows.size == 0 or n <= 0:
        return np.zeros(0, np.int64)
    fit = archive.members.fitness[rows]
    weight = 1.0 / (1.0 + np.exp(-config.selection_pressure * (fit - np.median(fit))))
    weight = weight / (1.0 + archive.children[rows])
    return rows[rng.choice(rows.size, size=n, p=weight / weight.sum())]
