"""Causal indicators: out[t] is computed from x[0..t] only (never a later bar).

Every function fills preallocated `out` arrays (length N, float64) and returns nothing; bars before
the first full window are NaN ("warm-up"). Windows longer than the data give all-NaN outputs.
Inputs are assumed finite (market arrays are NaN-free); running sums are updated in O(1) per bar
wherever the maths allows, so every indicator is O(N) except the Nadaraya-Watson estimate (O(N * m),
m the kernel's support) and the rolling quantile (O(N * window) worst case, sorted-window insertion).
"""
from __future__ import annotations

import numpy as np
from numba import njit

KERNEL_GAUSSIAN = 0
KERNEL_EPANECHNIKOV = 1
GAUSSIAN_SUPPORT = 3.0  # the Gaussian kernel is truncated at 3 bandwidths (weights < 1.2 % of the peak)


@njit(cache=True)
def _check_window_nb(window: int) -> None:
    if window < 1:
        raise ValueError("window must be >= 1")


@njit(cache=True)
def ema_1d_nb(x: np.ndarray, window: int, out: np.ndarray) -> None:
    """Exponential moving average, alpha = 2 / (window + 1), seeded with x[0], NaN for the first window - 1 bars.

    Same as pandas `ewm(span=window, adjust=False, min_periods=window).mean()` and vectorbt's MA(ewm=True).
    """
    _check_window_nb(window)
    alpha = 2.0 / (window + 1.0)
    value = 0.0
    for t in range(len(x)):
        value = x[t] if t == 0 else alpha * x[t] + (1.0 - alpha) * value
        out[t] = value if t >= window - 1 else np.nan


@njit(cache=True)
def sma_1d_nb(x: np.ndarray, window: int, out: np.ndarray) -> None:
    """Simple moving average (rolling mean) of the last `window` values, running sum O(N)."""
    _check_window_nb(window)
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
    _check_window_nb(window)
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
def realized_vol_1d_nb(close: np.ndarray, window: int, out: np.ndarray) -> None:
    """Realised volatility per bar: sqrt(mean of the last `window` squared log returns) (zero-mean convention).

    Returns start at bar 1, so out[t] is defined from t = window. Per-bar units: annualise with sqrt(bars/year).
    The squared returns in the window are kept in a ring so each bar costs one log.
    """
    _check_window_nb(window)
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
def _rolling_max_1d_nb(x: np.ndarray, window: int, sign: float, out: np.ndarray, scratch: np.ndarray) -> None:
    """out[t] = sign * max(sign * x[t-window+1..t]) by van Herk / Gil-Werman: ~3 branch-free max per bar.

    The bars are cut into blocks of `window`; out takes the running max from each block's start and
    scratch the running max back from each block's end. The window ending at t spans the end of one
    block and the start of the next: max(scratch[t - window + 1], out[t]). scratch[j] looks forward to
    its block's end, which is at most j + window - 1 = t, so no value after t is ever used (and max is
    exact, so the result does not depend on where the data ends).
    """
    n = len(x)
    for start in range(0, n, window):
        stop = min(start + window, n)
        best = -np.inf
        for i in range(start, stop):
            best = max(best, sign * x[i])
            out[i] = best
        best = -np.inf
        for i in range(stop - 1, start - 1, -1):
            best = max(best, sign * x[i])
            scratch[i] = best
    for t in range(n):
        out[t] = sign * max(scratch[t - window + 1], out[t]) if t >= window - 1 else np.nan


@njit(cache=True)
def rolling_max_min_1d_nb(high: np.ndarray, low: np.ndarray, window: int, out_max: np.ndarray,
                          out_min: np.ndarray) -> None:
    """Rolling max of `high` and min of `low` over bars t-window+1..t, O(N)."""
    _check_window_nb(window)
    scratch = np.empty(len(high))
    _rolling_max_1d_nb(high, window, 1.0, out_max, scratch)
    _rolling_max_1d_nb(low, window, -1.0, out_min, scratch)


@njit(cache=True)
def _shift_forward_nb(out: np.ndarray, lag: int) -> None:
    """In place out[t] = out[t - lag] (NaN for t < lag): the value known `lag` bars ago."""
    for t in range(len(out) - 1, -1, -1):
        out[t] = out[t - lag] if t >= lag else np.nan


@njit(cache=True)
def donchian_1d_nb(high: np.ndarray, low: np.ndarray, window: int, out_upper: np.ndarray,
                   out_lower: np.ndarray) -> None:
    """Donchian channel of the PREVIOUS `window` bars: max(high[t-window..t-1]), min(low[t-window..t-1]).

    Excluding bar t makes "close[t] breaks above the channel" a possible event; NaN for t < window.
    """
    rolling_max_min_1d_nb(high, low, window, out_upper, out_lower)
    _shift_forward_nb(out_upper, 1)
    _shift_forward_nb(out_lower, 1)


