"""Settings files a user writes (the run's config file, the deploy rules): TOML, YAML or JSON read into
nested sections, and pydantic's verdict on them turned into one line that names the file, the key, the
value and what is allowed."""
from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["SettingsFileError", "first_error", "read_settings_file"]


class SettingsFileError(ValueError):
    """A settings file that cannot be used; the message is one line naming the file and the problem."""


def read_settings_file(path: Path | str, *, what: str) -> dict[str, Any]:
    """The sections of ``path`` (TOML by its suffix, else YAML, which also reads JSON); ``what`` names the
    file's purpose in messages ("rules file", "config file"). An empty file is no sections."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsFileError(f"{path}: cannot read the {what} ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.safe_load(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsFileError(f"{path}: not valid TOML ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise SettingsFileError(f"{path}: not valid YAML ({where}{getattr(exc, 'problem', None) or exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsFileError(f"{path}: expected sections of settings, got a {type(data).__name__}")
    return data


def first_error(source: str, exc: ValidationError, model: type[BaseModel]) -> str:
    """pydantic's first complaint about settings read from ``source`` as one line: the key as it is written
    in the file (``[validation] min_sharpe``), the value, and what is allowed (for an unknown key: the
    keys its section has)."""
    err = exc.errors()[0]
    loc = [str(part) for part in err["loc"]]
    key = _key_name(loc)
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        close = difflib.get_close_matches(loc[-1], _field_names(model, loc[:-1]), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        return f"{source}: {key} is not a setting; {hint}{_allowed_keys(model, loc[:-1])}"
    if err["type"] == "missing":
        return f"{source}: {key} is missing"
    if err["type"] in ("value_error", "assertion_error") or not loc:  # a model's own check names its keys
        return f"{source}: {key + ': ' if key else ''}{message}"
    return f"{source}: {key} = {err.get('input')!r}: {message}"


def _key_name(loc: list[str]) -> str:
    """('validation', 'min_sharpe') -> '[validation] min_sharpe'; list indices stay with their key."""
    names = [part for part in loc if not part.isdigit()]
    if len(names) <= 1:
        return ".".join(loc)
    return f"[{'.'.join(names[:-1])}] {names[-1]}"


def _section_model(model: type[BaseModel], section: list[str]) -> type[BaseModel] | None:
    for name in section:
        field = model.model_fields.get(name)
        if field is None or not _is_section(field.annotation):
            return None
        model = field.annotation
    return model


def _is_section(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _field_names(model: type[BaseModel], section: list[str]) -> list[str]:
    found = _section_model(model, section)
    return list(found.model_fields) if found else []


def _allowed_keys(model: type[BaseModel], section: list[str]) -> str:
    found = _section_model(model, section)
    if found is None:
        return "check its spelling and section"
    nested = [n for n, f in found.model_fields.items() if _is_section(f.annotation)]
    keys = [n for n in found.model_fields if n not in nested]
    where = f"[{'.'.join(section)}]" if section else "the top level"
    sections = [f"sections {', '.join(f'[{n}]' for n in nested)}"] if nested else []
    parts = ([", ".join(keys)] if keys else []) + sections
    return f"{where} has {'; '.join(parts)}"
