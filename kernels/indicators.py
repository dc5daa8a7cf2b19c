"""Causal indicators: out[t] is computed from x[0..t] only (never a later bar).

Every function fills preallocated `out` arrays (length N, float64) and returns nothing; bars before
the first full window are NaN ("warm-up"). Windows longer than the data give all-NaN outputs.
Inputs are assumed finite (market arrays are NaN-free); running sums are updated in O(1) per bar
wherever the maths allows, so every indicator is O(N) except the Nadaraya-Watson estimate (O(N * m),
m the kernel's support). Rolling highs and lows, and the %K and midpoints built on them, are in
kernels.rolling_extremes.

Speed notes that apply throughout (numba 0.68): x[t - k] with a signed index pays a wraparound test
that also blocks vectorisation, so hot loops read aligned views (x[k:], x[:n - k]) instead; a float
division carries a zero test unless the function has error_model="numpy"; a side that flips on
unpredictable bars is set by selects rather than branches.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["KERNEL_GAUSSIAN", "KERNEL_EPANECHNIKOV", "GAUSSIAN_SUPPORT", "NW_BLOCK", "check_window_nb", "ema_1d_nb",
           "sma_1d_nb", "rolling_std_1d_nb", "zscore_1d_nb", "squared_log_returns_1d_nb",
           "realized_vol_from_squares_1d_nb", "realized_vol_1d_nb", "rsi_1d_nb", "true_range_nb",
           "vwap_sums_1d_nb", "nadaraya_watson_weights_nb", "nadaraya_watson_1d_nb"]

KERNEL_GAUSSIAN = 0
KERNEL_EPANECHNIKOV = 1
GAUSSIAN_SUPPORT = 3.0  # the Gaussian kernel is truncated at 3 bandwidths (weights < 1.2 % of the peak)
NW_BLOCK = 512  # bars whose kernel sums are accumulated together (4 x 512 partial sums: 16 KiB, in L1)


@njit(cache=True)
def check_window_nb(window: int) -> None:
    """ValueError unless a rolling window of `window` bars makes sense (>= 1)."""
    if window < 1:
        raise ValueError("window must be >= 1")


@njit(cache=True)
def ema_1d_nb(x: np.ndarray, window: int, out: np.ndarray) -> None:
    """Exponential moving average, alpha = 2 / (window + 1), seeded with x[0], NaN for the first window - 1 bars.

    Same as pandas `ewm(span=window, adjust=False, min_periods=window).mean()` and vectorbt's MA(ewm=True).
    """
    check_window_nb(window)
    alpha = 2.0 / (window + 1.0)
    value = 0.0
    for t in range(len(x)):
        value = x[t] if t == 0 else alpha * x[t] + (1.0 - alpha) * value
        out[t] = value if t >= window - 1 else np.nan


@njit(cache=True)
def sma_1d_nb(x: np.ndarray, window: int, out: np.ndarray) -> None:
    """Simple moving average (rolling mean) of the last `window` values, running sum O(N)."""
    check_window_nb(window)
    total = 0.0
    for t in range(len(x)):
        total += x[t]
        if t >= window:
            total -= x[t - window]
        out[t] = total / window if t >= window - 1 else np.nan


@njit(cache=True)
def rolling_std_1d_nb(x: np.ndarray, window: int, ddof: int, out: np.ndarray) -> None:
    """Rolling standard deviation (ddof 0 = population, 1 = sample) by Welford add/remove updates.

    Welford's running mean and sum of squared deviations avoids the cancellation of sum(x^2) - n mean^2
    on prices far from zero (pandas uses the same update). NaN where window - ddof < 1.
    """
    check_window_nb(window)
    mean, ssd = 0.0, 0.0
    count = 0
    for t in range(len(x)):
        if t >= window:  # drop the value leaving the window first, so count never exceeds window
            old = x[t - window]
            count -= 1
            if count == 0:
                mean, ssd = 0.0, 0.0
            else:
                delta = old - mean
                mean -= delta / count
                ssd -= delta * (old - mean)
        count += 1
        delta = x[t] - mean
        mean += delta / count
        ssd += delta * (x[t] - mean)
        if t < window - 1 or window - ddof < 1:
            out[t] = np.nan
        else:
            out[t] = np.sqrt(max(ssd, 0.0) / (window - ddof))


@njit(cache=True)
def zscore_1d_nb(x: np.ndarray, window: int, ddof: int, out: np.ndarray) -> None:
    """(x - rolling mean) / rolling std over the last `window` values; NaN where the std is 0."""
    rolling_std_1d_nb(x, window, ddof, out)
    total = 0.0
    for t in range(len(x)):
        total += x[t]
        if t >= window:
            total -= x[t - window]
        std = out[t]
        out[t] = (x[t] - total / window) / std if std > 0.0 else np.nan


@njit(cache=True)
def squared_log_returns_1d_nb(close: np.ndarray, out: np.ndarray) -> None:
    """out[t] = log(close[t] / close[t - 1])^2, out[0] = 0: the one log per bar that realised volatility
    needs, whatever its window (so a population can share it)."""
    if len(close) > 0:
        out[0] = 0.0
    for t in range(1, len(close)):
        r = np.log(close[t] / close[t - 1])
        out[t] = r * r


@njit(cache=True)
def realized_vol_from_squares_1d_nb(squares: np.ndarray, window: int, out: np.ndarray) -> None:
    """realized_vol_1d_nb from squared_log_returns_1d_nb's output (same values to the bit), for a
    population sharing the squares: the running sum takes one (entering - leaving) add per bar and the
    square roots are a separate pass with no dependency between bars, which vectorises.
    """
    check_window_nb(window)
    n = len(squares)
    total = 0.0
    for t in range(1, n):
        total += squares[t] - (squares[t - window] if t > window else 0.0)  # returns start at bar 1
        out[t] = total
    head = min(window, n)
    out[:head] = np.nan
    tail = out[head:]
    for i in range(len(tail)):
        tail[i] = np.sqrt(max(tail[i], 0.0) / window)


@njit(cache=True)
def realized_vol_1d_nb(close: np.ndarray, window: int, out: np.ndarray) -> None:
    """Realised volatility per bar: sqrt(mean of the last `window` squared log returns) (zero-mean convention).

    Returns start at bar 1, so out[t] is defined from t = window. Per-bar units: annualise with sqrt(bars/year).
    The squared returns in the window are kept in a ring so each bar costs one log (and the square root
    and division overlap with it: a separate pass would leave the divider idle during the logs).
    """
    check_window_nb(window)
    ring = np.zeros(window)
    slot = 0
    total = 0.0
    for t in range(1, len(close)):
        r = np.log(close[t] / close[t - 1])
        total += r * r - ring[slot]  # ring[slot] holds the square leaving the window (0 while filling)
        ring[slot] = r * r
        slot = slot + 1 if slot + 1 < window else 0
        out[t] = np.sqrt(max(total, 0.0) / window) if t >= window else np.nan
    if len(close) > 0:
        out[0] = np.nan


@njit(cache=True)
def rsi_1d_nb(close: np.ndarray, window: int, out: np.ndarray) -> None:
    """Wilder's RSI in [0, 100]: averages of gains/losses seeded by their simple mean over the first
    `window` changes, then smoothed avg = (avg * (window - 1) + new) / window. Defined from t = window;
    100 when there were no losses, 50 when the price did not move at all.
    """
    check_window_nb(window)
    avg_gain, avg_loss = 0.0, 0.0
    for t in range(len(close)):
        if t == 0:
            out[t] = np.nan
            continue
        change = close[t] - close[t - 1]
        gain, loss = max(change, 0.0), max(-change, 0.0)
        if t <= window:
            avg_gain += gain / window
            avg_loss += loss / window
        else:
            avg_gain = (avg_gain * (window - 1) + gain) / window
            avg_loss = (avg_loss * (window - 1) + loss) / window
        if t < window:
            out[t] = np.nan
        elif avg_gain + avg_loss > 0.0:
            out[t] = 100.0 * avg_gain / (avg_gain + avg_loss)
        else:
            out[t] = 50.0


@njit(cache=True)
def true_range_nb(high: float, low: float, previous_close: float) -> float:
    """True range of a bar (price units): high - low, widened to reach the previous close."""
    return max(high - low, abs(high - previous_close), abs(low - previous_close))


@njit(cache=True, inline="always")
def _anchored_sums_nb(price: np.ndarray, volume: np.ndarray, start: int, stop: int,
                      anchor: float) -> tuple[float, float, float, int]:
    """(sum v, sum v (p - anchor), sum v (p - anchor)^2, bars with v > 0) over bars start..stop-1."""
    s0, s1, s2, count = 0.0, 0.0, 0.0, 0
    for i in range(start, stop):
        v, p = volume[i], price[i] - anchor
        s0 += v
        s1 += v * p
        s2 += v * p * p
        count += v > 0.0
    return s0, s1, s2, count


@njit(cache=True, inline="always")
def _slide_anchored_sums_nb(price_in: np.ndarray, volume_in: np.ndarray, price_out: np.ndarray,
                            volume_out: np.ndarray, anchor: float, sums: tuple[float, float, float, int],
                            out_weight: np.ndarray, out_gap: np.ndarray, out_spread: np.ndarray) -> None:
    """One block of vwap_sums_1d_nb: bar i enters (price_in[i], volume_in[i]) as bar i of the _out views
    leaves (aligned views: no index wraparound), then the window's statistics are written."""
    s0, s1, s2, count = sums
    for i in range(len(price_in)):
        v, p = volume_in[i], price_in[i] - anchor
        v_out, p_out = volume_out[i], price_out[i] - anchor
        s0 += v - v_out
        s1 += v * p - v_out * p_out
        s2 += v * p * p - v_out * p_out * p_out
        count += (v > 0.0) - (v_out > 0.0)
        out_weight[i] = s0 if count > 0 else 0.0
        out_gap[i] = s0 * p - s1 if count > 0 else np.nan
        out_spread[i] = s0 * s2 - s1 * s1 if count > 0 else np.nan


