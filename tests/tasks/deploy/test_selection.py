"""Portfolio-aware selection: greedy by score under the correlation limit, inverse-volatility capital,
a reason for every strategy; and the validation returns it is measured on."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from deploy_helpers import config, planted_rows, sine_market, windows

from tasks.deploy.selection import select_strategies, validation_returns
from tasks.validate.candidate import candidates_from_frame, prepare_validation_inputs
from tasks.validate.gate1_backtest import validation_bar_returns

INDEX = pd.date_range("2023-01-01", periods=500, freq="1h", tz="UTC")


def _returns() -> dict[str, pd.Series]:
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.01, len(INDEX))
    return {
        "a": pd.Series(a, INDEX),
        "b": pd.Series(0.9 * a + rng.normal(0, 0.003, len(INDEX)), INDEX),  # moves with a
        "c": pd.Series(rng.normal(0, 0.02, len(INDEX)), INDEX),             # its own way, twice as volatile
        "d": pd.Series(np.zeros(len(INDEX)), INDEX),                         # never trades
        "e": pd.Series(rng.normal(0, 0.01, 100), INDEX[-100:]),              # a coin with less history
    }


def _candidates(*ids_scores) -> pd.DataFrame:
    return pd.DataFrame(ids_scores, columns=["strategy_id", "overall_score"])


def test_greedy_by_score_under_the_correlation_limit() -> None:
    out = select_strategies(_candidates(("a", 0.9), ("b", 0.85), ("c", 0.8), ("d", 0.75), ("f", 0.7)),
                            _returns(), slots=5, max_correlation=0.7, capital=9_000).set_index("strategy_id")
    assert list(out.index) == ["a", "b", "c", "d", "f"] and list(out["rank"]) == [1, 2, 3, 4, 5]
    assert out["chosen"].tolist() == [True, False, True, False, False]
    assert out.at["b", "reason"].startswith("skipped: validation-return correlation 0.9") and \
        out.at["b", "correlated_with"] == "a"
    assert "flat on the validation window" in out.at["d", "reason"]
    assert out.at["f", "reason"] == "skipped: no validation returns"
    # inverse volatility: c is about twice as volatile as a, so it gets about half a's capital
    assert out.loc[["a", "c"], "allocation"].sum() == pytest.approx(1.0)
    assert out.at["a", "capital"] / out.at["c", "capital"] == pytest.approx(
        out.at["c", "volatility"] / out.at["a", "volatility"])
    assert 1.8 < out.at["a", "capital"] / out.at["c", "capital"] < 2.2
    assert out.at["a", "capital"] + out.at["c", "capital"] == pytest.approx(9_000)
    assert out.at["a", "reason"].startswith("chosen: rank 1 by overall score 0.900; first choice") and \
        "inverse-volatility weight" in out.at["a", "reason"]
    assert (out["reason"].str.len() > 0).all()


def test_the_pool_and_the_limit_bound_the_choice() -> None:
    out = select_strategies(_candidates(("a", 0.9), ("c", 0.8), ("e", 0.7)), _returns(), slots=1,
                            max_correlation=0.7, capital=1_000).set_index("strategy_id")
    assert out["chosen"].tolist() == [True, False, False]
    assert out.at["c", "reason"] == "skipped: the pool is full (1 slot)"
    loose = select_strategies(_candidates(("a", 0.9), ("b", 0.85)), _returns(), slots=5, max_correlation=0.99,
                              capital=1_000)
    assert loose["chosen"].all()
    # e shares only 100 bars with a: correlation measured on those
    out = select_strategies(_candidates(("a", 0.9), ("e", 0.8)), _returns(), slots=5, max_correlation=0.7,
                            capital=1_000).set_index("strategy_id")
    assert out.at["e", "chosen"] and abs(out.at["e", "max_correlation"]) < 0.3
    empty = select_strategies(_candidates(), {}, slots=3, max_correlation=0.7, capital=1_000)
    assert empty.empty and list(empty.columns)[:2] == ["strategy_id", "chosen"]
    with pytest.raises(ValueError, match="slots"):
        select_strategies(_candidates(), {}, slots=-1, max_correlation=0.7, capital=1_000)


def test_validation_returns_are_gate_ones() -> None:
    market = sine_market()
    cfg = config()
    win = windows(market, cfg)
    rows = pd.DataFrame(planted_rows(2, seed=1) + planted_rows(1, seed=2, coin="ETH", prefix="e"))
    returns = validation_returns(rows, market, win, cfg)
    assert set(returns) == {"p0", "p1", "e0"}
    inputs = prepare_validation_inputs(market, win, cfg)
    candidate = candidates_from_frame(rows)[0]
    per_bar = validation_bar_returns(candidate, inputs.coins["BTC"], inputs.costs)
    np.testing.assert_array_equal(returns["p0"].to_numpy(), per_bar)
    start = pd.Timestamp(win.validation.start)
    assert returns["p0"].index[1] == start and returns["p0"].index[-1] < pd.Timestamp(win.validation.end)
    assert returns["p0"].index.equals(returns["e0"].index)  # both coins span the same dates
    # near-copies move together; selection keeps one of them
    out = select_strategies(rows, returns, slots=3, max_correlation=0.7, capital=1_000)
    assert out.set_index("strategy_id").at["p1", "chosen"] == False  # noqa: E712
    assert validation_returns(rows.iloc[:0], market, win, cfg) == {}
