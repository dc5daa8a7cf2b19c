"""The validate stage on small synthetic markets: a planted pattern passes, noise and look-ahead do not,
modes and batches behave; the replay engine equals the kernel trade for trade on every family."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from candidate_fixtures import PLANTED, random_walk_market, sine_market

import tasks.validate.gate3_venue as gate_venue
from exchange.venue import Venue
from exchange.venue.data import BAR_MS
from kernels.evaluate import Costs, Market
from kernels.families import FAMILY_NAMES, N_FAMILIES
from kernels.genome import GENE_DIRECTION, GENE_STOP_LOSS, GENE_TAKE_PROFIT, N_GENES
from tasks.market.source import MarketData
from tasks.market.store import epoch_ms
from tasks.market.windows import split_windows
from tasks.orchestration.submitters import inline_submit
from tasks.run.config import RunConfig, ValidationConfig, WindowConfig
from tasks.run.run_dir import RunDir
from tasks.validate.batches import validate_batch
from tasks.validate.candidate import Candidate, CoinInputs, ValidationInputs, prepare_validation_inputs
from tasks.validate.gate2_replay import replay_candidate
from tasks.validate.stage import validate_run


def row(strategy_id: str, family: str, genes, family_b: str | None = None, genes_b=None) -> dict:
    return {"strategy_id": strategy_id, "coin": "BTC", "family": family, "family_b": family_b,
            "genes": list(map(float, genes)), "genes_b": list(map(float, genes_b if genes_b is not None else
                                                                  np.full(N_GENES, 0.5))), "fitness": 1.0}


def clone_rows(count: int, seed: int) -> list[dict]:
    """Near-copies of the planted genome, as the evolution's top candidates usually are."""
    rng = np.random.default_rng(seed)
    genes = np.asarray(PLANTED[1])
    return [row(f"clone-{seed}-{i}", PLANTED[0], np.clip(genes + rng.normal(0, 0.03, N_GENES), 0, 1))
            for i in range(count)]


