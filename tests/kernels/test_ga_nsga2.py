"""NSGA-II: ranks of a known front, crowding boundaries, constraint domination, survivor selection."""
from __future__ import annotations

import numpy as np
import pytest

from kernels.ga.nsga2 import (crowding_distance_nb, non_dominated_rank_nb, objectives_degenerate, rank_and_crowd,
                              select_nsga2, tournament_crowded, tournament_scalar)


def _slow_ranks(obj: np.ndarray, violation: np.ndarray) -> np.ndarray:
    """Reference: peel off the non-dominated set repeatedly (O(N^3))."""
    def dominates(i: int, j: int) -> bool:
        if violation[i] > 0 or violation[j] > 0:
            return violation[i] < violation[j]
        return bool(np.all(obj[i] <= obj[j]) and np.any(obj[i] < obj[j]))
    rank = np.full(len(obj), -1)
    left, level = set(range(len(obj))), 0
    while left:
        front = {i for i in left if not any(dominates(j, i) for j in left if j != i)}
        rank[list(front)] = level
        left -= front
        level += 1
    return rank


def test_known_two_objective_fronts() -> None:
    obj = np.array([
        [1.0, 5.0], [2.0, 3.0], [4.0, 1.0],   # front 0
        [2.0, 5.0], [3.0, 4.0], [5.0, 2.0],   # front 1
        [6.0, 6.0],                           # front 2
        [1.0, 5.0],                           # duplicate of a front-0 point: not dominated
    ])
    rank = non_dominated_rank_nb(obj, np.zeros(len(obj)))
    assert rank.tolist() == [0, 0, 0, 1, 1, 1, 2, 0]


@pytest.mark.parametrize("seed", range(4))
def test_ranks_match_a_slow_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    obj = rng.integers(0, 6, size=(40, 3)).astype(float)  # many ties
    violation = np.where(rng.random(40) < 0.2, rng.integers(1, 3, 40).astype(float), 0.0)
    np.testing.assert_array_equal(non_dominated_rank_nb(obj, violation), _slow_ranks(obj, violation))


def test_constraint_domination_puts_infeasible_behind_by_violation() -> None:
    obj = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 0.0], [1.0, 1.0]])
    violation = np.array([1.0, 0.0, 0.5, 0.5])
    assert non_dominated_rank_nb(obj, violation).tolist() == [2, 0, 1, 1]


def test_crowding_gives_boundaries_inf_and_interior_normalised_gaps() -> None:
    obj = np.array([[0.0, 4.0], [1.0, 3.0], [3.0, 1.0], [4.0, 0.0]])
    rank = np.zeros(4, np.int64)
    crowd = crowding_distance_nb(obj, rank)
    assert np.isinf(crowd[0]) and np.isinf(crowd[3])
    np.testing.assert_allclose(crowd[1:3], [3 / 4 + 3 / 4, 3 / 4 + 3 / 4])
    two = crowding_distance_nb(obj[:2], np.zeros(2, np.int64))
    assert np.all(np.isinf(two))


def test_select_keeps_whole_fronts_then_the_least_crowded() -> None:
    obj = np.array([[0.0, 4.0], [1.0, 3.0], [1.1, 2.9], [3.0, 1.0], [4.0, 0.0], [5.0, 5.0]])
    chosen = select_nsga2(obj, np.zeros(6), 4)
    assert chosen.tolist() == [0, 1, 3, 4] or chosen.tolist() == [0, 2, 3, 4]
    assert 5 not in select_nsga2(obj, np.zeros(6), 5)
    with pytest.raises(ValueError, match="k=7"):
        select_nsga2(obj, np.zeros(6), 7)


def test_tournaments_prefer_better_individuals() -> None:
    rng = np.random.default_rng(0)
    rank = np.array([0, 1, 2, 3])
    crowd = np.zeros(4)
    wins = np.bincount(tournament_crowded(rank, crowd, 4000, rng), minlength=4)
    assert wins[0] > wins[1] > wins[2] > wins[3]
    fit = np.array([3.0, 2.0, 1.0, 0.0])
    wins = np.bincount(tournament_scalar(fit, 4000, rng), minlength=4)
    assert wins[0] > wins[1] > wins[2] > wins[3]


def test_degenerate_objectives_are_detected() -> None:
    one_front = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert objectives_degenerate(one_front, rank_and_crowd(one_front, np.zeros(2))[0])
    nested = np.array([[0.0, 0.0], [1.0, 1.0]])
    assert not objectives_degenerate(nested, rank_and_crowd(nested, np.zeros(2))[0])
    assert objectives_degenerate(np.array([[np.nan, 0.0], [1.0, 1.0]]), np.array([0, 1]))


def test_a_crowded_first_front_counts_as_degenerate_above_the_share() -> None:
    obj = np.array([[0.0, 3.0], [1.0, 2.0], [2.0, 1.0], [3.0, 3.0]])  # 3 of 4 non-dominated
    rank = rank_and_crowd(obj, np.zeros(4))[0]
    assert not objectives_degenerate(obj, rank) and not objectives_degenerate(obj, rank, 0.75)
    assert objectives_degenerate(obj, rank, 0.5)
