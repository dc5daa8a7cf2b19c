"""The market store: validation of every bad-input case, gap reports, atomic append-only merges."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from market_files import corrupt, write_csv

from tasks.market.file_import import import_file, read_ohlcv_file
from tasks.market.store import MarketDataError, MarketStore, find_gaps


def bars(n: int = 48, start: str = "2023-01-01", freq: str = "1h") -> pd.DataFrame:
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    return pd.DataFrame({
        "timestamp": pd.date_range(start, periods=n, freq=freq, tz="UTC"),
        "open": open_,
        "high": np.maximum(open_, close) * 1.002,
        "low": np.minimum(open_, close) * 0.998,
        "close": close,
        "volume": rng.uniform(1, 10, n),
    })




BAD_CASES = {
    "missing column": (lambda d: d.drop(columns=["volume"]), "missing column(s) volume"),
    "NaN price": (lambda d: corrupt(d, 5, close=np.nan), "row 6: NaN or infinite price"),
    "non-positive price": (lambda d: corrupt(d, 7, low=0.0), "row 8: non-positive price"),
    "high below low": (lambda d: corrupt(d, 9, high=1.0, low=2.0, open=1.5, close=1.5), "row 10: high < low"),
    "open outside range": (lambda d: corrupt(d, 11, open=1e9), "row 12: open outside [low, high]"),
    "close outside range": (lambda d: corrupt(d, 12, close=1e-3), "row 13: close outside [low, high]"),
    "duplicate timestamp": (
        lambda d: corrupt(d, 20, timestamp=d.loc[19, "timestamp"]), "row 21: duplicate timestamp"),
    "unsorted timestamps": (
        lambda d: d.iloc[[0, 1, 3, 2, *range(4, len(d))]].reset_index(drop=True), "row 4: timestamp earlier"),
    "mixed intervals": (
        lambda d: corrupt(d, 30, timestamp=d.loc[30, "timestamp"] + pd.Timedelta(minutes=30)),
        "row 31: timestamp not on the"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_is_rejected_with_file_row_and_problem(case: str, tmp_path: Path) -> None:
    make_bad, expected = BAD_CASES[case]
    path = write_csv(make_bad(bars()), tmp_path / "bad.csv")
    store = MarketStore(tmp_path / "market")
    with pytest.raises(MarketDataError) as err:
        import_file(store, path, "BTC", "1h")
    message = str(err.value)
    assert str(path) in message and expected in message
    assert "\n" not in message
    assert not store.candles_path("BTC", "1h").exists()


def test_failed_import_leaves_the_store_byte_for_byte(tmp_path: Path) -> None:
    store = MarketStore(tmp_path / "market")
    import_file(store, write_csv(bars(48), tmp_path / "good.csv"), "BTC", "1h")
    before = store.candles_path("BTC", "1h").read_bytes()
    later = corrupt(bars(96), 80, high=1.0, low=2.0)
    with pytest.raises(MarketDataError):
        import_file(store, write_csv(later, tmp_path / "later.csv"), "BTC", "1h")
    assert store.candles_path("BTC", "1h").read_bytes() == before
    assert not list(store.root.glob(".*.tmp"))


def test_merge_appends_only_new_bars_and_reports_gaps(tmp_path: Path) -> None:
    store = MarketStore(tmp_path / "market")
    full = bars(72)
    first = store.merge_candles("BTC", "1h", full.iloc[:30], source="a")
    assert (first.added, first.total, first.gaps) == (30, 30, [])
    # Overlap of 10 bars plus a 5-bar hole: only the new bars arrive, and the hole is reported.
    second = store.merge_candles("BTC", "1h", pd.concat([full.iloc[20:40], full.iloc[45:]]), source="b")
    assert second.added == 10 + 27 and second.total == 67
    assert second.gaps == [(full.loc[40, "timestamp"], full.loc[44, "timestamp"])]
    stored = store.read_candles("BTC", "1h")
    assert stored["timestamp"].is_monotonic_increasing and not stored["timestamp"].duplicated().any()
    assert str(stored["timestamp"].dtype) == "datetime64[ms, UTC]"
    [entry] = store.entries()
    assert (entry.coin, entry.interval, entry.rows, len(entry.gaps)) == ("BTC", "1h", 67, 1)


def test_binance_kline_csv_without_header(tmp_path: Path) -> None:
    df = bars(24)
    ms = (df["timestamp"].astype("datetime64[ms, UTC]").astype("int64")).to_numpy()
    lines = [
        f"{t},{o},{h},{l},{c},{v},{t + 3_599_999},0,10,0,0,0"
        for t, o, h, l, c, v in zip(ms, df.open, df.high, df.low, df.close, df.volume)
    ]
    path = tmp_path / "BTCUSDT-1h-2023-01.csv"
    path.write_text("\n".join(lines) + "\n")
    read = read_ohlcv_file(path)
    pd.testing.assert_series_equal(read["timestamp"].reset_index(drop=True),
                                   df["timestamp"].astype("datetime64[ms, UTC]"),
                                   check_names=False, check_dtype=False)
    np.testing.assert_allclose(read["close"].to_numpy(float), df["close"].to_numpy())


def test_generic_csv_with_date_strings(tmp_path: Path) -> None:
    df = bars(10).rename(columns={"timestamp": "Date", "close": "Close"})
    df["Date"] = df["Date"].dt.strftime("%Y-%m-%d %H:%M:%S")
    store = MarketStore(tmp_path / "market")
    result = import_file(store, write_csv(df, tmp_path / "x.csv"), "ETH", "1h")
    assert result.added == 10


def test_unreadable_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(MarketDataError, match="no such file"):
        read_ohlcv_file(tmp_path / "nope.csv")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(MarketDataError, match="unsupported file type"):
        read_ohlcv_file(tmp_path / "x.json")
    (tmp_path / "notime.csv").write_text("open,high,low,close,volume\n1,1,1,1,1\n")
    with pytest.raises(MarketDataError, match="missing column timestamp"):
        read_ohlcv_file(tmp_path / "notime.csv")


def test_find_gaps_on_regular_series_is_empty() -> None:
    assert find_gaps(bars(100)["timestamp"], pd.Timedelta(hours=1)) == []


def test_real_binance_parquet_imports_clean(shared_data: Path, tmp_path: Path) -> None:
    store = MarketStore(tmp_path / "market")
    result = import_file(store, shared_data / "candles-1h" / "ETH.parquet", "ETH", "1h")
    assert result.added == result.total == 27_952 and result.gaps == []
    again = import_file(store, shared_data / "candles-1h" / "ETH.parquet", "ETH", "1h")
    assert again.added == 0
