"""Safety scopes: work is cut into kernel calls of bounded size, and a batch stops at its time limit with
a violation record instead of hanging."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tasks.evolve.train_inputs as train_inputs_module
from kernels.families import FAMILY_NAMES
from kernels.ga.operators import VariationConfig, init_population
from kernels.metrics import METRIC_NAMES
from tasks.evolve.feedback import LIVE_COLUMNS, PaperFeedback
from tasks.evolve.train_inputs import fold_metrics, prepare_train_inputs
from tasks.market.source import load_market_data
from tasks.market.store import MarketStore
from tasks.market.windows import split_windows
from tasks.orchestration.safety import (SCOPES, Deadline, SafetyScope, row_chunks, scoped_fold_metrics, scoped_items,
                                        stop_reason)
from tasks.run.config import test_mode_config as small_config


class Clock:
    """Advances ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_default_scopes() -> None:
    assert {name: s.time_limit_s for name, s in SCOPES.items()} == {
        "sandbox": 15, "restricted": 10, "production": 30, "experimental": 60, "research": 180}


@pytest.mark.parametrize(("rows", "bars", "cells"), [(50, 30_000, 1_000_000), (7, 10, 25), (3, 5_000_000, 1_000_000),
                                                     (0, 100, 10)])
def test_row_chunks_cover_rows_within_the_cell_cap(rows: int, bars: int, cells: int) -> None:
    chunks = row_chunks(rows, bars, cells)
    assert np.concatenate([np.arange(rows)[c] for c in chunks] or [np.empty(0, int)]).tolist() == list(range(rows))
    for c in chunks:
        assert (c.stop - c.start) * bars <= cells or c.stop - c.start == 1  # one genome is the smallest call


def test_scoped_items_stop_at_the_limit_and_name_the_violation() -> None:
    scope = SafetyScope("restricted", 10.0, 1_000)
    # Each clock read advances 4 s: the start (after the first item), one check per later item, and the
    # violation record itself.
    result = scoped_items(list("abcdef"), str.upper, lambda item, reason: f"{item}: {reason}",
                          Deadline(scope, clock=Clock(4.0)), work="validation batch")
    assert result.value[:3] == ["A", "B", "C"]
    assert result.violation == {"scope": "restricted", "limit_s": 10.0, "elapsed_s": 16.0,
                                "work": "validation batch", "done": 3, "total": 6}
    assert result.value[3] == "d: " + stop_reason(result.violation)
    assert "stopped by safety scope 'restricted': the batch reached its 10 s limit after 3 of 6" in result.value[5]


def test_the_first_item_is_not_counted() -> None:
    """A fresh worker compiles the kernels during its first item: however long it takes, the batch goes on."""
    clock = Clock(0.0)
    deadline = Deadline(SafetyScope("sandbox", 15.0, 1_000), clock=clock)

    def slow_first(item: int) -> int:
        clock.now += 100.0 if item == 0 else 1.0
        return item

    result = scoped_items([0, 1, 2], slow_first, lambda item, reason: -1, deadline, work="batch")
    assert result.value == [0, 1, 2] and result.violation is None


@pytest.fixture(scope="module")
def train_inputs(tmp_path_factory):
    config = small_config("safety")
    market = load_market_data(MarketStore(tmp_path_factory.mktemp("empty")), ("BTC",), "1h", config.costs)
    return prepare_train_inputs(market, split_windows(market, config.windows), config)


def test_scoped_fold_metrics_equal_fold_metrics_in_small_calls(train_inputs, monkeypatch) -> None:
    pop = init_population(23, n_folds=train_inputs.n_folds, rng=np.random.default_rng(3),
                          config=VariationConfig(n_coins=1))
    calls: list[int] = []
    real = train_inputs_module.evaluate_genomes

    def counting(market, families, *args):  # the real kernel, its calls counted
        calls.append(families.size)
        return real(market, families, *args)

    monkeypatch.setattr(train_inputs_module, "evaluate_genomes", counting)
    bars = int(train_inputs.folds[0][-1]) + 1
    scope = SafetyScope("tiny", 60.0, 5 * bars)  # 5 genomes per kernel call
    out = scoped_fold_metrics(train_inputs, pop, Deadline(scope))
    assert out.violation is None and calls == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(out.value, fold_metrics(train_inputs, pop))


def test_scoped_fold_metrics_leave_unreached_genomes_nan(train_inputs) -> None:
    pop = init_population(12, n_folds=train_inputs.n_folds, rng=np.random.default_rng(4),
                          config=VariationConfig(n_coins=1))
    bars = int(train_inputs.folds[0][-1]) + 1
    # Clock reads, 6 s apart: the start after the first chunk, then one check before each later chunk: the
    # check before the third chunk finds 12 s >= the 10 s limit.
    out = scoped_fold_metrics(train_inputs, pop, Deadline(SafetyScope("sandbox", 10.0, 3 * bars), clock=Clock(6.0)))
    assert out.violation["done"] == 6 and out.violation["total"] == 12
    assert np.isfinite(out.value[:6, :, 0]).all() and np.isnan(out.value[6:]).all()


def test_scoped_fold_metrics_keep_the_paper_feedback_penalty(train_inputs) -> None:
    """The GA's fitness pays for resembling a retired strategy (tasks.evolve.feedback) under a scope as without one."""
    pop = init_population(8, n_folds=train_inputs.n_folds, rng=np.random.default_rng(5),
                          config=VariationConfig(n_coins=1))
    retired = {c: None for c in LIVE_COLUMNS} | {"strategy_id": "gone", "coin": "BTC", "status": "retired",
                                                 "family": FAMILY_NAMES[int(pop.family[0])], "family_b": "",
                                                 "genes": pop.genes[0].tolist()}
    judged = train_inputs._replace(feedback=PaperFeedback(pd.DataFrame([retired], columns=list(LIVE_COLUMNS)), {}))
    bars = int(train_inputs.folds[0][-1]) + 1
    out = scoped_fold_metrics(judged, pop, Deadline(SafetyScope("tiny", 60.0, 3 * bars)))
    assert out.violation is None and out.value.shape[2] == len(METRIC_NAMES) + 1
    assert (out.value[0, :, -1] > 0).all()  # genome 0 is the retired strategy's twin
    np.testing.assert_array_equal(out.value, fold_metrics(judged, pop))
