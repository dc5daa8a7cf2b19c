"""Each causal indicator against an independent reference (pandas rolling/ewm or a slow python loop)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kernels import indicators as ind
from kernels import rolling_extremes as ext

N = 300


def _series(seed: int = 0, n: int = N) -> tuple[np.ndarray, ...]:
    """A random-walk OHLCV with prices far from zero (cancellation-prone) and some zero-volume bars."""
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.005, n))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.005, n))
    volume = rng.uniform(0.0, 100.0, n) * (rng.uniform(size=n) > 0.1)
    return open_, high, low, close, volume


def _run(fn, *args, n_out: int = 1, n: int = N):
    outs = [np.full(n, -123.0) for _ in range(n_out)]  # sentinel: every bar must be written
    fn(*args, *outs)
    return outs[0] if n_out == 1 else outs


def _close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-9, atol: float = 1e-9) -> None:
    np.testing.assert_allclose(actual, np.asarray(expected, dtype=float), rtol=rtol, atol=atol, equal_nan=True)


WINDOWS = [1, 2, 14, 50, N, N + 7]  # N + 7: longer than the data -> all NaN


@pytest.mark.parametrize("window", WINDOWS)
def test_ema_matches_pandas_ewm(window):
    close = _series()[3]
    expected = pd.Series(close).ewm(span=window, adjust=False, min_periods=window).mean()
    _close(_run(ind.ema_1d_nb, close, window), expected, rtol=1e-12)


@pytest.mark.parametrize("window", WINDOWS)
def test_sma_matches_pandas_rolling_mean(window):
    close = _series()[3]
    _close(_run(ind.sma_1d_nb, close, window), pd.Series(close).rolling(window).mean(), rtol=1e-12)


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("ddof", [0, 1])
def test_rolling_std_matches_pandas(window, ddof):
    close = _series()[3]
    expected = pd.Series(close).rolling(window).std(ddof=ddof)
    if window - ddof < 1:
        expected[:] = np.nan
    _close(_run(ind.rolling_std_1d_nb, close, window, ddof), expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("window", [2, 20, N + 1])
def test_zscore_matches_pandas(window):
    close = _series()[3]
    s = pd.Series(close).rolling(window)
    _close(_run(ind.zscore_1d_nb, close, window, 1), (close - s.mean()) / s.std(ddof=1), rtol=1e-6)


def test_zscore_is_nan_on_a_flat_window():
    x = np.r_[np.ones(10), 2.0]
    out = _run(ind.zscore_1d_nb, x, 5, 0, n=11)
    assert np.isnan(out[:10]).all() and out[10] > 0


@pytest.mark.parametrize("window", [1, 24, N - 1, N + 3])
def test_realized_vol_from_squares_is_bit_identical(window):
    close = _series()[3]
    squares = _run(ind.squared_log_returns_1d_nb, close)
    assert squares[0] == 0.0
    np.testing.assert_array_equal(_run(ind.realized_vol_from_squares_1d_nb, squares, window),
                                  _run(ind.realized_vol_1d_nb, close, window))


@pytest.mark.parametrize("window", [1, 24, N - 1, N + 3])
def test_realized_vol_matches_pandas(window):
    close = _series()[3]
    r2 = pd.Series(np.log(close)).diff() ** 2
    _close(_run(ind.realized_vol_1d_nb, close, window), np.sqrt(r2.rolling(window).mean()), rtol=1e-8)


@pytest.mark.parametrize("window", WINDOWS)
def test_rolling_max_min_matches_pandas(window):
    _, high, low, _, _ = _series()
    out_max, out_min = _run(ext.rolling_max_min_1d_nb, high, low, window, n_out=2)
    _close(out_max, pd.Series(high).rolling(window).max(), rtol=0)
    _close(out_min, pd.Series(low).rolling(window).min(), rtol=0)


def test_rolling_max_handles_ties_and_monotone_runs():
    x = np.array([3.0, 3.0, 2.0, 2.0, 5.0, 5.0, 1.0, 0.0, 0.0, 4.0])
    out_max, out_min = _run(ext.rolling_max_min_1d_nb, x, x, 3, n_out=2, n=10)
    _close(out_max, pd.Series(x).rolling(3).max(), rtol=0)
    _close(out_min, pd.Series(x).rolling(3).min(), rtol=0)


@pytest.mark.parametrize("window", [1, 2, 3, 4, 7, 8, 14, 50, 127, N + 7])
def test_extremes_table_gives_rolling_max_min_and_midpoint(window):
    _, high, low, _, _ = _series()
    table_max, table_min = ext.extremes_table_nb(high, low, ext.extremes_levels_nb(window))
    out_max, out_min = _run(ext.table_max_min_1d_nb, table_max, table_min, window, n_out=2)
    expected_max, expected_min = pd.Series(high).rolling(window).max(), pd.Series(low).rolling(window).min()
    _close(out_max, expected_max, rtol=0, atol=0)  # max is exact: same values as any other method
    _close(out_min, expected_min, rtol=0, atol=0)
    _close(_run(ext.table_midpoint_1d_nb, table_max, table_min, window), (expected_max + expected_min) / 2,
           rtol=0, atol=0)


def test_extremes_table_rows_and_limits():
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    table_max, table_min = ext.extremes_table_nb(x, x, 3)
    np.testing.assert_array_equal(table_max[2], [3, 3, 4, 4, 5, 9, 9, 9])  # 4-bar spans (fewer at the start)
    np.testing.assert_array_equal(table_min[1], [3, 1, 1, 1, 1, 5, 2, 2])
    assert [ext.extremes_levels_nb(w) for w in (1, 2, 3, 4, 7, 8, 100)] == [1, 2, 2, 3, 3, 4, 7]
    _run(ext.table_max_min_1d_nb, table_max, table_min, 7, n_out=2, n=8)
    with pytest.raises(ValueError, match="levels"):
        _run(ext.table_max_min_1d_nb, table_max, table_min, 8, n_out=2, n=8)


def _rsi_loop(close: np.ndarray, window: int) -> np.ndarray:
    out = np.full(len(close), np.nan)
    change = np.diff(close)
    if len(change) < window:
        return out
    gain = np.mean(np.maximum(change[:window], 0))
    loss = np.mean(np.maximum(-change[:window], 0))
    for t in range(window, len(close)):
        if t > window:
            gain = (gain * (window - 1) + max(change[t - 1], 0)) / window
            loss = (loss * (window - 1) + max(-change[t - 1], 0)) / window
        out[t] = 50.0 if gain + loss == 0 else 100.0 - 100.0 / (1.0 + gain / loss) if loss > 0 else 100.0
    return out


@pytest.mark.parametrize("window", [1, 2, 14, N - 1, N, N + 4])
def test_rsi_matches_wilder_loop(window):
    close = _series()[3]
    _close(_run(ind.rsi_1d_nb, close, window), _rsi_loop(close, window), rtol=1e-9)


def test_rsi_edge_values():
    up = np.arange(1.0, 30.0)
    assert _run(ind.rsi_1d_nb, up, 14, n=29)[-1] == 100.0
    assert _run(ind.rsi_1d_nb, np.ones(29), 14, n=29)[-1] == 50.0
    assert _run(ind.rsi_1d_nb, up[::-1].copy(), 14, n=29)[-1] == 0.0


@pytest.mark.parametrize("k_window", [1, 14, 30, N, N + 1])
def test_percent_k_of_the_rolling_range_matches_pandas(k_window):
    """The stochastic family's %K: 100 (close - lowest low) / (highest high - lowest low)."""
    _, high, low, close, _ = _series()
    hh = pd.Series(high).rolling(k_window).max()
    ll = pd.Series(low).rolling(k_window).min()
    highest, lowest = _run(ext.rolling_max_min_1d_nb, high, low, k_window, n_out=2)
    _close(_run(ext.percent_k_1d_nb, highest, lowest, close), 100 * (close - ll) / (hh - ll), rtol=1e-12)


