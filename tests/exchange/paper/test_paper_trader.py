"""The paper trader against the loopback venue: crash safety (SIGKILL of a real process), the rules
(retirement, emergency, kill switch) and the errors a user can fix (rules file, venue, state file).

The crash test replays the last 30 days of the real data at full speed (the trader steps the venue's
clock after each bar); the others use the synthetic market of venue_helpers (a ±4 % sine).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import socket
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from paper_helpers import GENOMES, cli_argv, cli_env, fund, popen, register_book, specs, wallet
from venue_helpers import START_BAR, T0_MS

from exchange.hyperliquid.client import HyperliquidClient
from exchange.hyperliquid.ids import NonceSource
from exchange.hyperliquid.settings import ExchangeSettings
from exchange.paper import (EmergencyRules, PaperPaths, PaperRules, PaperSettings, PaperStateError, PaperTrader,
                            RetirementRules)
from exchange.paper.netting import allocate, net_deltas
from exchange.paper.rules import RiskRules, breach_since, emergency_reason, retirement_reason, risk_adjustment
from exchange.paper.state import BookState, StateStore, StrategyBook, file_lock
from exchange.venue import Venue, VenueServer
from exchange.venue.data import BAR_MS, CoinSeries, load_market_data
from flows.commands import paper as paper_command
from kernels.evaluate import Market

REAL_COINS = ["BTC", "ETH", "SOL"]
REPLAY_DAYS = 30
KILLS = 3
TRADERS = ["rsi", "nad", "ema", "sto"]  # genomes that trade the synthetic market within a day or two


# ---- helpers ---------------------------------------------------------------------------------------


def _trader(server: VenueServer, data_dir: Path, account, rules: PaperRules = PaperRules()) -> PaperTrader:
    settings = ExchangeSettings(endpoint=server.url, timeout_s=5, max_attempts=2, backoff_s=0.01)
    client = HyperliquidClient(account, settings, nonces=NonceSource())
    return PaperTrader(PaperPaths(data_dir / "paper"), client, rules, PaperSettings(lookback_bars=100, flush_bars=1))


def _run_bars(trader: PaperTrader, venue: Venue, bars: int) -> None:
    for _ in range(bars):
        trader.step()
        venue.step(BAR_MS)


def _cli(data_dir: Path, *args: str) -> int:
    parser = argparse.ArgumentParser(prog="uce")
    parser.add_argument("--data-dir")
    paper_command.register(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["--data-dir", str(data_dir), "paper", *args])
    return parsed.func(parsed)


def _venue_fills(venue: Venue, account) -> list[dict]:
    return venue.engine.accounts[account.address.lower()].fills


def _synthetic_book(tmp_path: Path, market: dict[str, CoinSeries], names: list[str] = TRADERS):
    account = wallet(tmp_path.name)
    venue = Venue(market, start_ms=T0_MS + START_BAR * BAR_MS, speed=0.0)
    fund(venue, account)
    register_book(tmp_path, specs(names, coins=("BTC", "ETH")))
    return venue, account


@pytest.fixture
def synthetic(tmp_path: Path, market: dict[str, CoinSeries]):
    venue, account = _synthetic_book(tmp_path, market)
    with VenueServer(venue) as server:
        yield venue, server, account


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UCE_PRIVATE_KEY", raising=False)


# ---- crash safety ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_market(shared_data: Path) -> dict[str, CoinSeries]:
    return load_market_data(shared_data, REAL_COINS)


def _replay_venue(market: dict[str, CoinSeries], account) -> Venue:
    end = max(int(s.bar_open_ms[-1]) for s in market.values()) + BAR_MS
    venue = Venue(market, start_ms=end - REPLAY_DAYS * 86_400_000, speed=0.0)
    fund(venue, account)
    return venue


def _warm_kernels(market: dict[str, CoinSeries]) -> None:
    """Compile (or load) the kernels here once, so the trader processes find them in the numba cache
    instead of each compiling them at the same time."""
    series = market["BTC"]
    m = Market(series.open[-300:], series.high[-300:], series.low[-300:], series.close[-300:],
               series.volume[-300:], np.zeros(300), 8760.0)
    for spec in specs():
        spec.target(m)


def _finish(proc: subprocess.Popen, timeout: float = 400) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


def test_sigkill_three_times_ends_like_an_uninterrupted_run(tmp_path: Path, real_market) -> None:
    """Ten strategies trade 30 days of real bars; one process runs through, the other is SIGKILLed at three
    random points and restarted; books, ledgers and venue fills must be equal, no order doubled."""
    _warm_kernels(real_market)
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seed = int(os.environ.get("UCE_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    book = specs()
    accounts = {"whole": wallet("whole"), "killed": wallet("killed")}
    venues = {name: _replay_venue(real_market, account) for name, account in accounts.items()}
    dirs = {name: tmp_path / name for name in accounts}
    for d in dirs.values():
        register_book(d, book)
    start_ms = venues["killed"].clock.now_ms()
    bars = REPLAY_DAYS * 24
    kill_at = sorted(rng.sample(range(20, bars - 20), KILLS))
    with VenueServer(venues["whole"]) as whole_server, VenueServer(venues["killed"]) as killed_server:
        def launch(name: str, server: VenueServer) -> subprocess.Popen:
            return popen(dirs[name], accounts[name], "run", "--url", server.url, "--advance", "--retries", "3",
                         "--timeout", "10")

        started = time.perf_counter()
        whole = launch("whole", whole_server)
        proc = launch("killed", killed_server)
        kills = []
        for k in kill_at:
            while venues["killed"].clock.now_ms() < start_ms + k * BAR_MS:
                assert proc.poll() is None, f"the trader ended before bar {k}: {proc.communicate()}"
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.04))  # land somewhere inside bar k's work
            assert proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills.append((k, (venues["killed"].clock.now_ms() - start_ms) // BAR_MS))
            proc = launch("killed", killed_server)
        rc_killed, out_killed, err_killed = _finish(proc)
        rc_whole, out_whole, err_whole = _finish(whole)
        seconds = time.perf_counter() - started
    assert rc_whole == 0 and rc_killed == 0, (seed, err_whole[-2000:], err_killed[-2000:])
    assert "reached its end" in out_whole and "reached its end" in out_killed
    assert len(kills) == KILLS

    states = {name: StateStore(PaperPaths(d / "paper")).load() for name, d in dirs.items()}
    assert states["whole"].last_bar_ms == states["killed"].last_bar_ms == start_ms - BAR_MS + bars * BAR_MS
    for sid, strategy in states["whole"].strategies.items():
        assert asdict(states["killed"].strategies[sid]) == asdict(strategy), (seed, kills, sid)
        assert strategy.fills > 0, f"{sid} never traded"
    for field in ("orders", "rejected", "equity_history", "peak_equity", "halted", "reconciliation"):
        assert getattr(states["killed"], field) == getattr(states["whole"], field), (seed, field)
    assert states["whole"].reconciliation == {}  # the venue agrees with the book

    ledgers = {name: pd.read_parquet(d / "paper" / "performance.parquet") for name, d in dirs.items()}
    pd.testing.assert_frame_equal(ledgers["killed"], ledgers["whole"])
    assert len(ledgers["whole"]) >= (bars + 1) * 6  # every active strategy has a row per bar
    fills = {name: pd.read_parquet(d / "paper" / "fills.parquet").drop(columns="cloid") for name, d in dirs.items()}
    pd.testing.assert_frame_equal(fills["killed"], fills["whole"])

    venue_fills = {name: _venue_fills(venues[name], accounts[name]) for name in accounts}
    cloids = [f["cloid"] for f in venue_fills["killed"]]
    assert len(cloids) == len(set(cloids)), "an order was executed twice"
    keys = ("coin", "side", "sz", "px", "fee", "time", "closedPnl")
    assert [tuple(f[k] for k in keys) for f in venue_fills["killed"]] == \
        [tuple(f[k] for k in keys) for f in venue_fills["whole"]]
    assert len(venue_fills["whole"]) == states["whole"].orders - states["whole"].rejected
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"\nseed {seed}: kills at bars {kills}; {len(venue_fills['whole'])} venue fills, "
          f"{sum(s.fills for s in states['whole'].strategies.values())} strategy fills; book equity "
          f"{states['whole'].equity:,.2f} of {len(book) * book[0].capital:,.0f}; {seconds:.1f} s "
          f"({cpu.ru_utime + cpu.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime:.1f} s CPU in the traders)")


def test_a_bar_redone_after_a_crash_sends_no_new_order(tmp_path: Path, market) -> None:
    """Deterministic version of the crash: the first bar that trades fails to write its state after its
    orders went out; the bar is redone and the run ends as one without the failure."""
    results = {}
    for name in ("whole", "crashed"):
        venue, account = _synthetic_book(tmp_path / name, market)
        with VenueServer(venue) as server:
            trader = _trader(server, tmp_path / name, account)
            save, crashes = trader.store.save, []
            if name == "crashed":
                def failing(state, _save=save) -> None:
                    if not crashes and len(_venue_fills(venue, account)) > filled:
                        crashes.append(state.last_bar_ms)
                        raise OSError("disk full")
                    _save(state)

                trader.store.save = failing
            for _ in range(24):
                filled = len(_venue_fills(venue, account))
                try:
                    trader.step()
                except OSError:
                    trader.step()  # the same bar again: its orders are read back, not sent twice
                venue.step(BAR_MS)
            assert name == "whole" or crashes
            results[name] = (StateStore(trader.paths).load(), _venue_fills(venue, account))
    whole, crashed = results["whole"], results["crashed"]
    assert {k: asdict(v) for k, v in crashed[0].strategies.items()} == \
        {k: asdict(v) for k, v in whole[0].strategies.items()}
    assert len(crashed[1]) == len(whole[1]) and len({f["cloid"] for f in crashed[1]}) == len(crashed[1])


# ---- rules -----------------------------------------------------------------------------------------


def test_drawdown_breach_retires_and_flattens(tmp_path: Path, synthetic, capsys) -> None:
    venue, server, account = synthetic
    rules = PaperRules(retirement=RetirementRules(max_drawdown=0.01, drawdown_days=0))
    trader = _trader(server, tmp_path, account, rules)
    _run_bars(trader, venue, 48)
    state = StateStore(trader.paths).load()
    retired = [s for s in state.strategies.values() if s.status == "retired"]
    assert retired, "no strategy breached a 1 % drawdown"
    for s in retired:
        assert s.position == 0.0 and s.desired == 0.0 and s.reason.startswith("drawdown")
    positions = trader.client.user_state().positions
    for coin in ("BTC", "ETH"):
        held = positions[coin].size if coin in positions else 0.0
        assert held == pytest.approx(sum(s.position for s in state.strategies.values() if s.coin == coin), abs=1e-9)
    registry = {s.strategy_id: s for s in trader.registry.all()}
    assert all(registry[s.strategy_id].status == "retired" for s in retired)

    assert _cli(tmp_path, "status") == 0
    out = capsys.readouterr().out
    for s in retired:
        assert f"{s.strategy_id} retired" in out and "drawdown" in out
    perf = pd.read_parquet(trader.paths.performance)
    assert (perf.groupby("strategy_id")["status"].last()[[s.strategy_id for s in retired]] == "retired").all()


def test_emergency_flattens_the_book_and_halts_until_resumed(tmp_path: Path, synthetic, capsys,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    venue, server, account = synthetic
    rules = PaperRules(emergency=EmergencyRules(max_drawdown=0.005))
    trader = _trader(server, tmp_path, account, rules)
    reports = []
    for _ in range(72):
        reports += trader.step()
        venue.step(BAR_MS)
        if trader.halted:
            break
    assert trader.halted is not None and trader.halted["by"] == "emergency"
    assert any(r.emergency and "book drawdown" in r.emergency for r in reports)
    state = StateStore(trader.paths).load()
    assert all(s.position == 0.0 for s in state.strategies.values())
    assert trader.client.user_state().positions == {}
    fills_before = len(_venue_fills(venue, account))
    _run_bars(trader, venue, 3)  # halted: marks bars, trades nothing
    assert len(_venue_fills(venue, account)) == fills_before

    assert _cli(tmp_path, "status") == 0
    out = capsys.readouterr().out
    assert "HALTED by emergency" in out and "book drawdown" in out
    monkeypatch.setenv("UCE_PRIVATE_KEY", account.key.hex())
    assert _cli(tmp_path, "run", "--once", "--url", server.url) == paper_command.HALTED_EXIT
    assert _cli(tmp_path, "resume") == 0
    assert "resumed; the halt was: emergency" in capsys.readouterr().out
    assert StateStore(trader.paths).load().halted is None


def test_kill_switch_flattens_one_strategy_then_the_whole_book(tmp_path: Path, synthetic, capsys,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    venue, server, account = synthetic
    trader = _trader(server, tmp_path, account)
    _run_bars(trader, venue, 30)
    state = StateStore(trader.paths).load()
    holding = next(s.strategy_id for s in state.strategies.values() if s.position != 0.0)
    monkeypatch.setenv("UCE_PRIVATE_KEY", account.key.hex())
    assert _cli(tmp_path, "stop", holding, "--url", server.url) == 0
    state = StateStore(trader.paths).load()
    assert state.strategies[holding].status == "stopped" and state.strategies[holding].position == 0.0
    assert state.halted is None
    assert _cli(tmp_path, "stop", holding, "--url", server.url) == 0  # again: nothing left to do
    assert "stopped 0 strategies" in capsys.readouterr().out.splitlines()[-1]

    _run_bars(trader, venue, 6)
    assert StateStore(trader.paths).load().strategies[holding].position == 0.0  # stays flat
    assert _cli(tmp_path, "stop", "--all", "--reason", "end of test", "--url", server.url) == 0
    assert capsys.readouterr().out.rstrip().endswith("the book is halted")
    state = StateStore(trader.paths).load()
    assert state.halted["by"] == "operator" and all(s.position == 0.0 for s in state.strategies.values())
    assert trader.client.user_state().positions == {}
    assert _cli(tmp_path, "status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["halted"]["reason"] == "end of test" and status["counts"]["active"] == 0
    assert trader.run(once=True).startswith("the book is halted: end of test")
    with file_lock(trader.paths.runner_lock, wait_s=0.0, what="test"):  # another runner holds the book
        with pytest.raises(PaperStateError, match="another `uce paper run`"):
            trader.run(once=True)


def test_retirement_needs_the_breach_to_last() -> None:
    day = 86_400_000
    rules = RetirementRules()
    since = breach_since(None, True, 0)
    assert since == 0 and breach_since(since, True, day) == 0 and breach_since(since, False, day) is None
    kwargs = dict(sharpe=1.0, bars=100, negative_since_ms=None, rules=rules)
    assert retirement_reason(drawdown=0.2, drawdown_since_ms=0, now_ms=2 * day, **kwargs) is None
    assert retirement_reason(drawdown=0.2, drawdown_since_ms=0, now_ms=3 * day, **kwargs) == \
        "drawdown 20.0% > 15% for 3.0 days (rule: 3 days)"
    assert retirement_reason(sharpe=-0.5, bars=100, drawdown=0.0, negative_since_ms=0, drawdown_since_ms=None,
                             now_ms=7 * day, rules=rules).startswith("paper Sharpe -0.50 < 0 for 7.0 days")
    assert retirement_reason(sharpe=-0.5, bars=10, drawdown=0.0, negative_since_ms=0, drawdown_since_ms=None,
                             now_ms=7 * day, rules=rules) is None  # too few bars to judge


def test_emergency_on_daily_and_weekly_loss_and_drawdown() -> None:
    rules = EmergencyRules()
    flat = [100.0] * 200
    assert emergency_reason(flat, 100.0, rules) is None
    assert emergency_reason(flat[:-1] + [94.9], 100.0, rules).startswith("daily loss 5.1% >= 5%")
    slow = list(np.linspace(100.0, 84.0, 169))  # -16 % over a week, under 5 % a day
    assert emergency_reason(slow, 100.0, rules).startswith("weekly loss")
    assert emergency_reason([79.0] * 200, 100.0, rules).startswith("book drawdown 21.0% >= 20%")


def test_risk_multiplier_from_volatility_volume_and_correlation() -> None:
    rng = np.random.default_rng(0)
    rules = RiskRules()
    calm = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 800)))
    calm[-24:] = calm[-25] * np.exp(np.cumsum(rng.normal(0, 0.002, 24)))  # the last day is quiet
    volume = np.r_[np.ones(776), np.full(24, 2.0)]
    own, book = rng.normal(0, 0.01, 168), rng.normal(0, 0.01, 168)
    assert risk_adjustment(calm, volume, own, book, rules).multiplier == 1.2
    wild = calm.copy()
    wild[-24:] = wild[-25] * np.exp(np.cumsum(rng.normal(0, 0.05, 24)))
    out = risk_adjustment(wild, volume, own, book, rules)
    assert out.multiplier == 0.5 and out.reason.startswith("reduce: volatility")
    assert risk_adjustment(calm, np.r_[np.ones(776), np.full(24, 0.2)], own, book, rules).multiplier == 0.5
    assert risk_adjustment(calm, volume, own, own * 2 + 0.001, rules).multiplier == 0.5  # moves with the book
    assert risk_adjustment(calm, volume, own[:5], book[:5], rules).multiplier == 1.0  # not enough paper history
    assert risk_adjustment(calm[:100], volume[:100], own, book, rules).reason.startswith("normal")
    assert risk_adjustment(wild, volume, own, book, RiskRules(enabled=False)).multiplier == 1.0


def test_netting_shares_a_partial_fill_and_keeps_the_sum() -> None:
    plan = net_deltas({"a": 2.0, "b": -0.5, "c": 1.0, "d": 0.0})
    assert (plan.buys, plan.sells, plan.cross, plan.venue_size) == (3.0, 0.5, 0.5, 2.5)
    shares = allocate(plan, filled=2.0, price=101.0, fee=0.09)
    assert sum(a.internal + a.external for a in shares) == pytest.approx(2.0)  # = the venue fill
    assert sum(a.fee for a in shares) == pytest.approx(0.09)
    b = next(a for a in shares if a.strategy_id == "b")
    assert (b.internal, b.external, b.fee) == (-0.5, 0.0, 0.0)
    a = next(a for a in shares if a.strategy_id == "a")
    assert a.internal == pytest.approx(0.5 * 2 / 3) and a.external == pytest.approx(2.0 * 2 / 3)


# ---- errors a user can fix -------------------------------------------------------------------------


def _book_with_state(tmp_path: Path, synthetic) -> tuple[PaperPaths, bytes]:
    venue, server, account = synthetic
    trader = _trader(server, tmp_path, account)
    _run_bars(trader, venue, 3)
    return trader.paths, trader.paths.state.read_bytes()


def test_bad_rules_file_is_one_clear_line_and_keeps_the_state(tmp_path: Path, synthetic, capsys,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    paths, good = _book_with_state(tmp_path, synthetic)
    _, server, account = synthetic
    monkeypatch.setenv("UCE_PRIVATE_KEY", account.key.hex())
    rules = tmp_path / "rules.yaml"
    for text, expected in (("emergency:\n  daily_loss: 1.5\n", "[emergency] daily_loss = 1.5"),
                           ("retirement:\n  max_drawdon: 0.1\n",
                            "[retirement] max_drawdon is not a setting; did you mean max_drawdown?"),
                           ("pool: [1, 2\n", "not valid YAML")):
        rules.write_text(text)
        assert _cli(tmp_path, "run", "--once", "--url", server.url, "--rules", str(rules)) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and expected in err and len(err.strip().splitlines()) == 1, err
    assert paths.state.read_bytes() == good


def test_unreachable_venue_is_one_clear_line_and_keeps_the_state(tmp_path: Path, synthetic, capsys,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    paths, good = _book_with_state(tmp_path, synthetic)
    _, _, account = synthetic
    monkeypatch.setenv("UCE_PRIVATE_KEY", account.key.hex())
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    assert _cli(tmp_path, "run", "--once", "--url", dead, "--retries", "1", "--timeout", "2") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach the venue at {dead}") and len(err.strip().splitlines()) == 1
    assert paths.state.read_bytes() == good


def test_corrupted_state_is_one_clear_line_and_keeps_the_last_good_state(tmp_path: Path, synthetic, capsys,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    paths, good = _book_with_state(tmp_path, synthetic)
    venue, server, account = synthetic
    previous = paths.prev_state.read_bytes()
    monkeypatch.setenv("UCE_PRIVATE_KEY", account.key.hex())
    for damage in (good[: len(good) // 2], good.replace(b'"orders":', b'"orders":1', 1), b"\x00" * 64):
        paths.state.write_bytes(damage)
        for args in (("run", "--once", "--url", server.url), ("status",)):
            assert _cli(tmp_path, *args) == 2
            err = capsys.readouterr().err
            assert "is corrupted" in err and str(paths.prev_state) in err and len(err.strip().splitlines()) == 1
        assert paths.state.read_bytes() == damage and paths.prev_state.read_bytes() == previous
    with pytest.raises(PaperStateError, match="checksum mismatch"):
        paths.state.write_bytes(good.replace(b'"orders":', b'"orders":1', 1))
        StateStore(paths).load()
    paths.state.write_bytes(previous)  # what the message advises: resume from the last good state
    venue.step(BAR_MS)
    assert _cli(tmp_path, "run", "--once", "--url", server.url) == 0
    resumed = StateStore(paths).load()
    assert resumed.last_bar_ms == venue.clock.now_ms() - BAR_MS  # caught up to the newest completed bar
    assert resumed.reconciliation == {}  # the redone bar took its orders (known by cloid) into the book


def test_state_file_round_trips_and_the_previous_one_is_kept(tmp_path: Path) -> None:
    store = StateStore(PaperPaths(tmp_path))
    state = BookState("b1", "http://x", "0xabc", 1, strategies={"s": StrategyBook("s", "BTC", 10.0, 0, cash=10.0)})
    store.save(state)
    first = store.paths.state.read_bytes()
    state.last_bar_ms = 3_600_000
    state.strategies["s"].recent_returns.append(0.01)
    store.save(state)
    assert store.paths.prev_state.read_bytes() == first
    again = StateStore(PaperPaths(tmp_path)).load()
    assert asdict(again) == asdict(state)


def test_the_helpers_genomes_are_ten_valid_strategies() -> None:
    book = specs()  # what the other tests register: every genome must be a strategy the registry accepts
    assert len(book) == len(GENOMES) == 10 and len({s.strategy_id for s in book}) == 10
    assert all(spec.validate() is spec for spec in book)
    assert sum(spec.family_b is not None for spec in book) == 1  # the one ensemble


def test_cli_argv_runs_the_paper_command(tmp_path: Path) -> None:
    done = subprocess.run(cli_argv(tmp_path, "rules"), capture_output=True, text=True,
                          env=cli_env(wallet("x")), timeout=120)
    assert done.returncode == 0 and "max_correlation: 0.7" in done.stdout


def test_the_prefect_task_processes_the_new_bars(tmp_path: Path, synthetic, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.paper_flow import paper_bar

    venue, server, account = synthetic
    monkeypatch.setenv("UCE_PRIVATE_KEY", account.key.hex())
    first = paper_bar.fn(str(tmp_path), server.url)
    assert len(first["bars"]) == 1 and first["halted"] is None
    assert paper_bar.fn(str(tmp_path), server.url)["bars"] == []  # nothing new: nothing done
    venue.step(3 * BAR_MS)
    later = paper_bar.fn(str(tmp_path), server.url)  # the hourly run was late: three bars, the last trades
    assert later["bars"] == [first["bars"][0] + k * BAR_MS for k in (1, 2, 3)]
    assert PaperPaths(tmp_path / "paper").performance.exists()


# ---- a book with nothing to trade ------------------------------------------------------------------


def _venue_requests(venue: Venue) -> list[str]:
    """The paths of every /info and /exchange request the venue answers from now on (the SDK reaches it
    over HTTP as always; only the venue's own dispatcher is wrapped, to count)."""
    seen: list[str] = []
    handle = venue.handle

    def counted(path: str, body):
        seen.append(path)
        return handle(path, body)

    venue.handle = counted
    return seen


def _empty_book_line(data_dir: Path, detail: str) -> str:
    return (f"nothing deployed, the paper book is empty (registry {data_dir / 'paper' / 'registry.sqlite'}: "
            f"{detail}); run `uce run` first to deploy strategies")


def test_an_empty_book_says_so_and_never_contacts_the_venue(tmp_path: Path, market, capsys,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    venue = Venue(market, start_ms=T0_MS + START_BAR * BAR_MS, speed=0.0)
    account = wallet("empty-book")
    fund(venue, account)
    requests = _venue_requests(venue)
    with VenueServer(venue) as server:
        assert _cli(tmp_path, "run", "--url", server.url) == 0  # no key anywhere, and no --once: still done
        assert capsys.readouterr().out == _empty_book_line(tmp_path, "no such file") + "\n"
        monkeypatch.setenv("UCE_PRIVATE_KEY", account.key.hex())  # a key changes nothing either
        assert _cli(tmp_path, "run", "--once", "--url", server.url) == 0
        assert capsys.readouterr().out == _empty_book_line(tmp_path, "no such file") + "\n"
    assert requests == []
    assert not (tmp_path / "paper").exists()  # looked, created nothing


def test_nothing_to_trade_names_the_registry_and_why(tmp_path: Path) -> None:
    from exchange.paper import Registry, nothing_to_trade

    paths = PaperPaths(tmp_path / "paper")
    registry = paths.registry
    assert nothing_to_trade(paths) == f"registry {registry}: no such file" and not paths.root.exists()
    Registry(registry).register([])
    assert nothing_to_trade(paths) == f"registry {registry}: no strategy registered"
    register_book(tmp_path, specs(["rsi", "ema"]))
    assert nothing_to_trade(paths) is None
    Registry(registry).set_status("s-rsi", "retired", "test", 0)
    Registry(registry).set_status("s-ema", "stopped", "test", 0)
    assert nothing_to_trade(paths) == f"registry {registry}: all 2 strategies retired or stopped, no position held"
    held = BookState("b", "http://x", "0xabc", 0, strategies={
        "s-rsi": StrategyBook("s-rsi", "BTC", 10.0, 0, status="retired", position=0.5)})
    StateStore(paths).save(held)  # a position is still held: the trader must go on marking and closing it
    assert nothing_to_trade(paths) is None


def test_status_shows_the_venue_accounts_equity_not_zeros(tmp_path: Path, market, capsys,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The book `uce paper run` used to leave behind with nothing deployed: no strategy, the venue's
    account funded with 100,000 USDC."""
    venue = Venue(market, start_ms=T0_MS + START_BAR * BAR_MS, speed=0.0)
    account = wallet("funded")
    venue.engine.fund(account.address, 100_000.0)
    paths = PaperPaths(tmp_path / "paper")
    with VenueServer(venue) as server:
        StateStore(paths).save(BookState("b" * 32, server.url, account.address.lower(), 0))
        assert _cli(tmp_path, "status") == 0  # no key needed: the book knows its account
        out = capsys.readouterr().out
        assert f"venue account {account.address.lower()} on {server.url}: equity 100,000.00 USD" in out
        assert _empty_book_line(tmp_path, "no such file") in out and "0.00 USD of 0.00" not in out
        assert _cli(tmp_path, "status", "--json") == 0
        status = json.loads(capsys.readouterr().out)
        assert status["venue"]["equity"] == 100_000.0 and status["venue"]["error"] is None

        paths.state.unlink()  # no book at all: the key names the account
        monkeypatch.setenv("UCE_PRIVATE_KEY", account.key.hex())
        assert _cli(tmp_path, "status", "--url", server.url) == 0
        out = capsys.readouterr().out
        assert f"venue account {account.address} on {server.url}: equity 100,000.00 USD" in out
    assert account.key.hex() not in out and account.key.hex()[2:] not in out


def test_status_of_a_trading_book_shows_the_venue_equity_beside_the_books(tmp_path: Path, synthetic,
                                                                         capsys) -> None:
    paths, _ = _book_with_state(tmp_path, synthetic)
    venue, server, account = synthetic
    held = HyperliquidClient(account, ExchangeSettings(endpoint=server.url)).user_state().account_value
    assert _cli(tmp_path, "status") == 0
    out = capsys.readouterr().out
    assert f"on {server.url}: equity {held:,.2f} USD" in out and "book equity " in out


def test_status_says_in_one_line_when_the_venue_cannot_be_reached(tmp_path: Path, capsys) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    address = wallet("unreachable").address.lower()
    StateStore(PaperPaths(tmp_path / "paper")).save(BookState("c" * 32, dead, address, 0))
    assert _cli(tmp_path, "status", "--retries", "1") == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "venue account" in line]
    assert lines == [lines[0]] and lines[0].startswith(f"venue account {address}: cannot reach the venue at {dead}")
    assert "equity" not in lines[0]
