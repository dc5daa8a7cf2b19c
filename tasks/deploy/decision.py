"""The decision engine: how many strategies to deploy, which ones qualify, and the rules the paper trader
enforces, all in one validated rules file.

The rules file is YAML (.yaml / .yml; JSON is valid YAML) or TOML (.toml). Every rule has an embedded
default (the numbers below), so a file only names what it changes:

    pool:                       # how many strategies to deploy
      capital_per_strategy: 1000  # base size = capital / 1000, at least `minimum`
      minimum: 3
      high_sharpe: 2.0          # mean validation Sharpe above it: + high_sharpe_bonus
      high_sharpe_bonus: 5
      low_sharpe: 0.5           # below it: - low_sharpe_penalty
      low_sharpe_penalty: 3
      floor: 3                  # then clamped to floor..ceiling
      ceiling: 25
      max_strategies: 10        # and capped here
    approval:                   # a validated strategy qualifies when it meets min_criteria of the 4
      min_validation_sharpe: 1.0
      min_replay_sharpe: 0.8
      max_drawdown: 0.12        # validation-window drawdown, fraction
      min_overall_score: 0.7
      min_criteria: 3
    selection:
      max_correlation: 0.7      # of validation-window returns between two deployed strategies
    retirement: {negative_sharpe_days: 7, max_drawdown: 0.15, drawdown_days: 3, min_bars: 24}
    emergency: {daily_loss: 0.05, weekly_loss: 0.15, max_drawdown: 0.20}
    risk: {reduce: 0.5, boost: 1.2, high_volatility: 1.5, low_volume: 0.5, high_correlation: 0.7, ...}

A bad file fails with one line naming the file, the rule and what is wrong with it, e.g.
``rules.yaml: [emergency] daily_loss = 1.5: Input should be less than or equal to 1``.
Retirement, emergency and risk rules are exchange.paper.rules (the paper trader applies them).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from exchange.paper.rules import EmergencyRules, PaperRules, RetirementRules, RiskRules
from tasks.run.settings_file import SettingsFileError, first_error, read_settings_file

__all__ = ["ApprovalRules", "Approval", "DecisionRules", "PoolDecision", "PoolRules", "RulesError", "SelectionRules",
           "approve", "load_rules", "pool_size", "rules_template"]


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PoolRules(_Rules):
    """Pool size = max(minimum, capital / capital_per_strategy), adjusted by the mean validation Sharpe,
    clamped to floor..ceiling, capped at max_strategies."""

    capital_per_strategy: float = Field(1000.0, gt=0, description="USD of capital per deployed strategy")
    minimum: int = Field(3, ge=1)
    high_sharpe: float = 2.0
    high_sharpe_bonus: int = Field(5, ge=0)
    low_sharpe: float = 0.5
    low_sharpe_penalty: int = Field(3, ge=0)
    floor: int = Field(3, ge=1)
    ceiling: int = Field(25, ge=1)
    max_strategies: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> "PoolRules":
        if self.floor > self.ceiling:
            raise ValueError(f"floor={self.floor} must not exceed ceiling={self.ceiling}")
        if self.low_sharpe > self.high_sharpe:
            raise ValueError(f"low_sharpe={self.low_sharpe} must not exceed high_sharpe={self.high_sharpe}")
        return self


class ApprovalRules(_Rules):
    """The four criteria a validated strategy is judged on; it qualifies when it meets `min_criteria`."""

    min_validation_sharpe: float = 1.0
    min_replay_sharpe: float = 0.8
    max_drawdown: float = Field(0.12, gt=0, le=1, description="validation-window max drawdown, fraction")
    min_overall_score: float = Field(0.7, ge=0, le=1)
    min_criteria: int = Field(3, ge=1, le=4, description="criteria of the four a strategy must meet")


class SelectionRules(_Rules):
    max_correlation: float = Field(0.7, ge=-1, le=1, description="most validation-return correlation of a pair")


class DecisionRules(_Rules):
    """Every rule of deployment and paper trading (module docstring)."""

    pool: PoolRules = PoolRules()
    approval: ApprovalRules = ApprovalRules()
    selection: SelectionRules = SelectionRules()
    retirement: RetirementRules = RetirementRules()
    emergency: EmergencyRules = EmergencyRules()
    risk: RiskRules = RiskRules()

    @property
    def paper(self) -> PaperRules:
        """The rules the paper trader enforces."""
        return PaperRules(retirement=self.retirement, emergency=self.emergency, risk=self.risk)


class RulesError(SettingsFileError):
    """A rules file that cannot be used; the message is one line naming the file and the rule."""


def load_rules(path: Path | str | None) -> DecisionRules:
    """The rules of `path` over the embedded defaults (the defaults alone when `path` is None).

    Raises RulesError (one line: file, rule, problem) for a missing, unreadable or invalid file.
    """
    if path is None:
        return DecisionRules()
    try:
        return DecisionRules.model_validate(read_settings_file(path, what="rules file"))
    except SettingsFileError as exc:
        raise RulesError(str(exc)) from None
    except ValidationError as exc:
        raise RulesError(first_error(str(path), exc, DecisionRules)) from None


def rules_template() -> str:
    """The embedded defaults as a YAML rules file (every rule, every default)."""
    return yaml.safe_dump(DecisionRules().model_dump(mode="json"), sort_keys=False)


class PoolDecision(NamedTuple):
    size: int
    reason: str


def pool_size(capital: float, mean_sharpe: float | None, rules: PoolRules) -> PoolDecision:
    """How many strategies to deploy with `capital` USD when the candidates' mean validation Sharpe is
    `mean_sharpe` (None or NaN: no adjustment), and why.

    >>> pool_size(10_000, 2.5, PoolRules()).size, pool_size(10_000, 0.2, PoolRules()).size
    (10, 7)
    """
    if not capital > 0:
        raise ValueError(f"capital={capital!r} must be > 0 USD")
    base = max(rules.minimum, math.floor(capital / rules.capital_per_strategy))
    parts = [f"capital {capital:,.0f} / {rules.capital_per_strategy:,.0f} -> {base}"]
    size = base
    if mean_sharpe is not None and math.isfinite(mean_sharpe):
        if mean_sharpe > rules.high_sharpe:
            size += rules.high_sharpe_bonus
            parts.append(f"mean validation Sharpe {mean_sharpe:.2f} > {rules.high_sharpe:g}: "
                         f"+{rules.high_sharpe_bonus}")
        elif mean_sharpe < rules.low_sharpe:
            size -= rules.low_sharpe_penalty
            parts.append(f"mean validation Sharpe {mean_sharpe:.2f} < {rules.low_sharpe:g}: "
                         f"-{rules.low_sharpe_penalty}")
    clamped = min(max(size, rules.floor), rules.ceiling)
    if clamped != size:
        parts.append(f"clamped to {rules.floor}..{rules.ceiling}")
    final = min(clamped, rules.max_strategies)
    if final != clamped:
        parts.append(f"capped at {rules.max_strategies}")
    return PoolDecision(final, "; ".join(parts) + f" => {final}")


class Approval(NamedTuple):
    approved: bool
    met: int
    reason: str


def _value(row: Mapping[str, Any], key: str) -> float | None:
    value = row.get(key)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def approve(row: Mapping[str, Any], rules: ApprovalRules) -> Approval:
    """Judge one validated.parquet row (gate1_sharpe, gate2_sharpe, gate1_max_drawdown, overall_score;
    a missing or NaN value fails its criterion as "not measured")."""
    criteria = (
        ("validation Sharpe", _value(row, "gate1_sharpe"), rules.min_validation_sharpe, ">="),
        ("replay Sharpe", _value(row, "gate2_sharpe"), rules.min_replay_sharpe, ">="),
        ("validation drawdown", _value(row, "gate1_max_drawdown"), rules.max_drawdown, "<="),
        ("overall score", _value(row, "overall_score"), rules.min_overall_score, ">="),
    )
    met, notes = 0, []
    for name, got, limit, op in criteria:
        if got is None:
            notes.append(f"{name} not measured")
            continue
        ok = got >= limit if op == ">=" else got <= limit
        met += ok
        shown = f"{got:.1%}" if "drawdown" in name else f"{got:.2f}"
        bound = f"{limit:.0%}" if "drawdown" in name else f"{limit:g}"
        notes.append(f"{name} {shown} {'meets' if ok else 'misses'} {op} {bound}")
    approved = met >= rules.min_criteria
    verdict = "approved" if approved else "not approved"
    return Approval(approved, met, f"{verdict}: {met} of 4 criteria (need {rules.min_criteria}): " + "; ".join(notes))