@njit(cache=True)
def vwap_sums_1d_nb(price: np.ndarray, volume: np.ndarray, window: int, out_weight: np.ndarray,
                    out_gap: np.ndarray, out_spread: np.ndarray) -> None:
    """Division-free rolling VWAP statistics of the last `window` bars, W = sum(v):
    out_weight = W, out_gap = W (price[t] - vwap), out_spread = W^2 var (var = sum(v (p - vwap)^2) / W).

    So vwap = price - gap / W, dev = sqrt(spread) / W and (price - vwap) / dev = gap / sqrt(spread).
    NaN (weight 0) for t < window - 1 and while the window's volume is zero.

    Running sums of v, v (p - a) and v (p - a)^2 around an anchor price a take one add per bar each
    ((entering - leaving) terms, no division on a dependency chain): gap = s0 (price - a) - s1 and
    spread = s0 s2 - s1^2. Prices far from zero would make the spread cancel, so the anchor is re-set
    every `window` bars to the price of a bar inside every window it serves and the sums re-taken from
    scratch (one extra pass in all, which also clears accumulated rounding): |vwap - a| stays within
    the window's range, and dev comes out within ~1e-13 relative of a two-pass sum on real prices.
    """
    check_window_nb(window)
    n = len(price)
    head = min(window, n)
    nothing = np.zeros(head)  # what "leaves" the first window: zero volume
    _slide_anchored_sums_nb(price[:head], volume[:head], nothing, nothing, price[0], (0.0, 0.0, 0.0, 0),
                            out_weight[:head], out_gap[:head], out_spread[:head])
    for start in range(window, n, window):
        stop = min(start + window, n)
        anchor = price[start]  # a bar of every window ending at start..stop-1
        sums = _anchored_sums_nb(price, volume, start - window, start, anchor)  # bar start - window leaves first
        _slide_anchored_sums_nb(price[start:stop], volume[start:stop], price[start - window:stop - window],
                                volume[start - window:stop - window], anchor, sums, out_weight[start:stop],
                                out_gap[start:stop], out_spread[start:stop])
    warm_up = min(window - 1, n)
    out_weight[:warm_up] = 0.0
    out_gap[:warm_up] = np.nan
    out_spread[:warm_up] = np.nan