def test_percent_k_of_a_flat_range_is_50():
    flat = np.ones(20)
    assert (_run(ext.percent_k_1d_nb, flat, flat, flat, n=20) == 50.0).all()


def _vwap_loop(price, volume, window):
    vwap = np.full(len(price), np.nan)
    dev = np.full(len(price), np.nan)
    for t in range(window - 1, len(price)):
        p, v = price[t - window + 1:t + 1], volume[t - window + 1:t + 1]
        if v.sum() > 0:
            vwap[t] = np.average(p, weights=v)
            dev[t] = np.sqrt(np.average((p - vwap[t]) ** 2, weights=v))
    return vwap, dev


def _vwap_from_sums(price, volume, window):
    """(vwap, dev) from vwap_sums_1d_nb as its docstring derives them: vwap = price - gap / W,
    dev = sqrt(spread) / W (NaN while the window has no volume)."""
    weight, gap, spread = _run(ind.vwap_sums_1d_nb, price, volume, window, n_out=3, n=len(price))
    with np.errstate(divide="ignore", invalid="ignore"):
        return price - gap / weight, np.sqrt(np.maximum(spread, 0.0)) / weight


@pytest.mark.parametrize("window", [1, 2, 10, 200, N + 1])
def test_vwap_sums_are_the_scaled_statistics(window):
    """weight = sum v, gap = weight (price - vwap), spread = weight^2 var: the division-free form, against a
    two-pass weighted mean and deviation."""
    _, _, _, close, volume = _series(n=N)
    weight, gap, spread = _run(ind.vwap_sums_1d_nb, close, volume, window, n_out=3)
    vwap, dev = _vwap_loop(close, volume, window)
    assert np.array_equal(weight == 0.0, np.isnan(vwap)) and np.array_equal(np.isnan(gap), np.isnan(vwap))
    _close(close - gap / weight, vwap, rtol=1e-12)
    # a (near-)zero variance is a difference of sums of order price^2: its root keeps ~1e-8 * price of rounding
    _close(np.sqrt(np.maximum(spread, 0.0)) / weight, dev, rtol=1e-9, atol=1e-8 * close.max())


