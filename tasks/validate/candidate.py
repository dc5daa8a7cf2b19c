"""A candidate strategy as the validate stage handles it, and the per-coin data its gates read.

Everything here is small and picklable: batches of candidates and one `ValidationInputs` travel to the
workers (on Ray, the inputs once through the object store).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from kernels.evaluate import Costs, Market, evaluate, positions, returns
from kernels.families import FAMILY_NAMES
from kernels.genome import decode_risk_nb
from tasks.evolve.evaluation import kernel_costs, kernel_market
from tasks.market.source import MarketData
from tasks.market.store import epoch_ms
from tasks.market.windows import RunWindows, bar_range
from tasks.orchestration.retry_policy import Policy, retry_policy
from tasks.run.config import RunConfig

__all__ = ["Candidate", "CoinInputs", "ValidationInputs", "candidates_from_frame", "prepare_validation_inputs"]


class Candidate(NamedTuple):
    """One genome: family ids index kernels.families.FAMILY_NAMES; family_b = -1 unless an ensemble (whose
    target is the mean of both members' targets and whose stops are member a's)."""

    strategy_id: str
    coin: str
    family: int
    genes: np.ndarray
    family_b: int = -1
    genes_b: np.ndarray | None = None

    @property
    def is_ensemble(self) -> bool:
        return self.family_b >= 0

    def stops(self) -> tuple[float, float]:
        """(stop_loss, take_profit) as fractions of the entry price, 0.0 = off."""
        _, stop_loss, take_profit, _ = decode_risk_nb(self.genes)
        return float(stop_loss), float(take_profit)

    def targets(self, market: Market, stop: int | None = None) -> np.ndarray:
        """Target positions of bars 0..stop-1 computed from those bars only (the kernel's positions)."""
        return positions(market, self.family, self.genes, stop, family_b=self.family_b, genes_b=self.genes_b)

    def kernel_metrics(self, market: Market, bounds: np.ndarray, costs: Costs) -> np.ndarray:
        """The fused kernel's metrics[K, N_METRICS] of this candidate over the segments of `bounds`."""
        return evaluate(market, *self._population(), bounds, costs, **self._members_b())[0]

    def kernel_returns(self, market: Market, bounds: np.ndarray, costs: Costs) -> np.ndarray:
        """The fused kernel's per-bar returns float64[N] (0 outside [bounds[0], bounds[-1]])."""
        return returns(market, *self._population(), bounds, costs, **self._members_b())[0]

    def _population(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array([self.family], dtype=np.int64), np.asarray(self.genes, dtype=np.float64).reshape(1, -1)

    def _members_b(self) -> dict:
        if not self.is_ensemble:
            return {}
        return {"families_b": np.array([self.family_b], dtype=np.int64),
                "genes_b": np.asarray(self.genes_b, dtype=np.float64).reshape(1, -1)}


def candidates_from_frame(frame: pd.DataFrame) -> list[Candidate]:
    """Rows of candidates.parquet (family names, gene lists) as Candidates."""
    out = []
    for row in frame.itertuples(index=False):
        family_b = getattr(row, "family_b", None)
        ensemble = isinstance(family_b, str)
        out.append(Candidate(
            row.strategy_id, row.coin, FAMILY_NAMES.index(row.family), np.asarray(row.genes, dtype=np.float64),
            FAMILY_NAMES.index(family_b) if ensemble else -1,
            np.asarray(row.genes_b, dtype=np.float64) if ensemble else None,
        ))
    return out


class CoinInputs(NamedTuple):
    """One coin's bars up to the end of the last window a gate may read, and each window's bar range
    [start, stop) (the live range lies beyond `market` unless the inputs were built through "live")."""

    market: Market
    times_ms: np.ndarray  # bar open times, epoch ms, for every bar of `market`
    validation: tuple[int, int]
    replay: tuple[int, int]
    live: tuple[int, int]

    def bar_time(self, bar: int) -> str:
        """The open time of `bar` as text, for reasons and reports."""
        return str(pd.Timestamp(int(self.times_ms[bar]), unit="ms", tz="UTC"))


class ValidationInputs(NamedTuple):
    coins: dict[str, CoinInputs]
    costs: Costs


@retry_policy(Policy("ray", retries=2, timeout_s=900))
def prepare_validation_inputs(market: MarketData, windows: RunWindows, config: RunConfig, *,
                              through: str = "replay") -> ValidationInputs:
    """Per coin: the bars up to the end of the `through` window ("replay" for gates 1-2: nothing of the
    live window exists; "live" for gate 3) and every window's range."""
    if through not in ("replay", "live"):
        raise ValueError(f"through={through!r}: expected 'replay' or 'live'")
    coins = {}
    for coin in market.coins:
        ranges = [bar_range(coin.candles, w) for w in (windows.validation, windows.replay, windows.live)]
        stop = ranges[1][1] if through == "replay" else ranges[2][1]
        coins[coin.coin] = CoinInputs(kernel_market(coin, market.interval, stop=stop),
                                      epoch_ms(coin.candles["timestamp"].iloc[:stop]), *ranges)
    return ValidationInputs(coins, kernel_costs(config.costs))
