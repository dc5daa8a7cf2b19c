"""A run's configuration from layers — defaults, test mode, the config file, nested settings, flat parameters —
and the config file a user writes or starts from (`uce run --print-config`)."""
from __future__ import annotations

from pathlib import Path

import pytest

from flows.parameters import run_config
from tasks.run.config import RunConfig, ValidationConfig
from tasks.run.config import test_mode_config as small_config  # not test_*: pytest would collect it
from tasks.run.config_file import ConfigError, config_toml, read_config_file

NIGHT = """
coins = ["ETH", "kPEPE"]
[costs]
taker_fee = 0.0007
[windows]
validation_days = 540
[validation]
min_sharpe = 1.2
[evolve]
strategies = 100
"""


@pytest.fixture
def night(tmp_path: Path) -> Path:
    path = tmp_path / "night.toml"
    path.write_text(NIGHT)
    return path


def test_the_file_sets_what_it_names_and_leaves_the_rest_at_the_defaults(night: Path) -> None:
    config = run_config(config_file=str(night))
    assert config.coins == ("ETH", "kPEPE")
    assert (config.costs.taker_fee, config.windows.validation_days, config.validation.min_sharpe) == (0.0007, 540, 1.2)
    assert config.evolve.strategies == 100 and config.evolve.batch_size == 50
    default_maker_fee = RunConfig().costs.maker_fee
    assert config.costs.maker_fee == default_maker_fee and config.validation == ValidationConfig(min_sharpe=1.2)


def test_flags_override_the_file_and_settings_sit_between(night: Path) -> None:
    config = run_config({"strategies": 200, "coins": "btc"}, config_file=str(night),
                        settings={"costs": {"taker_fee": 0.001, "slippage_bps": 3}, "evolve": {"strategies": 150}})
    assert config.evolve.strategies == 200 and config.coins == ("BTC",)
    assert (config.costs.taker_fee, config.costs.slippage_bps) == (0.001, 3)
    assert config.windows.validation_days == 540  # what neither flags nor settings name stays the file's


def test_test_mode_sizes_lie_under_the_file(night: Path) -> None:
    config = run_config({"test_mode": True}, config_file=str(night))
    small = small_config("x")
    assert config.test_mode and config.evolve.strategies == 100  # the file's
    assert (config.evolve.batch_size, config.evolve.generations) == (small.evolve.batch_size, small.evolve.generations)
    assert config.validation.mode == "minimal"


def test_yaml_file_and_a_rules_path_relative_to_it(tmp_path: Path) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    path = folder / "run.yaml"
    path.write_text("validation:\n  fwer: 0.1\ndeploy:\n  capital: 25000\n  rules_path: rules.yaml\n")
    config = run_config(config_file=str(path))
    assert config.validation.fwer == 0.1 and config.deploy.capital == 25000
    assert config.deploy.rules_path == str(folder / "rules.yaml")


@pytest.mark.parametrize(("text", "message"), [
    ("[validation]\nmin_sharp = 1.2\n", "[validation] min_sharp is not a setting; did you mean min_sharpe? "
                                        "[validation] has mode, min_sharpe,"),
    ("[validaton]\nmin_sharpe = 1.2\n", "validaton is not a setting; did you mean validation? the top level has"),
    ("[costs]\ntaker_fee = -0.1\n", "[costs] taker_fee = -0.1: Input should be greater than or equal to 0"),
    ("[validation]\nmode = 'fastest'\n", "[validation] mode = 'fastest': Input should be 'full', 'fast' or"),
    ("[windows]\nvalidation_days = 'long'\n", "[windows] validation_days = 'long': Input should be a valid number"),
    ("coins = ['BTC', 'BT C']\n", "coins: coin name 'BT C' is not valid"),
    ("[evolve]\nstrategies = 20\n", "evolve: batch_size 50 is larger than strategies 20"),
    ("[costs\n", "not valid TOML"),
])
def test_a_bad_key_or_value_is_one_line_naming_file_key_value_and_what_is_allowed(tmp_path: Path, text: str,
                                                                                   message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        run_config(config_file=str(path))
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value), str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_file_and_bad_settings_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="absent.toml: cannot read the config file"):
        run_config(config_file=str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match=r"^settings: \[costs\] taker_feee is not a setting"):
        run_config(settings={"costs": {"taker_feee": 0.1}})


def test_print_config_reads_back_as_the_same_configuration(tmp_path: Path, night: Path) -> None:
    config = run_config({"test_mode": True, "seed": 9}, config_file=str(night),
                        settings={"deploy": {"rules_path": "/etc/uce/rules.yaml"}, "cost_limit": 2.5})
    path = tmp_path / "printed.toml"
    path.write_text(config_toml(config))
    again = run_config(config_file=str(path))
    assert again.model_copy(update={"run_id": config.run_id}) == config
    default = tmp_path / "default.toml"
    default.write_text(config_toml(RunConfig()))
    assert read_config_file(default)["windows"]["validation_days"] == 365.0  # unset optionals are commented out
    assert "cost_limit" not in read_config_file(default)
