"""Funding imports: Hyperliquid fundingHistory rows and generic files, refusals that leave the store
byte-for-byte, append-only merges, and the backtest charging the imported rates."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from market_files import corrupt, write_csv

from exchange.hyperliquid.market_data import parse_funding
from kernels.metrics import METRIC_NAMES, N_METRICS
from kernels.simulate import simulate_1d_nb
from tasks.evolve.evaluation import kernel_market
from tasks.market.file_import import import_funding_file, read_funding_file
from tasks.market.source import load_market_data
from tasks.market.store import MarketDataError, MarketStore
from tasks.run.config import CostConfig

M = {name: i for i, name in enumerate(METRIC_NAMES)}
RATE = 0.0005  # per hour: forty times the assumed 0.00125 %, so imported and assumed funding cannot be confused


@pytest.fixture(scope="module")
def hl_rows(shared_data: Path) -> list[dict]:
    """The fundingHistory answer recorded from the Hyperliquid info API: BTC, 8-hourly, from 2023-05-12."""
    pairs = json.loads((shared_data / "hyperliquid-api" / "fundingHistory.json").read_text())
    return next(p["response"] for p in pairs if p["request"]["type"] == "fundingHistory")


def hourly_funding(n: int = 48, start: str = "2023-06-01", rate: float = RATE) -> pd.DataFrame:
    """Generic rows: `time` as epoch seconds, a few seconds past the hour like the venue's, no premium."""
    hours = pd.date_range(start, periods=n, freq="1h", tz="UTC")
    return pd.DataFrame({"time": hours.as_unit("s").asi8 + 3, "funding_rate": np.full(n, rate)})




def test_hyperliquid_json_rows_read_as_parse_funding_does(hl_rows: list[dict], tmp_path: Path) -> None:
    path = tmp_path / "fundingHistory.json"
    path.write_text(json.dumps(hl_rows))
    pd.testing.assert_frame_equal(read_funding_file(path, "BTC"), parse_funding(hl_rows))
    store = MarketStore(tmp_path / "market")
    result = import_funding_file(store, path, "BTC")
    assert result.added == result.total == len(hl_rows)
    # Eight-hourly funding in May 2023: seven missing hours between payments are reported, not filled.
    first_gap = (pd.Timestamp("2023-05-12 01:00", tz="UTC"), pd.Timestamp("2023-05-12 07:00", tz="UTC"))
    assert result.gaps[0] == first_gap
    assert import_funding_file(store, path, "BTC").added == 0


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_hyperliquid_columns_in_csv_and_parquet(suffix: str, hl_rows: list[dict], tmp_path: Path) -> None:
    rows = pd.DataFrame(hl_rows[:100])  # coin, fundingRate, premium (strings), time (ms)
    path = tmp_path / f"funding{suffix}"
    rows.to_csv(path, index=False) if suffix == ".csv" else rows.to_parquet(path, index=False)
    pd.testing.assert_frame_equal(read_funding_file(path, "BTC"), parse_funding(hl_rows[:100]))


def test_generic_csv_with_time_and_rate_only(tmp_path: Path) -> None:
    path = write_csv(hourly_funding(48), tmp_path / "funding.csv")
    store = MarketStore(tmp_path / "market")
    result = import_funding_file(store, path, "BTC")
    assert (result.added, result.total, result.gaps) == (48, 48, [])
    stored = store.read_funding("BTC")
    assert stored["timestamp"].iloc[0] == pd.Timestamp("2023-06-01 00:00", tz="UTC")  # floored to the hour
    assert str(stored["timestamp"].dtype) == "datetime64[ms, UTC]"
    assert (stored["funding_rate"] == RATE).all() and stored["premium"].isna().all()


def test_generic_parquet_with_date_strings_and_premium(tmp_path: Path) -> None:
    df = hourly_funding(5).assign(premium=0.0001)
    df["timestamp"] = pd.to_datetime(df.pop("time"), unit="s", utc=True).dt.strftime("%Y-%m-%d %H:%M:%S")
    df.to_parquet(tmp_path / "f.parquet", index=False)
    read = read_funding_file(tmp_path / "f.parquet", "ETH")
    assert list(read.columns) == ["timestamp", "funding_rate", "premium"] and (read["premium"] == 0.0001).all()


