"""Feedback from paper trading: live results per deployed strategy with its lineage, and penalties for
retired strategies, their close relatives and their children."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exchange.paper import Registry, StrategySpec
from kernels.families import FAMILY_NAMES
from kernels.genome import N_GENES
from tasks.deploy.stage import paper_paths
from tasks.evolve.feedback import LIVE_COLUMNS, lineage_penalty, read_paper_feedback, relatives_penalty

GENES = np.linspace(0.1, 0.9, N_GENES)


def _book(data_dir) -> None:
    paths = paper_paths(data_dir)
    registry = Registry(paths.registry)
    lineage = {"uid": 3, "parent_ids": ["a", "b"], "operator": "crossover", "generation": 4, "island": 1}
    registry.register([
        StrategySpec("bad", "r1", "BTC", "rsi_filter", tuple(GENES), 1000.0, 0.5, "x", lineage=lineage),
        StrategySpec("good", "r1", "ETH", "bollinger", tuple(GENES), 1000.0, 0.5, "x"),
        StrategySpec("idle", "r1", "ETH", "ema_crossover", tuple(GENES), 1000.0, 0.5, "x"),
    ])
    registry.set_status("bad", "retired", "drawdown 17.0% > 15% for 3.0 days", 10)
    times = pd.date_range("2024-01-01", periods=4, freq="1h", tz="UTC").astype("datetime64[ms, UTC]")
    rows = []
    for sid, rets in (("bad", [0.0, -0.1, -0.05, -0.05]), ("good", [0.0, 0.01, 0.02, 0.01])):
        equity = 1000.0 * np.cumprod(1 + np.asarray(rets))
        peak = np.maximum.accumulate(equity)
        for t, r, e, p in zip(times, rets, equity, peak):
            rows.append({"time": t, "strategy_id": sid, "return": r, "equity": e, "drawdown": 1 - e / p,
                         "fees": 1.0, "funding": 0.5})
    pd.DataFrame(rows).to_parquet(paths.performance)


def test_live_results_and_penalties(tmp_path) -> None:
    _book(tmp_path)
    fb = read_paper_feedback(tmp_path)
    assert list(fb.live.columns) == list(LIVE_COLUMNS)
    live = fb.live.set_index("strategy_id")
    assert fb.penalties == {"bad": 1.0, "good": 0.0, "idle": 0.0}
    assert live.at["bad", "status"] == "retired" and live.at["bad", "status_reason"].startswith("drawdown")
    assert live.at["bad", "parent_ids"] == ["a", "b"] and live.at["bad", "generation"] == 4
    assert live.at["bad", "paper_return"] == pytest.approx(0.9 * 0.95 * 0.95 - 1)
    assert live.at["bad", "paper_max_drawdown"] == pytest.approx(1 - 0.9 * 0.95 * 0.95)
    assert live.at["good", "paper_sharpe"] > 0 and live.at["good", "bars"] == 4
    assert live.at["idle", "bars"] == 0 and np.isnan(live.at["idle", "paper_return"])


def test_relatives_and_children_of_retired_strategies_are_penalised(tmp_path) -> None:
    _book(tmp_path)
    fb = read_paper_feedback(tmp_path)
    rsi, boll = FAMILY_NAMES.index("rsi_filter"), FAMILY_NAMES.index("bollinger")
    genes = np.stack([GENES, GENES + 0.05, GENES + 0.2, GENES, GENES])
    penalty = relatives_penalty(fb, ["BTC", "BTC", "BTC", "ETH", "BTC"], np.array([rsi, rsi, rsi, rsi, boll]), genes)
    np.testing.assert_allclose(penalty, [1.0, 1 - 0.05 / 0.15, 0.0, 0.0, 0.0])
    assert lineage_penalty(fb, [["bad"], ["good", "x"], []]).tolist() == [0.5, 0.0, 0.0]
    with pytest.raises(ValueError, match="radius"):
        relatives_penalty(fb, ["BTC"], np.array([rsi]), GENES[None], radius=0)


def test_no_paper_book_gives_empty_feedback(tmp_path) -> None:
    fb = read_paper_feedback(tmp_path)
    assert fb.live.empty and fb.penalties == {} and relatives_penalty(fb, ["BTC"], np.array([0]), GENES[None]) == [0]


def test_evolution_fitness_pays_for_resembling_a_retired_strategy(tmp_path) -> None:
    from kernels.evaluate import Costs, Market
    from kernels.ga.fitness import FitnessConfig, fitness_from_folds
    from kernels.ga.population import empty_population
    from tasks.evolve.train_inputs import FEEDBACK_WEIGHT, TrainInputs, fold_metrics

    _book(tmp_path)
    n = 600
    close = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, n)))
    market = Market(close, close * 1.01, close * 0.99, close, np.ones(n), np.zeros(n), 8760.0)
    folds = np.array([100, 350, 599])
    pop = empty_population(2, 2)
    pop.family[:] = FAMILY_NAMES.index("rsi_filter")
    pop.genes[:] = GENES  # both are the retired strategy's twin; only the first trades BTC
    pop.coin[:] = [0, 1]
    plain = TrainInputs(("BTC", "ETH"), (market, market), (folds, folds), Costs())
    judged = plain._replace(feedback=read_paper_feedback(tmp_path))
    before, after = fold_metrics(plain, pop), fold_metrics(judged, pop)
    np.testing.assert_array_equal(after[:, :, : before.shape[2]], before)
    config = FitnessConfig(min_trades=0)
    drop = fitness_from_folds(before, config) - fitness_from_folds(after, config)
    np.testing.assert_allclose(drop, [FEEDBACK_WEIGHT, 0.0])
