"""The run's parameters as flat, typed values — the CLI's options and the Prefect UI's run form — and the
one mapping from them, a config file and nested settings to tasks.run.config.RunConfig.

A flat parameter left at None (or an empty string) is unset: the value then comes from the settings, the
config file, test mode's sizes or the models' defaults, in that order."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasks.run.config import RunConfig
from tasks.run.config_file import ConfigError, ConfigLayer, layered_config, read_config_file

__all__ = ["FLAT_FIELDS", "run_config"]

# Each flat parameter and the configuration field it sets.
FLAT_FIELDS: dict[str, tuple[str, ...]] = {
    "run_id": ("run_id",),
    "test_mode": ("test_mode",),
    "coins": ("coins",),
    "interval": ("interval",),
    "seed": ("seed",),
    "hours": ("hours",),
    "cost_limit": ("cost_limit",),
    "ray_address": ("ray_address",),
    "workers": ("workers",),
    "strategies": ("evolve", "strategies"),
    "batch_size": ("evolve", "batch_size"),
    "generations": ("evolve", "generations"),
    "validation_mode": ("validation", "mode"),
    "validation_concurrency": ("validation", "concurrency"),
    "testnet": ("validation", "testnet"),
    "testnet_minutes": ("validation", "testnet_minutes"),
    "testnet_url": ("validation", "testnet_url"),
}


def run_config(flat: Mapping[str, Any] | None = None, *, config_file: str = "",
               settings: Mapping[str, Any] | None = None, flat_names: Mapping[str, str] | None = None) -> RunConfig:
    """The RunConfig of the defaults, then test mode's sizes (when test mode is on anywhere), then the
    config file, then ``settings`` (nested like the file), then the set ``flat`` parameters.

    A new run gets a run id (the UTC time) unless one is set. Raises ConfigError with one line naming
    where the bad value came from; ``flat_names`` spells flat parameters as the caller's user knows them
    (the CLI's ``--batch-size``)."""
    flat = {k: v for k, v in (flat or {}).items() if v is not None and v != ""}
    unknown = set(flat) - set(FLAT_FIELDS)
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(sorted(unknown))}")
    from_file = read_config_file(config_file) if config_file else {}
    layers: list[ConfigLayer] = [(config_file, from_file), ("settings", settings or {})]
    test_mode = next((bool(layer.get("test_mode")) for layer in (flat, settings or {}, from_file)
                      if layer.get("test_mode") is not None), False)
    layered_config(layers, test_mode=test_mode)  # the file's and the settings' own errors name them
    try:
        config = layered_config([*layers, ("parameters", _nested(flat))], test_mode=test_mode)
    except ConfigError as exc:
        raise _flat_error(exc, flat_names or {}) from None
    return config


def _nested(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in flat.items():
        *sections, key = FLAT_FIELDS[name]
        target = out
        for section in sections:
            target = target.setdefault(section, {})
        target[key] = value
    return out


def _flat_error(exc: ConfigError, names: Mapping[str, str]) -> ConfigError:
    """A flat parameter's error spelled with the parameter's name: ``--strategies: Input should be ...``; a
    model's own check across fields keeps its message, which names the fields."""
    name = next((n for n, path in FLAT_FIELDS.items() if path == exc.field), None)
    message = f"{names.get(name, name)}: {exc.reason}" if name else exc.reason
    return ConfigError(message, exc.field, exc.reason)
