"""A run's configuration from layers: the models' defaults, test mode's small sizes, the user's config file,
nested settings (the Prefect form's JSON field) and the flat command-line / flow parameters, each over the
one before. The config file's sections and keys are the models' (``[costs] taker_fee = 0.0007``), and
``config_toml`` writes any configuration back as such a file."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tasks.run.config import TEST_MODE_SIZES, RunConfig
from tasks.run.settings_file import SettingsFileError, first_error, read_settings_file

__all__ = ["ConfigError", "ConfigLayer", "config_file_record", "config_toml", "layered_config", "read_config_file"]

ConfigLayer = tuple[str, Mapping[str, Any]]
"""(where the values came from, nested values), e.g. ("night.toml", {"costs": {"taker_fee": 0.0007}})."""


class ConfigError(ValueError):
    """Settings that do not make a configuration; one line naming where, the key, the value and what is allowed.
    A value the models refused also carries its field (``("evolve", "strategies")``) and pydantic's reason."""

    def __init__(self, message: str, field: tuple[str, ...] = (), reason: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason or message


def read_config_file(path: Path | str) -> dict[str, Any]:
    """The nested settings of a TOML or YAML config file; a relative ``[deploy] rules_path`` is taken
    relative to the config file, so a file and its rules can move together."""
    path = Path(path).expanduser()
    try:
        values = read_settings_file(path, what="config file")
    except SettingsFileError as exc:
        raise ConfigError(str(exc)) from None
    deploy = values.get("deploy")
    if isinstance(deploy, dict) and isinstance(deploy.get("rules_path"), str):
        rules = Path(deploy["rules_path"]).expanduser()
        values["deploy"] = deploy | {"rules_path": str(rules if rules.is_absolute() else path.parent / rules)}
    return values


def config_file_record(path: Path | str) -> dict[str, str]:
    """What the manifest keeps of the config file a run read: where, and its sha256."""
    path = Path(path).expanduser().resolve()
    return {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def layered_config(layers: Sequence[ConfigLayer], *, test_mode: bool) -> RunConfig:
    """The RunConfig of ``layers`` applied in order over the defaults (over test mode's sizes when
    ``test_mode``). Each layer is checked as it is added, so an error names the layer that caused it."""
    merged: dict[str, Any] = _merge({}, TEST_MODE_SIZES) if test_mode else {}
    config = RunConfig.model_validate(merged)
    for source, values in layers:
        if not values:
            continue
        if not isinstance(values, Mapping):
            raise ConfigError(f"{source}: expected sections of settings, got a {type(values).__name__}")
        merged = _merge(merged, values)
        try:
            config = RunConfig.model_validate(merged)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise ConfigError(first_error(source, exc, RunConfig), tuple(map(str, error["loc"])),
                              error["msg"].removeprefix("Value error, ")) from None
    return config


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on ``base``, section by section (a section in ``over`` changes only the keys it names)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def config_toml(config: RunConfig) -> str:
    """``config`` as a config file: every setting with its value, described where the model describes it.
    Unset optional settings are commented out (TOML has no null). The run id is left out: it names one run."""
    lines = ["# uce run configuration: `uce run --config FILE`; command-line flags override it.", ""]
    lines += _toml_fields(config, skip={"run_id"})
    for name, field in RunConfig.model_fields.items():
        value = getattr(config, name)
        if isinstance(value, BaseModel):
            about = (field.description or type(value).__doc__ or "").strip()
            lines += ["", *([f"# {about.splitlines()[0]}"] if about else []), f"[{name}]", *_toml_fields(value)]
    return "\n".join(lines) + "\n"


def _toml_fields(model: BaseModel, skip: set[str] = frozenset()) -> list[str]:
    lines = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if name in skip or isinstance(value, BaseModel):
            continue
        if value is None:
            lines.append(f"# {name} =   # unset{'; ' + field.description if field.description else ''}")
            continue
        if field.annotation is float:
            value = float(value)  # 365 stays a float when read back
        lines.append(f"{name} = {_toml_value(value)}{'  # ' + field.description if field.description else ''}")
    return lines


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")
