"""Typed run parameters, one model per concern; the CLI and the Prefect UI build them, nothing reads them at import."""
from __future__ import annotations

from typing import Literal

from hyperliquid.utils.constants import MAINNET_API_URL
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from exchange.hyperliquid.limits import FEES
from tasks.market.coins import coin_name, parse_coins
from tasks.run.run_dir import new_run_id

__all__ = [
    "CostConfig",
    "DeployConfig",
    "EvolveConfig",
    "RunConfig",
    "TEST_MODE_SIZES",
    "ValidationConfig",
    "WindowConfig",
    "test_mode_config",
]

ValidationMode = Literal["full", "fast", "minimal"]
SignificanceWindow = Literal["validation", "validation+replay"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CostConfig(_Frozen):
    """Trading costs as fractions of traded notional (0.00045 = 0.045 %)."""

    taker_fee: float = Field(FEES.taker, ge=0, le=0.01)  # Hyperliquid's base tier (exchange.hyperliquid.limits)
    maker_fee: float = Field(FEES.maker, ge=-0.001, le=0.01)
    slippage_bps: float = Field(1.0, ge=0, le=100)
    # Hyperliquid's baseline funding (0.01 % per 8 h) per hour, used where the store has no funding history.
    assumed_funding_rate: float = Field(0.0000125, ge=-0.01, le=0.01)


class WindowConfig(_Frozen):
    """Out-of-sample windows, newest last: train | validation | replay | live."""

    validation_days: float = Field(365.0, gt=0)
    replay_days: float = Field(90.0, gt=0)
    live_days: float = Field(14.0, gt=0)
    # With too little data for the day counts (test mode, the offline sample) the windows are these fractions.
    fractions: tuple[float, float, float, float] = (0.6, 0.25, 0.1, 0.05)
    folds: int = Field(4, ge=1, le=12, description="anchored walk-forward folds inside train")


class EvolveConfig(_Frozen):
    """Evolution: islands of genomes, each evolved in one Ray task, with migration between them."""

    strategies: int = Field(500, ge=1, description="genomes alive per generation over all islands")
    batch_size: int = Field(50, ge=2, description="genomes per island (one Ray task each)")
    generations: int = Field(20, ge=1)
    epoch_generations: int = Field(5, ge=1, description="generations per island task between migrations")
    migrants: int = Field(2, ge=0, description="elites sent to the next island at each migration")
    min_trades: int = Field(5, ge=0, description="per fold; fewer is penalised")

    @model_validator(mode="after")
    def _batch_fits(self) -> "EvolveConfig":
        if self.batch_size > self.strategies:
            raise ValueError(f"batch_size {self.batch_size} is larger than strategies {self.strategies}")
        return self

    @property
    def islands(self) -> int:
        return max(1, self.strategies // self.batch_size)


class ValidationConfig(_Frozen):
    """Candidate selection and the gates; every threshold is calibrated on bench/power.py (README)."""

    mode: ValidationMode = "full"
    # Gate 1's criteria on the validation window, besides significance.
    min_sharpe: float = 1.0
    max_drawdown: float = Field(0.15, gt=0, le=1, description="fraction")
    # Off by default: trend followers win 17-37 % of their trades, and the benchmark found this criterion
    # removing planted momentum edges while it removed no noise.
    min_win_rate: float = Field(0.0, ge=0, le=1)
    min_trades: int = Field(30, ge=0)
    min_score: float = Field(0.7, ge=0, le=1)
    # Serialize: the ideas evolution found, near-copies once, not the top of one fitness list
    # (tasks.serialize.candidates).
    candidate_fraction: float = Field(0.2, gt=0, le=1, description="top share of feasible strategies considered")
    max_candidates: int = Field(50, ge=1)
    candidate_max_correlation: float = Field(0.9, gt=-1, le=1, description="train-return correlation at which a "
                                             "strategy is a near-copy of a chosen candidate")
    max_deployed: int = Field(10, ge=1)
    cluster_distance: float = Field(0.5, ge=0, le=2, description="1 - correlation under which strategies are one idea")
    pbo_splits: int = Field(16, ge=2, le=20, multiple_of=2, description="CSCV blocks of the train returns")
    # Gate 1: StepM over the candidates (tasks.validate.gate1_significance) and the look-ahead check.
    fwer: float = Field(0.05, gt=0, lt=1, description="family-wise error rate of the significance test")
    significance_window: SignificanceWindow = Field("validation+replay", description="data the test reads: "
                                                    "validation, or validation and replay back to back")
    bootstrap_reps: int = Field(1000, ge=100, le=100_000)
    lookahead_cuts: int = Field(8, ge=1, description="truncation points per candidate")
    # Gate 2: the event-driven replay; its trades must equal the kernel's, and it must not lose money.
    min_replay_sharpe: float = 0.0
    # Gate 3: trading through the SDK against the venue.
    min_venue_performance: float = Field(0.5, ge=0, le=1)
    venue_tolerance: float = Field(0.01, gt=0, description="|live - expected return| at which performance is 0")
    venue_capital: float = Field(100_000.0, gt=0, description="USDC funding the gate-3 account")
    concurrency: int = Field(10, ge=1, description="validation batches in flight (one task each)")
    # Gate 3 forward in real time (--testnet) instead of the loopback replay of the live window.
    testnet: bool = Field(False, description="gate 3 trades forward on testnet_url with the wallet's own key")
    testnet_minutes: float = Field(30.0, gt=0, le=24 * 60, description="wall-clock minutes each candidate trades")
    testnet_url: str = Field("testnet", description="'testnet' or the http(s) URL of a Hyperliquid-compatible "
                                                    "API (a `uce venue`); never mainnet")
    testnet_poll_s: float = Field(5.0, gt=0, le=60, description="seconds between polls for a new bar")

    @field_validator("testnet_url")
    @classmethod
    def _never_mainnet(cls, value: str) -> str:
        # Validation trades with real orders: a typo must not send them to the real money venue.
        if value == "mainnet" or value.rstrip("/") == MAINNET_API_URL:
            raise ValueError(f"{value!r} is Hyperliquid mainnet; gate 3 only trades on the testnet or a loopback venue")
        if value != "testnet" and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r}: expected 'testnet' or an http(s) URL")
        return value

    @model_validator(mode="after")
    def _testnet_needs_gate3(self) -> "ValidationConfig":
        if self.testnet and self.mode != "full":
            raise ValueError(f"testnet trades gate 3, which runs only in full validation mode, not {self.mode!r}")
        return self


class DeployConfig(_Frozen):
    """The deploy stage: the paper book's capital and the decision rules file (tasks/deploy/decision.py)."""

    capital: float = Field(10_000.0, gt=0, description="USD of the paper book; the pool size follows from it")
    rules_path: str | None = Field(None, description="YAML / JSON / TOML rules file; None = the embedded defaults")


class RunConfig(_Frozen):
    run_id: str = Field(default_factory=new_run_id)
    coins: tuple[str, ...] = ("BTC",)
    interval: str = "1h"
    seed: int = 42
    hours: float = Field(4.0, gt=0, description="time budget of the whole run")
    cost_limit: float | None = Field(None, ge=0, description="USD")
    test_mode: bool = False
    ray_address: str | None = None
    workers: int | None = Field(None, ge=1, description="CPUs of the embedded Ray (default: all)")
    evolve: EvolveConfig = EvolveConfig()
    validation: ValidationConfig = ValidationConfig()
    windows: WindowConfig = WindowConfig()
    costs: CostConfig = CostConfig()
    deploy: DeployConfig = DeployConfig()

    @field_validator("coins", mode="before")
    @classmethod
    def _coin_names(cls, value: object) -> tuple[str, ...]:
        # Any coin the store has: only the names' shape is checked here (market_source refuses missing data).
        coins = parse_coins(value) if isinstance(value, str) else tuple(coin_name(str(c)) for c in value)
        if not coins:
            raise ValueError("coins is empty; name at least one, e.g. BTC")
        return coins


# What --test-mode changes: small and fast, minimal validation. A config file and flags still apply over it.
TEST_MODE_SIZES = {
    "test_mode": True,
    "evolve": {"strategies": 50, "batch_size": 10, "generations": 5, "epoch_generations": 5, "min_trades": 2},
    "validation": {"mode": "minimal", "min_trades": 5},
}


def test_mode_config(run_id: str, *, validation: dict | None = None, **overrides: object) -> RunConfig:
    """The configuration of ``uce run --test-mode`` (TEST_MODE_SIZES); `validation` sets other
    ValidationConfig fields (e.g. concurrency), `overrides` other RunConfig fields."""
    sizes = TEST_MODE_SIZES | {"validation": TEST_MODE_SIZES["validation"] | (validation or {})}
    return RunConfig.model_validate(sizes | {"run_id": run_id} | overrides)


def stored_config(parameters: dict) -> tuple[RunConfig, list[str]]:
    """The RunConfig a manifest recorded, and the settings it names that this version no longer has (dropped,
    so that a stage of a run made by an older version can be re-run; the caller says which)."""
    dropped: list[str] = []

    def known(model: type[BaseModel], values: dict, prefix: str) -> dict:
        kept = {}
        for key, value in values.items():
            field = model.model_fields.get(key)
            if field is None:
                dropped.append(prefix + key)
            elif isinstance(value, dict) and isinstance(field.annotation, type) and issubclass(field.annotation,
                                                                                                 BaseModel):
                kept[key] = known(field.annotation, value, f"{prefix}{key}.")
            else:
                kept[key] = value
        return kept

    return RunConfig.model_validate(known(RunConfig, parameters, "")), dropped