def test_merge_appends_only_new_hours_and_reports_gaps(tmp_path: Path) -> None:
    store = MarketStore(tmp_path / "market")
    full = hourly_funding(72)
    import_funding_file(store, write_csv(full.iloc[:30], tmp_path / "a.csv"), "BTC")
    # 10 hours overlap, then a 5-hour hole: the overlap is skipped, the hole reported.
    later = pd.concat([full.iloc[20:40], full.iloc[45:]])
    result = import_funding_file(store, write_csv(later, tmp_path / "b.csv"), "BTC")
    assert (result.added, result.total) == (10 + 27, 67)
    hole = pd.to_datetime(full["time"].iloc[[40, 44]], unit="s", utc=True).dt.floor("h")
    assert result.gaps == [tuple(hole)]
    [entry] = store.funding_entries()
    assert (entry.coin, entry.rows, len(entry.gaps)) == ("BTC", 67, 1)


def _write_json(text: str):
    def write(path: Path) -> Path:
        path = path.with_suffix(".json")
        path.write_text(text)
        return path
    return write


def _write_bytes(name: str, data: bytes):
    def write(path: Path) -> Path:
        path = path.with_name(name)
        path.write_bytes(data)
        return path
    return write


def _write_frame(make):
    return lambda path: write_csv(make(hourly_funding(48, start="2023-06-03")), path.with_suffix(".csv"))


