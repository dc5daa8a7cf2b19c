"""The bridge from run data to the kernels: per-coin kernel markets and genome evaluation over bar windows."""
from __future__ import annotations

import numpy as np

from kernels.evaluate import Costs, Market, evaluate
from tasks.market.source import CoinData
from tasks.market.store import interval_timedelta
from tasks.run.config import CostConfig

__all__ = ["evaluate_genomes", "kernel_costs", "kernel_market"]

_SECONDS_PER_YEAR = 365.0 * 24 * 3600


def kernel_market(coin: CoinData, interval: str, stop: int | None = None) -> Market:
    """The coin's bars as contiguous float64 arrays, cut at ``stop`` (exclusive) so nothing later exists."""
    c = coin.candles.iloc[:stop]
    arrays = [np.ascontiguousarray(c[col].to_numpy(np.float64)) for col in ("open", "high", "low", "close", "volume")]
    funding = np.ascontiguousarray(coin.funding[: len(c)], dtype=np.float64)
    bars_per_year = _SECONDS_PER_YEAR / interval_timedelta(interval).total_seconds()
    return Market(*arrays, funding, bars_per_year)


def kernel_costs(costs: CostConfig) -> Costs:
    """Market orders pay the taker fee; slippage from basis points to a fraction."""
    return Costs(fee=costs.taker_fee, slippage=costs.slippage_bps / 10_000.0)


def evaluate_genomes(market: Market, families: np.ndarray, genes: np.ndarray, bounds: np.ndarray,
                     costs: Costs, families_b: np.ndarray | None = None,
                     genes_b: np.ndarray | None = None) -> np.ndarray:
    """metrics[S, K, N_METRICS]; ensembles (families_b ≥ 0) average their two members' positions."""
    return evaluate(market, families, genes, bounds, costs, families_b=families_b, genes_b=genes_b)

