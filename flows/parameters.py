"""The run's parameters as flat, typed values — the CLI's options and the Prefect UI's run form — and the
one mapping from them to tasks.config.RunConfig."""
from __future__ import annotations

from tasks.config import EvolveConfig, RunConfig, ValidationConfig, ValidationMode, test_mode_config
from tasks.run_dir import new_run_id

__all__ = ["flow_parameters", "parse_coins", "run_config"]


def parse_coins(coins: str) -> tuple[str, ...]:
    """'btc, eth' -> ('BTC', 'ETH')."""
    return tuple(c.strip().upper() for c in coins.split(",") if c.strip())


def run_config(*, run_id: str = "", test_mode: bool = False, coins: str = "BTC", interval: str = "1h",
               seed: int = 42, hours: float = 4.0, strategies: int = 500, batch_size: int = 50,
               generations: int = 20, validation_mode: ValidationMode = "full", cost_limit: float | None = None,
               ray_address: str = "", workers: int | None = None, validation_concurrency: int = 10,
               testnet: bool = False, testnet_minutes: float = 30.0, testnet_url: str = "testnet") -> RunConfig:
    """The RunConfig of these parameters (pydantic's ValidationError names a bad one). An empty run id
    means a new one (UTC time); test mode fixes the sizes and the validation mode (50 strategies,
    islands of 10, 5 generations, minimal)."""
    common = dict(run_id=run_id or new_run_id(), coins=parse_coins(coins), interval=interval, seed=seed, hours=hours,
                  cost_limit=cost_limit, ray_address=ray_address or None, workers=workers)
    validation = dict(concurrency=validation_concurrency, testnet=testnet, testnet_minutes=testnet_minutes,
                      testnet_url=testnet_url)
    if test_mode:
        return test_mode_config(**common, validation=validation)
    return RunConfig(**common,
                     evolve=EvolveConfig(strategies=strategies, batch_size=batch_size, generations=generations),
                     validation=ValidationConfig(mode=validation_mode, **validation))


def flow_parameters(config: RunConfig) -> dict:
    """The flat parameters whose ``run_config`` is ``config`` (for a config the CLI built)."""
    v = config.validation
    parameters = dict(run_id=config.run_id, test_mode=config.test_mode, coins=",".join(config.coins),
                      interval=config.interval, seed=config.seed, hours=config.hours,
                      strategies=config.evolve.strategies, batch_size=config.evolve.batch_size,
                      generations=config.evolve.generations, validation_mode=v.mode,
                      cost_limit=config.cost_limit, ray_address=config.ray_address or "", workers=config.workers,
                      validation_concurrency=v.concurrency, testnet=v.testnet, testnet_minutes=v.testnet_minutes,
                      testnet_url=v.testnet_url)
    if run_config(**parameters) != config:
        raise ValueError(f"run {config.run_id}: its configuration has settings the flow's parameters cannot express")
    return parameters