REFUSALS = {
    "coin column names another coin": (
        _write_frame(lambda d: d.assign(coin=["BTC"] * 2 + ["ETH"] + ["BTC"] * 45)), "row 3: coin 'ETH' is not BTC"),
    "NaN rate": (_write_frame(lambda d: corrupt(d, 6, funding_rate=np.nan)), "row 7: NaN funding_rate"),
    "rate is text": (_write_frame(lambda d: corrupt(d, 3, funding_rate="high")), "row 4: funding_rate 'high' is not"),
    "duplicate hour": (  # 20 minutes apart, in the same hour
        _write_frame(lambda d: corrupt(d, 10, time=d.loc[9, "time"] + 1200)), "row 11: duplicate timestamp"),
    "unsorted": (
        _write_frame(lambda d: d.iloc[[0, 2, 1, *range(3, len(d))]]), "row 3: timestamp earlier than the row before"),
    "unparseable time": (_write_frame(lambda d: corrupt(d, 4, time="soon")), "row 5: unparseable timestamp 'soon'"),
    "no rate column": (_write_frame(lambda d: d.drop(columns="funding_rate")), "missing column funding_rate"),
    "header only": (_write_frame(lambda d: d.iloc[:0]), "no rows"),
    "empty file": (_write_bytes("empty.csv", b""), "empty file"),
    "empty JSON list": (_write_json("[]"), "no rows"),
    "JSON object": (_write_json('{"response": []}'), "expected a JSON list of row objects"),
    "broken JSON": (_write_json('[{"time": 1'), "not readable JSON"),
    "corrupt parquet": (_write_bytes("f.parquet", b"PAR1 not really parquet"), "not a readable Parquet file"),
    "unsupported suffix": (_write_bytes("f.xlsx", b"PK"), "unsupported file type '.xlsx'"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusal_names_file_row_and_problem_and_leaves_the_store(case: str, tmp_path: Path) -> None:
    store = MarketStore(tmp_path / "market")
    import_funding_file(store, write_csv(hourly_funding(48), tmp_path / "good.csv"), "BTC")
    before = store.funding_path("BTC").read_bytes()
    write_bad, expected = REFUSALS[case]
    path = write_bad(tmp_path / "bad")
    with pytest.raises(MarketDataError) as err:
        import_funding_file(store, path, "BTC")
    message = str(err.value)
    assert message.startswith(f"{path}: ") and expected in message and "\n" not in message
    assert store.funding_path("BTC").read_bytes() == before
    assert [p.name for p in store.funding_path("BTC").parent.iterdir()] == ["BTC.parquet"]  # no temp file left


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MarketDataError, match="no such file"):
        read_funding_file(tmp_path / "nope.json", "BTC")


def test_real_funding_parquet_imports_with_its_eight_hourly_start(shared_data: Path, tmp_path: Path) -> None:
    store = MarketStore(tmp_path / "market")
    result = import_funding_file(store, shared_data / "funding-1h" / "BTC.parquet", "BTC")
    assert result.added == result.total == 5047
    assert len(result.gaps) == 83  # 81 seven-hour gaps until 2023-06-08, then 2 single missing hours
    assert import_funding_file(store, shared_data / "funding-1h" / "BTC.parquet", "BTC").added == 0


# ---------------------------------------------------------------- the backtest charges what was imported

def flat_candles(n: int, start: str = "2023-06-01") -> pd.DataFrame:
    """Price 100 throughout: any change in equity is funding."""
    return pd.DataFrame({
        "timestamp": pd.date_range(start, periods=n, freq="1h", tz="UTC"),
        **{col: np.full(n, 100.0) for col in ("open", "high", "low", "close")},
        "volume": np.ones(n),
    })


def hold_long(funding: np.ndarray, entry_bar: int) -> np.ndarray:
    """Metrics of a 1x long bought at close `entry_bar` and held to the last bar, no fees or slippage."""
    n = funding.shape[0]
    price = np.full(n, 100.0)
    metrics = np.full((1, N_METRICS), np.nan)
    simulate_1d_nb(np.ones(n), price, price, price, price, funding, np.array([entry_bar, n - 1], np.int64),
                   0.0, 0.0, 0.0, 0.0, 8760.0, metrics, np.empty(0))
    return metrics[0]


def test_backtest_charges_the_imported_rates(tmp_path: Path) -> None:
    store = MarketStore(tmp_path / "market")
    store.merge_candles("BTC", "1h", flat_candles(48), source="test")
    # Funding paid at 10:00 .. 33:00, each for the hour before it: bars 9..32 (open 09:00 .. 32:00) pay it; the
    # other 24 bars fall back to the assumption.
    import_funding_file(store, write_csv(hourly_funding(24, start="2023-06-01 10:00"), tmp_path / "f.csv"), "BTC")
    costs = CostConfig()
    [coin] = load_market_data(store, ("BTC",), "1h", costs).coins
    np.testing.assert_array_equal(coin.funding[9:33], RATE)
    np.testing.assert_array_equal(np.r_[coin.funding[:9], coin.funding[33:]], costs.assumed_funding_rate)
    assert coin.funding_observed_share == 0.5

    # A long bought at close 8 and held over bars 9..32 (the funding array the evolution's kernels get, cut
    # after bar 32) pays exactly the 24 imported hours on a notional of 1: equity 1 - 24 * RATE.
    imported = hold_long(kernel_market(coin, "1h").funding[:33], entry_bar=8)
    assert imported[M["funding_paid"]] == pytest.approx(24 * RATE, rel=1e-12)
    assert imported[M["total_return"]] == pytest.approx(-24 * RATE, rel=1e-9)
    assumed = hold_long(np.full(33, costs.assumed_funding_rate), entry_bar=8)
    assert assumed[M["total_return"]] == pytest.approx(-24 * costs.assumed_funding_rate, rel=1e-9)
    assert imported[M["funding_paid"]] == pytest.approx(40 * assumed[M["funding_paid"]], rel=1e-9)


def test_funding_outside_every_bar_is_charged_to_none(tmp_path: Path) -> None:
    """Hours after the last bar, or inside a gap of the candles, belong to no bar: the bar before must not
    pay them; a 4h bar pays its four hours."""
    store = MarketStore(tmp_path / "market")
    candles = flat_candles(12)
    store.merge_candles("BTC", "1h", candles.drop(index=[5, 6]), source="test")  # bars 05:00 and 06:00 missing
    import_funding_file(store, write_csv(hourly_funding(40, start="2023-06-01 01:00"), tmp_path / "f.csv"), "BTC")
    [coin] = load_market_data(store, ("BTC",), "1h", CostConfig()).coins
    np.testing.assert_array_equal(coin.funding, RATE)  # one hour each: not the gap's, not the 29 hours after
    store_4h = MarketStore(tmp_path / "market-4h")
    four = flat_candles(3).assign(timestamp=pd.date_range("2023-06-01", periods=3, freq="4h", tz="UTC"))
    store_4h.merge_candles("BTC", "4h", four, source="test")
    import_funding_file(store_4h, tmp_path / "f.csv", "BTC")
    [coin] = load_market_data(store_4h, ("BTC",), "4h", CostConfig()).coins
    np.testing.assert_allclose(coin.funding, 4 * RATE)
