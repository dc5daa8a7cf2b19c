"""NSGA-II selection: constrained non-dominated sorting, crowding distance, crowded tournaments.

After Deb, Pratap, Agarwal & Meyarivan (2002), "A fast and elitist multiobjective genetic
algorithm: NSGA-II", IEEE TEC 6(2): fast non-dominated sort (section III-A, O(M N^2) time,
O(N^2) memory here), crowding distance (III-B, O(M N log N)), crowded-comparison operator (III-C)
and constraint domination (section VI): a feasible solution dominates an infeasible one, and
between two infeasible ones the smaller violation dominates. Every objective is minimised.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "non_dominated_rank_nb", "crowding_distance_nb", "rank_and_crowd", "select_nsga2",
    "tournament_crowded", "tournament_scalar", "objectives_degenerate",
]


@njit(cache=True)
def _dominates_nb(obj: np.ndarray, violation: np.ndarray, i: int, j: int) -> bool:
    """Constraint domination of row i over row j (all objectives minimised)."""
    vi, vj = violation[i], violation[j]
    if vi > 0.0 or vj > 0.0:
        return vi < vj
    better = False
    for m in range(obj.shape[1]):
        if obj[i, m] > obj[j, m]:
            return False
        if obj[i, m] < obj[j, m]:
            better = True
    return better


@njit(cache=True)
def non_dominated_rank_nb(obj: np.ndarray, violation: np.ndarray) -> np.ndarray:
    """Front index (0 = non-dominated) of each row of obj[N, M] under constraint domination.

    Deb et al. 2002 fast non-dominated sort: O(M N^2) comparisons, an N x N domination table.
    """
    n = obj.shape[0]
    dominated = np.zeros((n, n), dtype=np.bool_)  # dominated[i, j]: i dominates j
    count = np.zeros(n, dtype=np.int64)           # how many rows dominate row j
    for i in range(n):
        for j in range(i + 1, n):
            if _dominates_nb(obj, violation, i, j):
                dominated[i, j] = True
                count[j] += 1
            elif _dominates_nb(obj, violation, j, i):
                dominated[j, i] = True
                count[i] += 1
    rank = np.full(n, -1, dtype=np.int64)
    front = np.empty(n, dtype=np.int64)
    size = 0
    for i in range(n):
        if count[i] == 0:
            rank[i] = 0
            front[size] = i
            size += 1
    level = 0
    while size > 0:
        nxt = np.empty(n, dtype=np.int64)
        nsize = 0
        for a in range(size):
            i = front[a]
            for j in range(n):
                if dominated[i, j]:
                    count[j] -= 1
                    if count[j] == 0:
                        rank[j] = level + 1
                        nxt[nsize] = j
                        nsize += 1
        front, size = nxt, nsize
        level += 1
    return rank


@njit(cache=True)
def crowding_distance_nb(obj: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Crowding distance of each row within its front; boundary rows of each objective get inf.

    Deb et al. 2002 III-B, normalised by each objective's range in the front (an objective with zero
    range adds nothing, as in DEAP's assignCrowdingDist). O(M N log N).
    """
    n, m_count = obj.shape
    dist = np.zeros(n)
    if n == 0:
        return dist
    for level in range(rank.max() + 1):
        members = np.flatnonzero(rank == level)
        size = members.size
        if size == 0:
            continue
        for m in range(m_count):
            values = obj[members, m]
            order = members[np.argsort(values, kind="mergesort")]
            dist[order[0]] = np.inf
            dist[order[size - 1]] = np.inf
            span = obj[order[size - 1], m] - obj[order[0], m]
            if span <= 0.0:
                continue
            for a in range(1, size - 1):
                dist[order[a]] += (obj[order[a + 1], m] - obj[order[a - 1], m]) / span
    return dist


def rank_and_crowd(obj: np.ndarray, violation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(front rank, crowding distance) of obj[N, M] with constraint violations violation[N] >= 0."""
    obj = np.ascontiguousarray(obj, dtype=np.float64)
    violation = np.ascontiguousarray(violation, dtype=np.float64)
    if obj.ndim != 2 or violation.shape != (obj.shape[0],):
        raise ValueError(f"obj shape {obj.shape} and violation shape {violation.shape} do not match (N, M) / (N,)")
    rank = non_dominated_rank_nb(obj, violation)
    return rank, crowding_distance_nb(obj, rank)


def select_nsga2(obj: np.ndarray, violation: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k survivors: whole fronts in rank order, the last one cut by crowding.

    Ties keep the lower index (deterministic). Deb et al. 2002 main loop, O(M N^2).
    """
    n = obj.shape[0]
    if not 0 <= k <= n:
        raise ValueError(f"k={k} must be in [0, {n}]")
    rank, crowd = rank_and_crowd(obj, violation)
    order = np.lexsort((np.arange(n), -crowd, rank))
    return np.sort(order[:k])


def tournament_crowded(rank: np.ndarray, crowd: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n binary tournaments with the crowded-comparison operator: lower rank, then larger crowding."""
    a = rng.integers(rank.size, size=n)
    b = rng.integers(rank.size, size=n)
    b_wins = (rank[b] < rank[a]) | ((rank[b] == rank[a]) & (crowd[b] > crowd[a]))
    return np.where(b_wins, b, a)


def tournament_scalar(fitness: np.ndarray, n: int, rng: np.random.Generator, size: int = 2) -> np.ndarray:
    """n tournaments of ``size`` random entrants each, won by the highest fitness (first on ties)."""
    entrants = rng.integers(fitness.size, size=(n, size))
    return entrants[np.arange(n), np.argmax(fitness[entrants], axis=1)]


def objectives_degenerate(obj: np.ndarray, rank: np.ndarray, max_front_share: float = 1.0) -> bool:
    """True when Pareto ranking carries (almost) no selection pressure.

    That is: non-finite objectives, a single front, or a first front holding more than
    ``max_front_share`` of the rows — with few genomes and several conflicting objectives most of
    a population is non-dominated and crowding alone picks parents (Ishibuchi, Tsukamoto & Nojima
    2008, "Evolutionary many-objective optimization: a short review").
    """
    if rank.size == 0 or not np.all(np.isfinite(obj)) or rank.max() == 0:
        return True
    return bool(np.mean(rank == 0) > max_front_share)