@njit(cache=True)
def rsi_1d_nb(close: np.ndarray, window: int, out: np.ndarray) -> None:
    """Wilder's RSI in [0, 100]: averages of gains/losses seeded by their simple mean over the first
    `window` changes, then smoothed avg = (avg * (window - 1) + new) / window. Defined from t = window;
    100 when there were no losses, 50 when the price did not move at all.
    """
    _check_window_nb(window)
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
def atr_1d_nb(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int, out: np.ndarray) -> None:
    """Wilder's average true range (price units). TR[0] = high - low; TR[t] also spans the previous close.

    ATR[window - 1] = mean(TR[0..window-1]), then ATR = (ATR * (window - 1) + TR) / window.
    """
    _check_window_nb(window)
    value = 0.0
    for t in range(len(close)):
        tr = high[t] - low[t]
        if t > 0:
            tr = max(tr, abs(high[t] - close[t - 1]), abs(low[t] - close[t - 1]))
        if t < window:
            value += tr / window
        else:
            value = (value * (window - 1) + tr) / window
        out[t] = value if t >= window - 1 else np.nan


@njit(cache=True)
def stochastic_1d_nb(high: np.ndarray, low: np.ndarray, close: np.ndarray, k_window: int, d_window: int,
                     out_k: np.ndarray, out_d: np.ndarray) -> None:
    """Stochastic oscillator: %K = 100 (close - LL) / (HH - LL) over the last k_window bars (50 when HH = LL),
    %D = SMA(%K, d_window). `out_d` doubles as scratch for the rolling low.
    """
    _check_window_nb(d_window)
    rolling_max_min_1d_nb(high, low, k_window, out_k, out_d)
    for t in range(len(close)):
        hh, ll = out_k[t], out_d[t]
        out_k[t] = 100.0 * (close[t] - ll) / (hh - ll) if hh > ll else (50.0 if hh == ll else np.nan)
    first = min(k_window - 1, len(close))
    out_d[:first] = np.nan
    sma_1d_nb(out_k[first:], d_window, out_d[first:])


@njit(cache=True)
def _rolling_midpoint_nb(high: np.ndarray, low: np.ndarray, window: int, out: np.ndarray,
                         scratch: np.ndarray) -> None:
    """(rolling max of high + rolling min of low) / 2 over the last `window` bars (Ichimoku's lines)."""
    rolling_max_min_1d_nb(high, low, window, out, scratch)
    for t in range(len(out)):
        out[t] = 0.5 * (out[t] + scratch[t])


@njit(cache=True)
def ichimoku_1d_nb(high: np.ndarray, low: np.ndarray, tenkan_window: int, kijun_window: int,
                   senkou_b_window: int, displacement: int, out_tenkan: np.ndarray, out_kijun: np.ndarray,
                   out_senkou_a: np.ndarray, out_senkou_b: np.ndarray) -> None:
    """Ichimoku lines as known at the close of bar t.

    tenkan / kijun: midpoints of the last tenkan_window / kijun_window bars. The cloud drawn at bar t is the
    one projected `displacement` bars earlier: senkou_a[t] = (tenkan + kijun)[t - displacement] / 2 and
    senkou_b[t] = midpoint of senkou_b_window bars ending at t - displacement. Charts draw today's spans
    in the future; using those values at t would be fine too, but the chikou span (close shifted back)
    would be look-ahead and is deliberately absent.
    """
    _rolling_midpoint_nb(high, low, tenkan_window, out_tenkan, out_senkou_a)
    _rolling_midpoint_nb(high, low, kijun_window, out_kijun, out_senkou_a)
    _rolling_midpoint_nb(high, low, senkou_b_window, out_senkou_b, out_senkou_a)
    for t in range(len(high)):
        out_senkou_a[t] = 0.5 * (out_tenkan[t] + out_kijun[t])
    _shift_forward_nb(out_senkou_a, displacement)
    _shift_forward_nb(out_senkou_b, displacement)


@njit(cache=True)
def _weighted_add_nb(x: float, w: float, weight: float, mean: float, ssd: float) -> tuple[float, float, float]:
    """West's (1979) weighted Welford update: add x with weight w > 0 to (sum w, mean, sum w (x - mean)^2)."""
    if weight == 0.0:  # start exactly at x: x * w / w may differ from x in the last bit
        return w, x, 0.0
    weight += w
    delta = x - mean
    mean += delta * w / weight
    return weight, mean, ssd + w * delta * (x - mean)


@njit(cache=True)
def _weighted_moments_nb(x: np.ndarray, w: np.ndarray, start: int, stop: int) -> tuple[float, float, float]:
    """(sum w, weighted mean, weighted sum of squared deviations) of x[start:stop], from scratch."""
    weight, mean, ssd = 0.0, 0.0, 0.0
    for i in range(start, stop):
        if w[i] > 0.0:
            weight, mean, ssd = _weighted_add_nb(x[i], w[i], weight, mean, ssd)
    return weight, mean, ssd


