"""A run's recorded configuration read back by a newer version: settings that no longer exist are named and
dropped, everything else is kept and still validated."""
from __future__ import annotations

import pydantic
import pytest

from tasks.run.config import RunConfig, ValidationConfig, stored_config


def test_settings_a_newer_version_removed_are_named_and_dropped():
    recorded = RunConfig(run_id="old", validation=ValidationConfig(fwer=0.1)).model_dump(mode="json")
    recorded["validation"] |= {"min_dsr": 0.95, "min_consistency": 0.6}
    recorded["retired_option"] = 1
    config, dropped = stored_config(recorded)
    assert sorted(dropped) == ["retired_option", "validation.min_consistency", "validation.min_dsr"]
    assert config.run_id == "old" and config.validation.fwer == 0.1


def test_a_current_configuration_round_trips_with_nothing_dropped():
    config = RunConfig(run_id="now", coins=("BTC", "ETH"))
    assert stored_config(config.model_dump(mode="json")) == (config, [])


def test_a_bad_value_is_still_refused():
    recorded = RunConfig(run_id="bad").model_dump(mode="json")
    recorded["validation"]["fwer"] = 2.0
    with pytest.raises(pydantic.ValidationError, match="fwer"):
        stored_config(recorded)
