"""Gate 2: the replay window replayed bar by bar by the event-driven engine (exchange.replay), checked
trade for trade against the fused kernel on the same bars.

The strategy fed to the engine is the candidate's targets computed once on the bars up to the window's
end (recomputing them bar by bar gives the same numbers: the look-ahead check of gate 1 proves it at
its cut points, and the engine's tests prove it for every family). The engine starts flat and gets bar
r0 - 1 first, so its first possible fill is at that close, like the kernel's with bounds [r0 - 1, ...].
"""
from __future__ import annotations

import time

from exchange.replay import Bar, Broker, Engine, TargetSeries
from kernels.evaluate import Costs
from tasks.validate.candidate import Candidate, CoinInputs
from tasks.validate.gate2_trades import first_trade_mismatch, kernel_trades, per_bar_bounds

__all__ = ["replay_bars", "replay_candidate"]


def replay_bars(coin: CoinInputs, start: int, stop: int):
    """Bars start..stop-1 of the coin as engine events, oldest first."""
    m = coin.market
    for i in range(start, stop):
        yield Bar(i, int(coin.times_ms[i]), float(m.open[i]), float(m.high[i]), float(m.low[i]), float(m.close[i]),
                  float(m.volume[i]), float(m.funding[i]))


def replay_candidate(candidate: Candidate, coin: CoinInputs, costs: Costs) -> dict:
    """gate2_* values: the engine's performance on the replay window and whether its trades equal the
    kernel's (gate2_mismatch names the first that differs)."""
    r0, r1 = coin.replay
    start = r0 - 1
    target = candidate.targets(coin.market, stop=r1)
    stop_loss, take_profit = candidate.stops()
    engine = Engine(TargetSeries(target), Broker(fee=costs.fee, slippage=costs.slippage),
                    stop_loss=stop_loss, take_profit=take_profit)
    started = time.perf_counter()
    engine.run(replay_bars(coin, start, r1))
    seconds = time.perf_counter() - started
    books = engine.books
    summary = engine.summary(coin.market.bars_per_year)
    kernel = kernel_trades(candidate.kernel_metrics(coin.market, per_bar_bounds(start, r1), costs), target, start)
    replayed = books.trades + ([books.open_trade_record()] if books.open_trade is not None else [])
    mismatch = first_trade_mismatch(replayed, kernel, books.initial, coin.bar_time)
    return {
        "gate2_sharpe": summary.sharpe,
        "gate2_total_return": summary.total_return,
        "gate2_max_drawdown": summary.max_drawdown,
        "gate2_win_rate": summary.win_rate,
        "gate2_trades": float(summary.trades),
        "gate2_trades_match": mismatch is None,
        "gate2_mismatch": mismatch or "",
        "gate2_bars_per_second": summary.bars / seconds if seconds > 0 else float("inf"),
    }