@njit(cache=True)
def vwap_1d_nb(price: np.ndarray, volume: np.ndarray, window: int, out_vwap: np.ndarray,
               out_dev: np.ndarray) -> None:
    """Rolling volume-weighted average price and volume-weighted standard deviation of price around it.

    vwap = sum(v p) / sum(v), dev = sqrt(sum(v (p - vwap)^2) / sum(v)) over the last `window` bars, by
    weighted Welford updates (no sum(v p^2) cancellation). Removing a bar that outweighs the rest of the
    window would amplify rounding by that ratio, so the window is then re-summed from scratch (rare on
    real volumes; O(1) amortised otherwise). NaN while the window's volume is zero.
    """
    _check_window_nb(window)
    weight, mean, ssd = 0.0, 0.0, 0.0
    for t in range(len(price)):
        if t >= window and volume[t - window] > 0.0:
            old, w = price[t - window], volume[t - window]
            if weight - w <= w:
                weight, mean, ssd = _weighted_moments_nb(price, volume, t - window + 1, t)
            else:
                weight -= w
                delta = old - mean
                mean -= delta * w / weight
                ssd -= w * delta * (old - mean)
        if volume[t] > 0.0:
            weight, mean, ssd = _weighted_add_nb(price[t], volume[t], weight, mean, ssd)
        if t >= window - 1 and weight > 0.0:
            out_vwap[t] = mean
            out_dev[t] = np.sqrt(max(ssd, 0.0) / weight)
        else:
            out_vwap[t] = np.nan
            out_dev[t] = np.nan


@njit(cache=True)
def bollinger_1d_nb(x: np.ndarray, window: int, width: float, out_middle: np.ndarray, out_upper: np.ndarray,
                    out_lower: np.ndarray, out_percent_b: np.ndarray) -> None:
    """Bollinger bands: SMA +- width * population std (ddof 0), and %B = (x - lower) / (upper - lower)
    (NaN when the bands collapse)."""
    sma_1d_nb(x, window, out_middle)
    rolling_std_1d_nb(x, window, 0, out_upper)
    for t in range(len(x)):
        half = width * out_upper[t]
        out_upper[t] = out_middle[t] + half
        out_lower[t] = out_middle[t] - half
        out_percent_b[t] = (x[t] - out_lower[t]) / (2.0 * half) if half > 0.0 else np.nan


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
    first full support.
    """
    oldest_first = nadaraya_watson_weights_nb(bandwidth, kernel)[::-1].copy()  # aligns with x[t-size+1..t]
    size = len(oldest_first)
    for t in range(len(x)):
        if t < size - 1:
            out[t] = np.nan
            continue
        past = x[t - size + 1:t + 1]
        # four interleaved partial sums: independent chains the CPU overlaps (a single running sum
        # waits on each add); the order is fixed, so the result is still deterministic
        s0, s1, s2, s3 = 0.0, 0.0, 0.0, 0.0
        i = 0
        while i + 4 <= size:
            s0 += oldest_first[i] * past[i]
            s1 += oldest_first[i + 1] * past[i + 1]
            s2 += oldest_first[i + 2] * past[i + 2]
            s3 += oldest_first[i + 3] * past[i + 3]
            i += 4
        while i < size:
            s0 += oldest_first[i] * past[i]
            i += 1
        out[t] = (s0 + s1) + (s2 + s3)


@njit(cache=True)
def _insert_sorted_nb(buf: np.ndarray, count: int, value: float) -> None:
    """Insert `value` into the sorted buf[:count] (shifting the larger values right)."""
    pos = np.searchsorted(buf[:count], value)
    for i in range(count, pos, -1):
        buf[i] = buf[i - 1]
    buf[pos] = value


@njit(cache=True)
def _remove_sorted_nb(buf: np.ndarray, count: int, value: float) -> None:
    """Remove one occurrence of `value` from the sorted buf[:count]."""
    pos = np.searchsorted(buf[:count], value)
    for i in range(pos, count - 1):
        buf[i] = buf[i + 1]


@njit(cache=True)
def rolling_quantile_1d_nb(x: np.ndarray, window: int, q: float, out: np.ndarray) -> None:
    """Rolling q-quantile (linear interpolation, as numpy / pandas default) of the last `window` values.

    Keeps the window sorted: binary search plus a shift per bar, O(N * window) worst case.
    """
    _check_window_nb(window)
    if not 0.0 <= q <= 1.0:
        raise ValueError("q must be in [0, 1]")
    buf = np.empty(window)
    count = 0
    pos = q * (window - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, window - 1)
    frac = pos - lo
    for t in range(len(x)):
        if t >= window:
            _remove_sorted_nb(buf, count, x[t - window])
            count -= 1
        _insert_sorted_nb(buf, count, x[t])
        count += 1
        out[t] = buf[lo] + (buf[hi] - buf[lo]) * frac if count == window else np.nan
