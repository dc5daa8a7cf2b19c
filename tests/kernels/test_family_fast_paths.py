"""The indicator families' fused kernels against straightforward references, and their bank variants.

Each reference follows its module docstring with pandas indicators and a plain loop, the way the
families were first written; the kernels reorder floating-point work (running sums, no divisions), so a
threshold may flip on a bar where the two sides are within rounding of each other: a tiny fraction.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from market_fixtures import real_market, synthetic_market

from kernels.families import FAMILY_NAMES, KERNELS, decode_params
from kernels.families.donchian_breakout import TABLE_LEVELS as DONCHIAN_LEVELS
from kernels.families.donchian_breakout import donchian_breakout_from_table_1d_nb
from kernels.families.ichimoku import TABLE_LEVELS as ICHIMOKU_LEVELS
from kernels.families.ichimoku import ichimoku_from_table_1d_nb
from kernels.families.stochastic import TABLE_LEVELS as STOCHASTIC_LEVELS
from kernels.families.stochastic import stochastic_from_table_1d_nb
from kernels.families.vol_scaling import vol_scaling_from_bank_1d_nb
from kernels.genome import N_GENES
from kernels.indicators import squared_log_returns_1d_nb
from kernels.rolling_extremes import extremes_table_nb

GENOMES = 12
MAX_FLIPPED = 2e-3  # fraction of bars where a rounding-level tie may go the other way


def _rolling_mid(high: pd.Series, low: pd.Series, window: int) -> pd.Series:
    return (high.rolling(window).max() + low.rolling(window).min()) / 2


def _wilder(values: np.ndarray, window: int, first: int) -> np.ndarray:
    """Wilder's smoothing of values[first:], seeded with the mean of its first `window` values."""
    out = np.full(len(values), np.nan)
    if len(values) - first < window:
        return out
    value = values[first:first + window].mean()
    out[first + window - 1] = value
    for t in range(first + window, len(values)):
        value = (value * (window - 1) + values[t]) / window
        out[t] = value
    return out


def _donchian(p, o, h, lo, c, v, f):
    n, side, out = p["channel"], 0.0, np.zeros(len(c))
    upper = pd.Series(h).rolling(n).max().shift(1).to_numpy()
    lower = pd.Series(lo).rolling(n).min().shift(1).to_numpy()
    mean_volume = pd.Series(v).rolling(n).mean().shift(1).to_numpy()
    for t in range(n, len(c)):
        confirmed = v[t] > p["volume_multiple"] * mean_volume[t]
        mid = (upper[t] + lower[t]) / 2
        if confirmed and c[t] > upper[t] * (1 + p["threshold"]):
            side = 1.0
        elif confirmed and c[t] < lower[t] * (1 - p["threshold"]):
            side = -1.0
        elif (side > 0 and c[t] < mid) or (side < 0 and c[t] > mid):
            side = 0.0
        out[t] = side
    return out