@njit(cache=True)
def nadaraya_watson_weights_nb(bandwidth: float, kernel: int) -> np.ndarray:
    """Normalised one-sided kernel weights w[i] for lag i = 0, 1, ... (w[0] weighs the current bar).

    Gaussian: exp(-(i/h)^2 / 2) for i <= 3h; Epanechnikov: 1 - (i/h)^2 for i < h (its whole support).
    """
    if bandwidth <= 0.0:
        raise ValueError("bandwidth must be > 0")
    if kernel == KERNEL_GAUSSIAN:
        size = int(np.ceil(GAUSSIAN_SUPPORT * bandwidth)) + 1
    elif kernel == KERNEL_EPANECHNIKOV:
        size = max(int(np.ceil(bandwidth)), 1)
    else:
        raise ValueError("kernel must be KERNEL_GAUSSIAN or KERNEL_EPANECHNIKOV")
    weights = np.empty(size)
    for i in range(size):
        u = i / bandwidth
        weights[i] = np.exp(-0.5 * u * u) if kernel == KERNEL_GAUSSIAN else 1.0 - u * u
    return weights / weights.sum()


@njit(cache=True)
def nadaraya_watson_1d_nb(x: np.ndarray, bandwidth: float, kernel: int, out: np.ndarray) -> None:
    """Causal Nadaraya-Watson kernel regression: out[t] = sum_i w[i] x[t - i] over past bars only.

    A direct weighted sum, O(N * m) with m the kernel's support (about 3h or h bars): running polynomial
    sums would make the Epanechnikov case O(N) but lose digits to cancellation on prices. NaN until the
    first full support. Each out[t] is four partial sums over every fourth weight, oldest first, added
    as (s0 + s1) + (s2 + s3) (the tail of size % 4 weights goes to s0): a fixed order, so the result is
    deterministic. The sums of NW_BLOCK bars are accumulated together, four weights of one partial sum
    per pass along t: the passes have no dependency between bars and vectorise.
    """
    oldest_first = nadaraya_watson_weights_nb(bandwidth, kernel)[::-1].copy()  # aligns with x[t-size+1..t]
    size = len(oldest_first)
    n = len(x)
    head = min(size - 1, n)
    out[:head] = np.nan
    taps, bounds = _partial_sum_taps_nb(size)
    partial = np.empty((4, NW_BLOCK))
    for start in range(head, n, NW_BLOCK):
        stop = min(start + NW_BLOCK, n)
        for k in range(4):  # x[start - size + 1 + j:] meets weight j
            _partial_sums_nb(x[start - size + 1:stop], oldest_first, taps[bounds[k]:bounds[k + 1]],
                             partial[k, :stop - start])
        block = out[start:stop]
        for i in range(stop - start):
            block[i] = (partial[0, i] + partial[1, i]) + (partial[2, i] + partial[3, i])