def test_vwap_dev_is_accurate_on_real_prices(shared_data):
    """Re-anchored sums on 28k real bars: within 1e-9 relative of an extended-precision two-pass sum."""
    candles = pd.read_parquet(shared_data / "candles-1h" / "BTC.parquet")
    price, volume = candles["close"].to_numpy(), candles["volume"].to_numpy()
    bars = np.random.default_rng(0).integers(200, len(price), 300)
    for window in (10, 37, 200):
        vwap, dev = _vwap_from_sums(price, volume, window)
        for t in bars:
            p = price[t - window + 1:t + 1].astype(np.longdouble)
            v = volume[t - window + 1:t + 1].astype(np.longdouble)
            mean = (v * p).sum() / v.sum()
            assert abs(vwap[t] / mean - 1) < 1e-12
            assert abs(dev[t] / np.sqrt((v * (p - mean) ** 2).sum() / v.sum()) - 1) < 1e-9


def test_vwap_is_nan_while_the_window_has_no_volume():
    price = np.arange(1.0, 11.0)
    volume = np.array([1.0, 0, 0, 0, 0, 2.0, 0, 0, 0, 0])
    vwap, _ = _vwap_from_sums(price, volume, 3)
    assert np.isnan(vwap[[3, 4, 8, 9]]).all() and vwap[5] == 6.0 and vwap[7] == 6.0