def _rsi(p, o, h, lo, c, v, f):
    change = np.r_[np.nan, np.diff(c)]
    gain, loss = _wilder(np.maximum(change, 0), p["period"], 1), _wilder(np.maximum(-change, 0), p["period"], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rsi = np.where(gain + loss > 0, 100 * gain / (gain + loss), 50.0)
    ema = pd.Series(c).ewm(span=p["trend_window"], adjust=False, min_periods=p["trend_window"]).mean().to_numpy()
    side, out = 0.0, np.zeros(len(c))
    for t in range(p["period"], len(c)):
        if p["mode"] == 0:
            if rsi[t] < p["oversold"]:
                side = 1.0
            elif rsi[t] > p["overbought"]:
                side = -1.0
            elif (side > 0 and rsi[t] >= 50) or (side < 0 and rsi[t] <= 50):
                side = 0.0
        elif np.isnan(ema[t]):
            side = 0.0
        else:
            trend = np.sign(c[t] - ema[t])
            if side * trend < 0:
                side = 0.0
            if trend > 0:
                side = 1.0 if rsi[t] < p["oversold"] else (0.0 if rsi[t] > p["overbought"] else side)
            elif trend < 0:
                side = -1.0 if rsi[t] > p["overbought"] else (0.0 if rsi[t] < p["oversold"] else side)
        out[t] = side
    return out


def _stochastic(p, o, h, lo, c, v, f):
    hh, ll = pd.Series(h).rolling(p["k_window"]).max(), pd.Series(lo).rolling(p["k_window"]).min()
    k = (100 * (c - ll) / (hh - ll)).where(hh > ll, 50.0).where(hh.notna())
    d = k.rolling(p["d_window"]).mean().to_numpy()
    k = k.to_numpy()
    side, out = 0.0, np.zeros(len(c))
    for t in range(1, len(c)):
        if np.isnan(d[t]) or (p["mode"] == 1 and np.isnan(d[t - 1])):
            side = 0.0
        elif p["mode"] == 0:
            side = 1.0 if k[t] > d[t] else (-1.0 if k[t] < d[t] else side)
        elif k[t - 1] <= d[t - 1] and k[t] > d[t] and k[t - 1] < p["oversold"]:
            side = 1.0
        elif k[t - 1] >= d[t - 1] and k[t] < d[t] and k[t - 1] > p["overbought"]:
            side = -1.0
        elif (side > 0 and k[t] > p["overbought"]) or (side < 0 and k[t] < p["oversold"]):
            side = 0.0
        out[t] = side
    return out


def _sma_trend(p, o, h, lo, c, v, f):
    gap = (pd.Series(c).rolling(p["fast_window"]).mean() / pd.Series(c).rolling(p["slow_window"]).mean() - 1).to_numpy()
    return np.where(gap > p["strength"], 1.0, np.where(gap < -p["strength"], -1.0, 0.0))


def _atr_breakout(p, o, h, lo, c, v, f):
    tr = np.r_[h[0] - lo[0], np.maximum.reduce([h[1:] - lo[1:], np.abs(h[1:] - c[:-1]), np.abs(lo[1:] - c[:-1])])]
    atr = _wilder(tr, p["atr_window"], 0)
    side, extreme, out = 0.0, 0.0, np.zeros(len(c))
    for t in range(p["atr_window"], len(c)):
        if side > 0:
            extreme = max(extreme, c[t])
            side = 0.0 if c[t] < extreme - p["trail"] * atr[t] else side
        elif side < 0:
            extreme = min(extreme, c[t])
            side = 0.0 if c[t] > extreme + p["trail"] * atr[t] else side
        move = c[t] - c[t - 1]
        if move > p["breakout"] * atr[t - 1] and side <= 0:
            side, extreme = 1.0, c[t]
        elif -move > p["breakout"] * atr[t - 1] and side >= 0:
            side, extreme = -1.0, c[t]
        out[t] = side
    return out


def _ichimoku(p, o, h, lo, c, v, f):
    high, low, lag = pd.Series(h), pd.Series(lo), p["kijun"]
    tenkan, kijun = _rolling_mid(high, low, p["tenkan"]), _rolling_mid(high, low, p["kijun"])
    span_a, span_b = ((tenkan + kijun) / 2).shift(lag), _rolling_mid(high, low, p["senkou_b"]).shift(lag)
    tk = np.sign(tenkan - kijun).to_numpy()
    top, bottom = np.maximum(span_a, span_b).to_numpy(), np.minimum(span_a, span_b).to_numpy()
    cloud = np.where(c > top, 1.0, np.where(c < bottom, -1.0, 0.0))
    side = {0: tk, 1: cloud, 2: np.where(tk == cloud, tk, 0.0)}[p["mode"]]
    return np.where(np.isnan(tk) | np.isnan(top), 0.0, side)


def _vwap_reversion(p, o, h, lo, c, v, f):
    window, z_entry = p["window"], p["z_entry"]
    z_exit = p["exit_fraction"] * z_entry
    side, out = 0.0, np.zeros(len(c))
    for t in range(len(c)):
        w, x = v[max(t - window + 1, 0):t + 1], c[max(t - window + 1, 0):t + 1]
        if t < window - 1 or w.sum() <= 0:
            side = 0.0
        else:
            vwap = np.average(x, weights=w)
            dev = np.sqrt(np.average((x - vwap) ** 2, weights=w))
            if not dev > 0:
                side = 0.0
            else:
                z = (c[t] - vwap) / dev
                if z < -z_entry:
                    side = 1.0
                elif z > z_entry:
                    side = -1.0
                elif (side > 0 and z >= -z_exit) or (side < 0 and z <= z_exit):
                    side = 0.0
        out[t] = side
    return out


def _vol_scaling(p, o, h, lo, c, v, f):
    vol = np.sqrt((pd.Series(np.log(c)).diff() ** 2).rolling(p["vol_window"]).mean()).to_numpy()
    trend = np.sign(c - pd.Series(c).shift(p["trend_window"]).to_numpy())
    with np.errstate(divide="ignore"):
        out = trend * np.minimum(p["target_vol"] / vol, 1.0)
    return np.where(np.isnan(out), 0.0, out)


def _funding_carry(p, o, h, lo, c, v, f):
    lowest = pd.Series(f).rolling(p["persistence"]).min().to_numpy()
    highest = pd.Series(f).rolling(p["persistence"]).max().to_numpy()
    return np.where(lowest > p["threshold"], -1.0, np.where(highest < -p["threshold"], 1.0, 0.0))


def _bollinger(p, o, h, lo, c, v, f):
    rolling = pd.Series(c).rolling(p["window"])
    mid, half = rolling.mean(), p["width"] * rolling.std(ddof=0)
    percent_b = ((c - (mid - half)) / (2 * half)).where(half > 0).to_numpy()
    flip, side, out = (1.0 if p["mode"] == 0 else -1.0), 0.0, np.zeros(len(c))
    for t in range(len(c)):
        b = percent_b[t]
        if np.isnan(b):
            side = 0.0
        elif b > 1:
            side = flip
        elif b < 0:
            side = -flip
        elif (side * flip > 0 and b < 0.5) or (side * flip < 0 and b > 0.5):
            side = 0.0
        out[t] = side
    return out


def _nadaraya_watson(p, o, h, lo, c, v, f):
    lags = np.arange(int(np.ceil(3 * p["bandwidth"])) + 1 if p["kernel"] == 0 else max(int(np.ceil(p["bandwidth"])), 1))
    u = lags / p["bandwidth"]
    w = np.exp(-u ** 2 / 2) if p["kernel"] == 0 else 1 - u ** 2
    estimate = np.full(len(c), np.nan)
    for t in range(len(lags) - 1, len(c)):
        estimate[t] = np.sum(w * c[t - lags]) / np.sum(w)
    side, out = 0.0, np.zeros(len(c))
    for t in range(1, len(c)):
        if np.isnan(estimate[t - 1]):
            side = 0.0
        elif p["mode"] == 0:
            slope = estimate[t] / estimate[t - 1] - 1
            side = 1.0 if slope > p["slope_threshold"] else (-1.0 if slope < -p["slope_threshold"] else side)
        else:
            gap = c[t] / estimate[t] - 1
            side = 1.0 if gap < -p["band"] else (-1.0 if gap > p["band"] else (0.0 if side * gap > 0 else side))
        out[t] = side
    return out


REFERENCES = {"donchian_breakout": _donchian, "rsi_filter": _rsi, "stochastic": _stochastic,
              "sma_trend": _sma_trend, "atr_breakout": _atr_breakout, "ichimoku": _ichimoku,
              "vwap_reversion": _vwap_reversion, "vol_scaling": _vol_scaling, "funding_carry": _funding_carry,
              "bollinger": _bollinger, "nadaraya_watson": _nadaraya_watson}


@pytest.fixture(scope="module")
def market():
    return synthetic_market(1500, seed=11)


def _signal(family: int, genes: np.ndarray, market) -> np.ndarray:
    out = np.full(len(market.close), -7.0)  # sentinel: every bar must be written
    KERNELS[family](genes, *market[:6], out)
    return out


@pytest.mark.parametrize("name", list(REFERENCES))
def test_family_matches_its_straightforward_reference(name, market):
    family = FAMILY_NAMES.index(name)
    flipped = bars = 0
    for genes in np.random.default_rng(family).uniform(size=(GENOMES, N_GENES)):
        signal = _signal(family, genes, market)
        expected = REFERENCES[name](decode_params(family, genes), *market[:6])
        if name == "vol_scaling":  # a continuous size: same value to rounding
            np.testing.assert_allclose(signal, expected, rtol=1e-9, atol=1e-12)
        flipped += np.count_nonzero(signal != expected) if name != "vol_scaling" else 0
        bars += len(signal)
    assert flipped <= MAX_FLIPPED * bars


@pytest.mark.parametrize("name", ["bollinger", "stochastic", "sma_trend"])
def test_running_sums_do_not_drift_on_long_real_data(name, shared_data):
    """28k real bars: the re-anchored / entering-minus-leaving sums still match fresh pandas windows."""
    market = real_market(shared_data, "BTC")
    family = FAMILY_NAMES.index(name)
    flipped = bars = 0
    for genes in np.random.default_rng(family).uniform(size=(4, N_GENES)):
        signal = _signal(family, genes, market)
        flipped += np.count_nonzero(signal != REFERENCES[name](decode_params(family, genes), *market[:6]))
        bars += len(signal)
    assert flipped <= MAX_FLIPPED * bars


def _random_genomes(seed: int) -> np.ndarray:
    genes = np.random.default_rng(seed).uniform(size=(40, N_GENES))
    genes[:4, 4:] = [[0.0], [1.0], [0.5], [0.999]]  # the bounds' ends: shortest and longest windows
    return genes


@pytest.mark.parametrize("source", ["synthetic", "real"])
def test_extremes_table_variants_are_bit_identical(source, shared_data_or_none):
    market = synthetic_market(900, seed=5) if source == "synthetic" else shared_data_or_none
    _, high, low, close, volume, _ = market[:6]
    for name, levels, from_table in (("donchian_breakout", DONCHIAN_LEVELS, None),
                                     ("stochastic", STOCHASTIC_LEVELS, stochastic_from_table_1d_nb),
                                     ("ichimoku", ICHIMOKU_LEVELS, ichimoku_from_table_1d_nb)):
        table_max, table_min = extremes_table_nb(high, low, levels)
        family = FAMILY_NAMES.index(name)
        for genes in _random_genomes(family):
            out = np.full(len(close), -7.0)
            if from_table is None:
                donchian_breakout_from_table_1d_nb(genes, close, volume, table_max, table_min, out)
            else:
                from_table(genes, close, table_max, table_min, out)
            np.testing.assert_array_equal(out, _signal(family, genes, market), err_msg=name)


@pytest.mark.parametrize("source", ["synthetic", "real"])
def test_squares_bank_variant_is_bit_identical(source, shared_data_or_none):
    market = synthetic_market(900, seed=6) if source == "synthetic" else shared_data_or_none
    close = market.close
    squares = np.empty(len(close))
    squared_log_returns_1d_nb(close, squares)
    family = FAMILY_NAMES.index("vol_scaling")
    for genes in _random_genomes(family):
        out = np.full(len(close), -7.0)
        vol_scaling_from_bank_1d_nb(genes, close, squares, out)
        np.testing.assert_array_equal(out, _signal(family, genes, market))


@pytest.fixture
def shared_data_or_none(request):
    """The real market for the "real" cases (skipped without the data folder), else None."""
    if request.node.callspec.params["source"] != "real":
        return None
    return real_market(request.getfixturevalue("shared_data"), "BTC", n=3000)


def test_short_markets_give_flat_signals():
    """Markets shorter than any window: every bar written, all flat (no NaN from the fused loops)."""
    for n in (0, 1, 2, 9):
        market = synthetic_market(max(n, 1), seed=1)
        market = type(market)(*(a[:n] for a in market[:6]), market.bars_per_year)
        for name in REFERENCES:
            signal = _signal(FAMILY_NAMES.index(name), np.full(N_GENES, 0.5), market)
            assert np.all(signal == 0.0), (name, n)
