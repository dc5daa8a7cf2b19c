"""The kernel's trade list on a window, and its comparison with the replay engine's.

kernels/simulate.py reports metrics per segment, not trade records. With one segment per bar its
metrics *are* a per-bar event log of the kernel: closed round trips and wins in the bar, exposure (a
position held into the bar) and the bar's return. The kernel's trades follow from that log and the
target series the kernel simulated:

- position after close t is non-zero: the exposure of bar t + 1; for the window's last bar, the target
  changed to a non-zero value at t, or it did not change and the held position was not closed in bar t;
- a trade closes in bar t when the kernel counts a closed round trip there (at most one per bar: after a
  stop the account is flat, so the close-t order can only open);
- a trade opens at close t when the account holds a position after close t and none is open (from flat,
  or right after the close counted in the same bar: a flip, or a stop then a new target); its side is the
  sign of target[t].

Bounds = [start, start + 1, ..., stop - 1]: segment 0 holds bars start and start + 1 (nothing can close
at bar start, the first possible fill), every later segment one bar.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from exchange.replay import Trade
from kernels.metrics import M_EXPOSURE, M_TRADES, M_WIN_RATE

__all__ = ["KernelTrade", "first_trade_mismatch", "kernel_trades", "per_bar_bounds"]

# A replay trade whose |PnL| is below this share of equity counts as a win or a loss in either engine:
# the two sum the same cash flows in different orders.
PNL_SIGN_TOLERANCE = 1e-12


class KernelTrade(NamedTuple):
    """A round trip as the kernel's per-bar log shows it; exit_bar / win are None while it is open."""

    side: int
    entry_bar: int
    exit_bar: int | None
    win: bool | None


def per_bar_bounds(start: int, stop: int) -> np.ndarray:
    """Segment bounds for the bars start..stop-1 with one segment per bar (segment 0: start, start + 1)."""
    if stop - start < 2:
        raise ValueError(f"window [{start}, {stop}) needs at least 2 bars")
    return np.arange(start, stop, dtype=np.int64)


def kernel_trades(metrics: np.ndarray, target: np.ndarray, start: int) -> list[KernelTrade]:
    """The kernel's trades from its per-bar metrics[K, N_METRICS] (bounds = per_bar_bounds(start, stop))
    and the target series it simulated (indexed by bar). The open trade, if any, comes last."""
    k = metrics.shape[0]
    stop = start + k + 1
    trades: list[KernelTrade] = []
    open_: KernelTrade | None = None
    for t in range(start, stop):
        segment = max(t - start - 1, 0)
        closed = int(round(metrics[segment, M_TRADES])) if t > start else 0
        if closed > 1:
            raise ValueError(f"the kernel closed {closed} round trips in bar {t}; at most one is possible")
        if closed:
            if open_ is None:
                raise ValueError(f"the kernel closed a round trip in bar {t} with none open")
            trades.append(open_._replace(exit_bar=t, win=bool(metrics[segment, M_WIN_RATE] > 0.0)))
            open_ = None
        if open_ is None and _held_after(metrics, target, start, t, closed):
            open_ = KernelTrade(1 if target[t] > 0.0 else -1, t, None, None)
    return trades + ([open_] if open_ is not None else [])


def _held_after(metrics: np.ndarray, target: np.ndarray, start: int, t: int, closed: int) -> bool:
    """Whether the kernel holds a position after close t (module docstring)."""
    if t == start:
        return target[t] != 0.0
    next_segment = t - start  # segment of bar t + 1
    if next_segment < metrics.shape[0]:
        return metrics[next_segment, M_EXPOSURE] > 0.0
    if target[t] != target[t - 1]:
        return target[t] != 0.0
    return not closed and _held_after(metrics, target, start, t - 1, 0)


def _as_kernel_trade(trade: Trade) -> KernelTrade:
    return KernelTrade(trade.side, trade.entry_bar, trade.exit_bar, None if trade.exit_bar is None else trade.pnl > 0.0)


def first_trade_mismatch(replayed: list[Trade], kernel: list[KernelTrade], equity: float,
                         describe_bar=str) -> str | None:
    """None if the replay's trades (closed, then the open one) equal the kernel's; else a sentence
    naming the first differing trade. describe_bar(index) formats a bar (e.g. its time)."""
    for i in range(max(len(replayed), len(kernel))):
        ours = replayed[i] if i < len(replayed) else None
        theirs = kernel[i] if i < len(kernel) else None
        if ours is not None and theirs is not None and _same(ours, theirs, equity):
            continue
        return (f"trade #{i + 1} differs: replay {_describe(ours and _as_kernel_trade(ours), describe_bar)}"
                f" vs kernel {_describe(theirs, describe_bar)}")
    return None


def _same(ours: Trade, theirs: KernelTrade, equity: float) -> bool:
    if (ours.side, ours.entry_bar, ours.exit_bar) != (theirs.side, theirs.entry_bar, theirs.exit_bar):
        return False
    if ours.exit_bar is None:
        return True
    return (ours.pnl > 0.0) == theirs.win or abs(ours.pnl) <= PNL_SIGN_TOLERANCE * equity


def _describe(trade: KernelTrade | None, describe_bar) -> str:
    if trade is None:
        return "none"
    side = "long" if trade.side > 0 else "short"
    if trade.exit_bar is None:
        return f"{side} entered {describe_bar(trade.entry_bar)}, still open"
    outcome = "win" if trade.win else "loss"
    return f"{side} entered {describe_bar(trade.entry_bar)}, exited {describe_bar(trade.exit_bar)} ({outcome})"
