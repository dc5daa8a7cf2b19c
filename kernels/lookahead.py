"""Reusable look-ahead check: a position at bar t must not change when the bars after t are removed.

Validation runs it on every candidate; tests run it on every family with many random cut points.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from kernels.evaluate import Market, positions

__all__ = ["PositionsFn", "check_no_lookahead"]

PositionsFn = Callable[[Market, int, np.ndarray, "int | None"], np.ndarray]


def check_no_lookahead(market: Market, family: int, genes: np.ndarray, cut_points: Iterable[int], *,
                       positions_fn: PositionsFn = positions) -> list[int]:
    """Cut points t where positions computed on bars 0..t differ from the full-data positions up to t.

    An empty list means honest at those cuts. Comparison is exact (bit for bit): a causal computation
    runs the same operations on the same inputs whatever comes after t. `positions_fn(market, family,
    genes, stop)` defaults to kernels.evaluate.positions; tests inject a deliberately dishonest one.

    Example: ``check_no_lookahead(market, family, genes, range(100, len(market.close), 97)) == []``.
    """
    n = len(market.close)
    full = positions_fn(market, family, genes, None)
    leaks = []
    for t in cut_points:
        t = int(t)
        if not 0 <= t < n:
            raise ValueError(f"cut point {t} must be a bar index in [0, {n - 1}]")
        if not np.array_equal(positions_fn(market, family, genes, t + 1), full[:t + 1]):
            leaks.append(t)
    return leaks