def _nw_loop(x, h, kernel):
    lags = np.arange(0, int(np.ceil(3 * h)) + 1 if kernel == ind.KERNEL_GAUSSIAN else max(int(np.ceil(h)), 1))
    u = lags / h
    w = np.exp(-u ** 2 / 2) if kernel == ind.KERNEL_GAUSSIAN else 1 - u ** 2
    out = np.full(len(x), np.nan)
    for t in range(len(lags) - 1, len(x)):
        past = x[t - lags]
        out[t] = np.sum(w * past) / np.sum(w)
    return out


@pytest.mark.parametrize("kernel", [ind.KERNEL_GAUSSIAN, ind.KERNEL_EPANECHNIKOV])
@pytest.mark.parametrize("bandwidth", [0.5, 1.0, 5.0, 17.3, 60.0, 200.0])
def test_nadaraya_watson_matches_loop(kernel, bandwidth):
    close = _series()[3]
    _close(_run(ind.nadaraya_watson_1d_nb, close, bandwidth, kernel), _nw_loop(close, bandwidth, kernel), rtol=1e-12)


def _nw_four_sums(x, h, kernel):
    """The scalar summation order nadaraya_watson_1d_nb promises: four partial sums over every fourth
    weight, oldest first, the size % 4 tail in the first, added as (s0 + s1) + (s2 + s3)."""
    w = ind.nadaraya_watson_weights_nb(h, kernel)[::-1]
    size, whole = len(w), len(w) - len(w) % 4
    out = np.full(len(x), np.nan)
    for t in range(size - 1, len(x)):
        past, s = x[t - size + 1:t + 1], [0.0, 0.0, 0.0, 0.0]
        for j in range(size):
            s[j % 4 if j < whole else 0] += w[j] * past[j]
        out[t] = (s[0] + s[1]) + (s[2] + s[3])
    return out


@pytest.mark.parametrize("kernel,bandwidth", [(ind.KERNEL_GAUSSIAN, 5.3), (ind.KERNEL_GAUSSIAN, 60.0),
                                              (ind.KERNEL_EPANECHNIKOV, 7.0), (ind.KERNEL_EPANECHNIKOV, 33.3)])
def test_nadaraya_watson_blocks_keep_the_scalar_order_to_the_bit(kernel, bandwidth):
    """Bars are summed NW_BLOCK at a time and weights four per pass: still the same adds, in the same order."""
    n = 2 * ind.NW_BLOCK + 77
    close = _series(seed=3, n=n)[3]
    np.testing.assert_array_equal(_run(ind.nadaraya_watson_1d_nb, close, bandwidth, kernel, n=n),
                                  _nw_four_sums(close, bandwidth, kernel))


def test_nadaraya_watson_rejects_bad_arguments():
    with pytest.raises(ValueError):
        ind.nadaraya_watson_weights_nb(0.0, ind.KERNEL_GAUSSIAN)
    with pytest.raises(ValueError):
        ind.nadaraya_watson_weights_nb(5.0, 7)


@pytest.mark.parametrize("fn,args", [(ind.ema_1d_nb, ()), (ind.sma_1d_nb, ()), (ind.rsi_1d_nb, ())])
def test_window_below_one_is_rejected(fn, args):
    with pytest.raises(ValueError):
        _run(fn, _series()[3], 0, *args)


def test_empty_input_is_fine():
    empty = np.empty(0)
    for fn in (ind.ema_1d_nb, ind.sma_1d_nb, ind.rsi_1d_nb, ind.realized_vol_1d_nb):
        fn(empty, 5, np.empty(0))


def test_real_btc_long_window_std_is_stable(shared_data):
    """Welford updates over 28k real bars stay within 1e-6 relative of a fresh two-pass std."""
    close = pd.read_parquet(shared_data / "candles-1h" / "BTC.parquet")["close"].to_numpy()
    out = _run(ind.rolling_std_1d_nb, close, 200, 0, n=len(close))
    last = close[-200:]
    assert abs(out[-1] / last.std() - 1) < 1e-6