@njit(cache=True)
def _partial_sum_taps_nb(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The weights of nadaraya_watson_1d_nb's partial sums, in order: taps[bounds[k]:bounds[k + 1]] are
    k, k + 4, ... below size - size % 4, then (k = 0) the tail of size % 4 weights."""
    whole = size - size % 4
    taps = np.empty(size, dtype=np.int64)
    bounds = np.zeros(5, dtype=np.int64)
    count = 0
    for k in range(4):
        for j in range(k, whole, 4):
            taps[count] = j
            count += 1
        if k == 0:
            for j in range(whole, size):
                taps[count] = j
                count += 1
        bounds[k + 1] = count
    return taps, bounds


@njit(cache=True, inline="always")
def _partial_sums_nb(x: np.ndarray, weights: np.ndarray, taps: np.ndarray, acc: np.ndarray) -> None:
    """acc[i] = sum of weights[j] x[i + j] over j in taps, added in that order, four weights per pass."""
    m = len(acc)
    acc[:] = 0.0
    g = 0
    while g + 4 <= len(taps):
        j0, j1, j2, j3 = taps[g], taps[g + 1], taps[g + 2], taps[g + 3]
        w0, w1, w2, w3 = weights[j0], weights[j1], weights[j2], weights[j3]
        x0, x1, x2, x3 = x[j0:j0 + m], x[j1:j1 + m], x[j2:j2 + m], x[j3:j3 + m]
        for i in range(m):  # left to right: the same adds, in the same order, as one weight at a time
            acc[i] = (((acc[i] + w0 * x0[i]) + w1 * x1[i]) + w2 * x2[i]) + w3 * x3[i]
        g += 4
    for g in range(g, len(taps)):
        w0, x0 = weights[taps[g]], x[taps[g]:taps[g] + m]
        for i in range(m):
            acc[i] += w0 * x0[i]