def random_rows(count: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [row(f"random-{seed}-{i}", FAMILY_NAMES[i % N_FAMILIES], rng.uniform(size=N_GENES)) for i in range(count)]


def make_run(tmp_path, rows: list[dict]) -> RunDir:
    run = RunDir(tmp_path / "run")
    run.root.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(run.candidates)
    return run


def validate(tmp_path, market: MarketData, rows: list[dict], mode: str = "fast", submit=inline_submit,
             **settings) -> tuple[pd.DataFrame, dict]:
    config = RunConfig(run_id="t", validation=ValidationConfig(mode=mode, min_trades=20, **settings))
    run = make_run(tmp_path, rows)
    table = validate_run(run, market, split_windows(market, config.windows), config, submit=submit)
    assert pd.read_parquet(run.validated)["strategy_id"].tolist() == [r["strategy_id"] for r in rows]
    return table.set_index("strategy_id"), json.loads(run.manifest_path.read_text())["validation"]


@pytest.fixture(scope="module")
def sine() -> MarketData:
    return sine_market()


def test_planted_pattern_passes_fast_mode(tmp_path, sine):
    rows = [row("planted", *PLANTED)] + clone_rows(7, seed=1) + [row("idle", "funding_carry", np.zeros(N_GENES))]
    table, summary = validate(tmp_path, sine, rows)
    planted = table.loc["planted"]
    assert planted["gate1_pass"] and planted["gate2_pass"] and planted["passed"], planted["reasons"]
    assert planted["gate1_significant"] and planted["gate2_trades_match"]
    assert planted["gate1_significance_sharpe"] > summary["significance"]["critical_sharpe"] > 0
    assert planted["overall_score"] >= 0.7 and planted["reasons"] == "" and planted["gates_performed"] == "gate1,gate2"
    idle = table.loc["idle"]
    assert not idle["passed"] and "0 trades < 20" in idle["reasons"] and not idle["gate1_significant"]
    assert "not significant among the candidates at 5% family-wise error" in idle["reasons"]
    assert table["gate2_trades_match"].all(), table["gate2_mismatch"].tolist()
    assert summary["candidates"] == 9 and summary["passed"] >= 1
    test = summary["significance"]
    assert test["window"] == "validation+replay" and test["fwer"] == 0.05 and test["candidates"] == 9
    assert test["significant"] == int(table["gate1_significant"].sum()) and 0.0 <= test["spa_pvalue"] <= 0.05


def test_full_mode_trades_the_survivors_on_the_loopback_venue(tmp_path, sine):
    rows = [row("planted", *PLANTED)] + clone_rows(2, seed=2) + [row("idle", "funding_carry", np.zeros(N_GENES))]
    table, summary = validate(tmp_path, sine, rows, mode="full")
    planted = table.loc["planted"]
    assert planted["gate3_pass"] and planted["passed"], planted["reasons"]
    assert planted["gate3_orders"] > 5 and planted["gate3_rejected"] == 0 and planted["gate3_error"] == ""
    assert planted["gate3_return"] == pytest.approx(planted["gate3_expected_return"], abs=0.005)
    assert 0.5 <= planted["gate3_performance"] <= 1.0 and 0.0 <= planted["gate3_execution"] <= 1.0
    assert 0.0 < planted["gate3_slippage_bps"] < 5.0  # the venue's 1 bp half-spread plus tick rounding
    assert planted["gates_performed"] == "gate1,gate2,gate3" and planted["gate3_venue"] == "loopback replay"
    assert planted["gate3_stop_loss_exits"] == planted["gate3_expected_stop_loss_exits"]
    idle = table.loc["idle"]
    assert not idle["gate3_pass"] and idle["gate3_reasons"] == "not run: an earlier gate failed"
    assert summary["gates"] == ["gate1", "gate2", "gate3"] and summary["gate3_passed"] >= 1


def test_minimal_mode_runs_gate1_only(tmp_path, sine):
    table, summary = validate(tmp_path, sine, [row("planted", *PLANTED)] + clone_rows(3, seed=3), mode="minimal")
    assert table.loc["planted", "passed"] and table.loc["planted", "gates_performed"] == "gate1"
    assert not [c for c in table.columns if c.startswith("gate2")]
    assert "gate2_passed" not in summary and summary["gate1_passed"] >= 1


def test_nothing_passes_on_random_walks(tmp_path):
    """Random genomes on a BTC-like random walk: the gates must not mistake luck for skill."""
    passed = 0
    for seed in range(3):
        table, _ = validate(tmp_path / str(seed), random_walk_market(2500, seed), random_rows(14, seed=10 + seed))
        passed += int(table["passed"].sum())
        assert table["gate2_trades_match"].all()
    assert passed == 0


class PeekingCandidate(Candidate):
    """The planted genome, but its targets peek at the next close (a deliberately dishonest strategy)."""

    def targets(self, market: Market, stop: int | None = None) -> np.ndarray:
        close = market.close[:stop]
        out = np.zeros(len(close))
        out[:-1] = np.sign(close[1:] - close[:-1])
        return out


def test_a_look_ahead_strategy_is_rejected(tmp_path, sine):
    def peeking(fn, *args, **kwargs):
        if fn is validate_batch:
            args = ([PeekingCandidate(*c) for c in args[0]], *args[1:])
        return inline_submit(fn, *args, **kwargs)

    table, _ = validate(tmp_path, sine, [row("planted", *PLANTED)], submit=peeking)
    planted = table.loc["planted"]
    assert not planted["passed"] and not planted["gate1_pass"] and planted["gate1_score"] == 0.0
    assert planted["gate1_reasons"].startswith("look-ahead: positions change when later bars are removed")
    assert planted["gate1_lookahead_leaks"] >= 1
    # The replay of a peeking strategy does not match the honest kernel either.
    assert not planted["gate2_trades_match"] and planted["gate2_mismatch"].startswith("trade #1 differs")


def test_a_broken_candidate_fails_alone(tmp_path, sine):
    broken = row("broken", "ema_crossover", np.full(N_GENES, 0.5))
    broken["genes"][5] = 1.5  # genes live in [0, 1]
    table, summary = validate(tmp_path, sine, [broken, row("planted", *PLANTED)])
    assert table.loc["broken", "reasons"].startswith("gate1: validation error: ValueError")
    assert table.loc["planted", "passed"] and summary["errors"] == 1


def test_candidates_travel_in_at_most_concurrency_batches(tmp_path, sine):
    seen = []

    def recording(fn, *args, **kwargs):
        if fn is validate_batch:
            seen.append(len(args[0]))
        return inline_submit(fn, *args, **kwargs)

    validate(tmp_path, sine, random_rows(7, seed=4), mode="minimal", submit=recording, concurrency=3)
    assert seen == [3, 2, 2]


def test_no_candidates_writes_an_empty_table(tmp_path, sine):
    config = RunConfig(run_id="t")
    run = make_run(tmp_path, [row("x", *PLANTED)])
    pd.DataFrame(columns=["strategy_id", "coin", "family"]).to_parquet(run.candidates)
    table = validate_run(run, sine, split_windows(sine, config.windows), config, submit=inline_submit)
    assert table.empty and run.manifest()["validation"]["candidates"] == 0


@pytest.mark.parametrize("family", range(N_FAMILIES), ids=FAMILY_NAMES)
def test_replay_engine_equals_kernel_on_real_data(family, shared_data):
    """Every family: two random genomes and an ensemble, 1,000 replayed hours of real BTC with its funding."""
    candles = pd.read_parquet(shared_data / "candles-1h" / "BTC.parquet").iloc[-1600:]
    funding = pd.read_parquet(shared_data / "funding-1h" / "BTC.parquet").set_index("timestamp")["funding_rate"]
    rates = funding.reindex(candles["timestamp"]).fillna(1.25e-5).to_numpy()
    market = Market(*(candles[k].to_numpy(np.float64) for k in ("open", "high", "low", "close", "volume")),
                    rates, 8760.0)
    coin = CoinInputs(market, epoch_ms(candles["timestamp"]), (300, 600), (600, 1600), (1600, 1600))
    rng = np.random.default_rng(family)
    genes = rng.uniform(size=(3, N_GENES))
    genes[:, GENE_DIRECTION] = (0.9, 0.1, 0.9)  # long-short, long-only, and an ensemble with the next family
    candidates = [Candidate("a", "BTC", family, genes[0]), Candidate("b", "BTC", family, genes[1]),
                  Candidate("e", "BTC", family, genes[0], (family + 1) % N_FAMILIES, genes[2])]
    for candidate in candidates:
        result = replay_candidate(candidate, coin, Costs())
        assert result["gate2_trades_match"], result["gate2_mismatch"]


@pytest.fixture(scope="module")
def live_inputs(sine) -> ValidationInputs:
    """Gate 3's inputs on the sine market: the bars through the end of the live window."""
    config = RunConfig(run_id="t")
    return prepare_validation_inputs(sine, split_windows(sine, config.windows), config, through="live")


def _venue_of(candidate: Candidate, inputs: ValidationInputs, monkeypatch) -> tuple[dict, Venue]:
    """Gate 3 of one candidate on the loopback venue, and that venue (kept to read its books)."""
    made: list[Venue] = []

    def keep(*args, **kwargs) -> Venue:
        made.append(Venue(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(gate_venue, "Venue", keep)
    result = gate_venue.venue_candidate(candidate, inputs.coins["BTC"], inputs.costs, capital=100_000.0,
                                        tolerance=0.01)
    return result, made[0]


def _trigger_fills(venue: Venue) -> list[tuple[dict, object]]:
    """(fill, order) of every fill of a TP/SL trigger order on the venue."""
    (account,) = venue.engine.accounts.values()
    orders = [(f, venue.engine.orders.by_oid(account.address, f["oid"])) for f in account.fills]
    return [(f, o) for f, o in orders if o.tif == "Trigger"]


def test_gate3_stop_loss_rests_on_the_venue_and_the_venue_executes_it(live_inputs, monkeypatch):
    tight = Candidate("planted", "BTC", FAMILY_NAMES.index(PLANTED[0]), np.asarray(PLANTED[1]))
    assert 0.0 < tight.stops()[0] < 0.01  # a 0.57 % stop loss
    result, venue = _venue_of(tight, live_inputs, monkeypatch)
    assert result["gate3_stop_loss_exits"] >= 1, result
    assert result["gate3_stop_loss_exits"] == result["gate3_expected_stop_loss_exits"]
    assert result["gate3_take_profit_exits"] == result["gate3_expected_take_profit_exits"]
    assert result["gate3_return"] == pytest.approx(result["gate3_expected_return"], abs=0.002)
    assert result["gate3_rejected"] == 0 and result["gate3_venue"] == "loopback replay"
    series = venue.engine.series["BTC"]
    fired = [(f, o) for f, o in _trigger_fills(venue) if o.tpsl == "sl"]
    assert len(fired) == result["gate3_stop_loss_exits"]
    for fill, order in fired:
        bar = int(np.searchsorted(series.bar_open_ms, fill["time"] - BAR_MS))
        # Reduce-only, closing the long on the bar whose low reached the trigger, at the trigger or the gapped open.
        assert order.reduce_only and fill["dir"] == "Close Long" and series.low[bar] <= order.trigger_px
        assert float(fill["px"]) <= min(order.trigger_px, series.open[bar])
    coin = live_inputs.coins["BTC"]
    assert result["gate3_start_ms"] == int(coin.times_ms[coin.live[0] - 1]) + BAR_MS
    assert result["gate3_end_ms"] - result["gate3_start_ms"] == (result["gate3_bars"] - 1) * BAR_MS

    genes = np.asarray(PLANTED[1]).copy()
    genes[[GENE_STOP_LOSS, GENE_TAKE_PROFIT]] = 0.0  # stops off
    loose, loose_venue = _venue_of(tight._replace(genes=genes), live_inputs, monkeypatch)
    assert loose["gate3_stop_loss_exits"] == 0 and _trigger_fills(loose_venue) == []
    (account,) = loose_venue.engine.accounts.values()
    assert loose["gate3_orders"] == len(account.fills)  # market orders only: no stop was ever placed
    assert loose["gate3_return"] != pytest.approx(result["gate3_return"], abs=1e-4)  # the stop changed the outcome


def test_too_few_days_for_the_significance_test_is_said_and_nothing_passes(tmp_path):
    """Validation and replay windows of 80 and 60 hourly bars: 5 whole days, fewer than the bootstrap needs."""
    market = sine_market(2000)
    config = RunConfig(run_id="t", validation=ValidationConfig(mode="fast", min_trades=0),
                       windows=WindowConfig(fractions=(0.88, 0.04, 0.03, 0.05)))
    run = make_run(tmp_path, [row("planted", *PLANTED)])
    table = validate_run(run, market, split_windows(market, config.windows), config, submit=inline_submit)
    summary = run.manifest()["validation"]
    assert summary["significance"]["skipped"] == "only 5 days on validation+replay, the test needs 8"
    assert not table["passed"].iat[0]
    assert "not significant: only 5 days on validation+replay" in table["reasons"].iat[0]
