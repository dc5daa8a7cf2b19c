"""The decision engine: the issue's numbers as defaults, pool size and approval, and rules files that
fail with one clear line."""
from __future__ import annotations

import pytest

from exchange.paper.rules import PaperRules
from tasks.deploy.decision import (ApprovalRules, DecisionRules, PoolRules, RulesError, approve, load_rules, pool_size,
                                   rules_template)


@pytest.mark.parametrize(("capital", "sharpe", "size"), [
    (10_000, 1.0, 10),    # capital / 1000
    (10_000, 2.5, 10),    # +5 = 15, capped at 10
    (10_000, 0.2, 7),     # -3
    (2_000, 1.0, 3),      # at least 3
    (2_000, 2.5, 8),      # 3 + 5
    (1_000, 0.1, 3),      # 3 - 3 = 0, floor 3
    (4_500, None, 4),     # no Sharpe: no adjustment
    (4_500, float("nan"), 4),
])
def test_pool_size_follows_the_issue(capital, sharpe, size) -> None:
    decision = pool_size(capital, sharpe, PoolRules())
    assert decision.size == size and decision.reason.endswith(f"=> {size}")


def test_pool_range_without_the_cap() -> None:
    rules = PoolRules(max_strategies=100)
    assert pool_size(30_000, 2.5, rules).size == 25  # 30 + 5, ceiling 25
    assert "clamped to 3..25" in pool_size(30_000, 2.5, rules).reason
    with pytest.raises(ValueError, match="capital"):
        pool_size(0, 1.0, rules)


def test_approval_needs_three_of_four_criteria() -> None:
    good = {"gate1_sharpe": 1.5, "gate2_sharpe": 1.0, "gate1_max_drawdown": 0.08, "overall_score": 0.8}
    verdict = approve(good, ApprovalRules())
    assert (verdict.approved, verdict.met) == (True, 4)
    assert verdict.reason == ("approved: 4 of 4 criteria (need 3): validation Sharpe 1.50 meets >= 1; "
                              "replay Sharpe 1.00 meets >= 0.8; validation drawdown 8.0% meets <= 12%; "
                              "overall score 0.80 meets >= 0.7")
    one_off = good | {"gate1_max_drawdown": 0.2}
    verdict = approve(one_off, ApprovalRules())
    assert verdict.approved and verdict.met == 3 and "validation drawdown 20.0% misses <= 12%" in verdict.reason
    no_replay = {k: v for k, v in good.items() if k != "gate2_sharpe"}  # minimal mode: gate 2 never ran
    verdict = approve(no_replay, ApprovalRules())
    assert verdict.approved and "replay Sharpe not measured" in verdict.reason
    two = one_off | {"gate2_sharpe": float("nan")}
    assert not approve(two, ApprovalRules()).approved
    assert approve(two, ApprovalRules(min_criteria=2)).approved


def test_defaults_and_partial_files(tmp_path) -> None:
    assert load_rules(None) == DecisionRules()
    rules = load_rules(None)
    assert (rules.retirement.negative_sharpe_days, rules.retirement.max_drawdown, rules.retirement.drawdown_days) == \
        (7, 0.15, 3)
    assert (rules.emergency.daily_loss, rules.emergency.weekly_loss, rules.emergency.max_drawdown) == (0.05, 0.15, 0.2)
    assert (rules.risk.reduce, rules.risk.boost) == (0.5, 1.2) and rules.selection.max_correlation == 0.7
    assert rules.paper == PaperRules(retirement=rules.retirement, emergency=rules.emergency, risk=rules.risk)
    yaml_file = tmp_path / "rules.yaml"
    yaml_file.write_text("selection:\n  max_correlation: 0.5\nretirement:\n  drawdown_days: 1\n")
    rules = load_rules(yaml_file)
    assert rules.selection.max_correlation == 0.5 and rules.retirement.drawdown_days == 1
    assert rules.retirement.max_drawdown == 0.15 and rules.pool == PoolRules()
    toml_file = tmp_path / "rules.toml"
    toml_file.write_text("[emergency]\ndaily_loss = 0.03\n")
    assert load_rules(toml_file).emergency.daily_loss == 0.03
    json_file = tmp_path / "rules.json"
    json_file.write_text('{"approval": {"min_criteria": 4}}')
    assert load_rules(json_file).approval.min_criteria == 4
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_rules(empty) == DecisionRules()
    template = tmp_path / "template.yaml"
    template.write_text(rules_template())
    assert load_rules(template) == DecisionRules()


@pytest.mark.parametrize(("text", "message"), [
    ("emergency:\n  daily_loss: 1.5\n", "[emergency] daily_loss = 1.5: Input should be less than or equal to 1"),
    ("emergency:\n  daily_loss: lots\n", "[emergency] daily_loss = 'lots': Input should be a valid number"),
    ("emergncy:\n  daily_loss: 0.1\n", "emergncy is not a setting; did you mean emergency? the top level has"),
    ("approval:\n  min_criteria: 5\n", "[approval] min_criteria = 5: Input should be less than or equal to 4"),
    ("pool:\n  floor: 9\n  ceiling: 4\n", "pool: floor=9 must not exceed ceiling=4"),
    ("risk:\n  short_bars: 800\n", "risk: long_bars=720 must exceed short_bars=800"),
    ("pool: [1, 2\n", "not valid YAML (line 2"),
    ("- 1\n- 2\n", "expected sections of settings, got a list"),
])
def test_a_bad_rule_is_one_line_naming_file_and_rule(tmp_path, text, message) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_toml_and_missing_files(tmp_path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("[pool\n")
    with pytest.raises(RulesError, match="not valid TOML"):
        load_rules(path)
    with pytest.raises(RulesError, match="cannot read the rules file"):
        load_rules(tmp_path / "absent.yaml")
