"""report.json and report.html from a small real run folder: schema-valid, counts that match the artifacts,
identical on rebuild, every section present, nothing fetched from outside."""
from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from report_fixtures import REFRESH_FAILED, REFRESHED, RESILIENCE, build_run, with_data_refresh, without_deployments

from tasks.report.html_page import SECTION_IDS, build_report_html, write_report_html
from tasks.report.html_search import pareto_front
from tasks.report.markdown_artifact import publish_report_artifact, report_markdown
from tasks.report.readings import (
    configuration_reading,
    data_refresh_reading,
    dsr_reading,
    pbo_reading,
    significance_reading,
)
from tasks.report.report_json import build_report, report_html_path, report_schema, write_report
from tasks.run.run_dir import RunDir


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("report-data")


@pytest.fixture(scope="module")
def run(data_dir) -> RunDir:
    return build_run(data_dir)


@pytest.fixture(scope="module")
def undeployed(run, data_dir) -> RunDir:
    return without_deployments(run, data_dir)


@pytest.fixture(scope="module")
def refreshed(run, data_dir) -> RunDir:
    return with_data_refresh(run, data_dir, REFRESHED, "refreshed")


@pytest.fixture(scope="module")
def refresh_failed(run, data_dir) -> RunDir:
    return with_data_refresh(run, data_dir, REFRESH_FAILED, "refresh-failed")


def test_report_json_validates_against_the_schema(run, undeployed, refreshed, refresh_failed, tmp_path) -> None:
    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for r in (run, undeployed, refreshed, refresh_failed):
        jsonschema.validate(write_report(r), schema)
        jsonschema.validate(json.loads(r.report.read_text()), schema)
    # A run that failed before writing any artifact still gets a valid report.
    early = RunDir(tmp_path / "runs" / "early")
    early.update_manifest(run_id="early", status="failed", parameters={"seed": 1, "hours": 1.0})
    early.record_stage("evolve", "failed", seconds=1.0, error="MarketDataError: no bars")
    early.update_manifest(data_refresh={"endpoint": "testnet", "ok": False, "error": "data refresh failed: x"})
    report = build_report(early)
    jsonschema.validate(report, schema)
    assert report["stage_errors"] == {"evolve": "MarketDataError: no bars"}
    assert report["deployed"] == [] and report["execution_summary"]["strategies_evaluated"] == 0
    assert _section_ids(build_report_html(early)) == list(SECTION_IDS)
    assert report["data_refresh"] == {"endpoint": "testnet", "interval": None, "ok": False, "new_bars": None,
                                      "coins": [], "error": "data refresh failed: x", "seconds": None}


def test_the_data_refresh_before_the_run_is_reported(run, refreshed, refresh_failed) -> None:
    report = build_report(refreshed)
    assert report["data_refresh"] == {
        "endpoint": "mainnet", "interval": "1h", "ok": True, "new_bars": 24,
        "coins": [{"coin": "BTC", "candles_added": 24, "candles_total": 1800, "funding_added": 24, "gaps": 0,
                   "last_bar": "2023-03-16T23:00:00+00:00"}],
        "error": None, "seconds": 1.25}
    fresh = "Fresh data: 24 new hourly bars for BTC from mainnet before this run."
    assert fresh in build_report_html(refreshed) and fresh in report_markdown(report, report_html_path(refreshed))
    failed = ("Data refresh from mainnet failed (TransportError: [Errno -3] Temporary failure in name resolution); "
              "the run used the store as it was (last bar 2023-03-16 23:00 UTC).")
    assert failed in build_report_html(refresh_failed)
    assert build_report(refresh_failed)["data_refresh"]["error"] == REFRESH_FAILED["error"]
    plain = build_report(run)
    assert plain["data_refresh"] is None
    html = build_report_html(run)
    assert "Data refresh" not in html and "Fresh data" not in html
    assert "Fresh data" not in report_markdown(plain, Path("r"))


def test_report_counts_match_the_artifacts(run) -> None:
    report = build_report(run)
    evolved = pd.read_parquet(run.evolved)
    validated = pd.read_parquet(run.validated)
    deployed = pd.read_parquet(run.deployed)
    s = report["execution_summary"]
    assert s["strategies_evaluated"] == int(evolved["evaluated"].sum()) < len(evolved)  # migrants are not trials
    assert s["candidates"] == len(validated) and s["strategies_validated"] == int(validated["passed"].sum())
    assert s["strategies_deployed"] == len(deployed) == len(report["deployed"]) > 0
    assert s["seconds_total"] == 20.0 and report["stage_seconds"]["validate"] == 3.25
    counts = [f["count"] for f in report["validation"]["funnel"]]
    assert [f["step"] for f in report["validation"]["funnel"]][:2] == ["evaluated", "candidates"]
    assert counts[4] is None  # gate 3 is not performed in fast mode
    known = [c for c in counts if c is not None]
    assert known == sorted(known, reverse=True)
    train, test = report["multiple_testing"]["train"], report["multiple_testing"]["validation"]
    candidates = pd.read_parquet(run.candidates)
    assert train["trials"] == s["strategies_evaluated"] and train["effective_trials"] is not None
    assert train["best_dsr"] == pytest.approx(candidates["train_dsr"].max()) and 1 <= train["ideas"] <= len(candidates)
    assert test["candidates"] == len(validated) and test["fwer"] == 0.99
    assert test["significant"] == int(validated["gate1_significant"].sum()) and test["critical_sharpe"] is not None
    assert report["resilience"]["events"] == RESILIENCE["events"]
    first = report["deployed"][0]
    assert first["strategy_id"] == deployed["strategy_id"].iat[0]
    assert first["members"] and "leverage" in first["members"][0]["params"]
    assert set(first["gates"]) == {"gate1", "gate2"} and "sharpe" in first["gates"]["gate1"]["metrics"]
    assert first["allocation"] == pytest.approx(deployed["allocation"].iat[0]) and 0 < first["allocation"] <= 1
    assert report["deployment"]["chosen"] == len(deployed)


def test_reports_rebuild_identically(run) -> None:
    write_report(run)
    first_json = run.report.read_bytes()
    first_html = write_report_html(run).read_bytes()
    write_report(run)
    assert run.report.read_bytes() == first_json
    assert write_report_html(run).read_bytes() == first_html


def _section_ids(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', html)


def test_every_section_is_present_and_the_deployed_strategies_are_detailed(run) -> None:
    html = build_report_html(run)
    assert _section_ids(html) == list(SECTION_IDS)
    deployed = pd.read_parquet(run.deployed)
    for strategy_id in deployed["strategy_id"]:
        assert strategy_id in html
    for window in ("validation", "replay", "live"):
        assert html.count(f'aria-label="equity on the {window} window"') == len(deployed)
    assert html.count('aria-label="lineage of ') == len(deployed)
    assert "market data verified" in html and "No strategy was deployed" not in html


def test_without_deployments_the_top_candidates_are_shown_and_said_so(undeployed) -> None:
    html = build_report_html(undeployed)
    assert _section_ids(html) == list(SECTION_IDS)
    assert "No strategy was deployed" in html
    assert html.count('aria-label="equity on the validation window"') == 3


def test_the_page_is_self_contained(run) -> None:
    html = build_report_html(run)
    assert "<script" not in html and "<link" not in html and "<img" not in html and "@import" not in html
    assert set(re.findall(r"https?://[^\s\"')]+", html)) == {"http://www.w3.org/2000/svg"}


def test_plain_language_readings() -> None:
    train = {"best_dsr": 0.42, "trials": 1200, "effective_trials": 35.2}
    assert "tried 1,200 strategies" in dsr_reading(train) and "35 of them effectively independent" in dsr_reading(train)
    assert "a 42% probability of reflecting real skill" in dsr_reading(train)
    assert "of the train window's 16 blocks" in pbo_reading(0.6, 16)
    assert "no better than chance" in pbo_reading(0.6, 16) and "reliable" in pbo_reading(0.1, 16)
    assert pbo_reading(None, None).startswith("No PBO")
    test = {"candidates": 12, "window": "validation+replay", "days": 455, "fwer": 0.05, "critical_sharpe": 2.18,
            "significant": 3, "spa_pvalue": 0.016, "reps": 1000, "skipped": None}
    reading = significance_reading(test, 5)
    assert ("The 12 candidates (5 distinct ideas) were tested on 455 days of the validation and replay windows"
            in reading)
    assert "beat an annualised Sharpe of 2.18; 3 stood out from cash" in reading and "1.6%" in reading
    assert "under 1 in 1,000" in significance_reading(test | {"spa_pvalue": 0.0}, 5)
    assert significance_reading(test | {"candidates": 0}, None).startswith("No significance test")
    short = significance_reading(test | {"skipped": "only 4 days on validation+replay, the test needs 8"}, 5)
    assert short.startswith("No significance test (only 4 days")


def test_data_refresh_readings() -> None:
    def coin(name: str, added: int, last: str | None = "2024-05-01T23:00:00+00:00") -> dict:
        return {"coin": name, "candles_added": added, "last_bar": last}

    ok = {"endpoint": "mainnet", "interval": "1h", "ok": True, "error": None,
          "coins": [coin("BTC", 24), coin("ETH", 1), coin("SOL", 0), coin("HYPE", 3)]}
    assert data_refresh_reading(ok) == ("Fresh data: 24 new hourly bars for BTC, 1 for ETH and 3 for HYPE from "
                                        "mainnet before this run.")
    assert data_refresh_reading(ok | {"coins": [coin("ETH", 1)]}).startswith("Fresh data: 1 new hourly bar for ETH")
    assert data_refresh_reading(ok | {"interval": "4h", "coins": [coin("BTC", 0)]}) == (
        "Data refresh from mainnet found no new 4h bars: the run used the store as it was "
        "(last bar 2024-05-01 23:00 UTC).")
    failed = ok | {"ok": False, "error": "data refresh from testnet (https://x) failed: ConfigurationError: coins DOGE "
                                         "are not listed by https://x", "endpoint": "testnet"}
    assert data_refresh_reading(failed | {"coins": [coin("BTC", 0), coin("DOGE", 0, None)]}) == (
        "Data refresh from testnet failed (ConfigurationError: coins DOGE are not listed by https://x); the run used "
        "the store as it was (last bars BTC 2024-05-01 23:00 UTC, DOGE none).")
    assert data_refresh_reading(failed | {"coins": [coin("BTC", 5)]}) == (
        "Data refresh from testnet failed (ConfigurationError: coins DOGE are not listed by https://x) after 5 new "
        "hourly bars for BTC; the run used the store as it then was (last bar 2024-05-01 23:00 UTC).")
    assert data_refresh_reading(None) is None


def test_pareto_front_keeps_only_undominated_points() -> None:
    import numpy as np
    x = np.array([0.1, 0.2, 0.05, 0.3, 0.2])
    y = np.array([1.0, 2.0, 0.5, 1.5, 2.5])
    assert pareto_front(x, y).tolist() == [2, 0, 4]


def test_publish_links_the_html_report(run, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr("prefect.artifacts.create_markdown_artifact",
                        lambda **kwargs: calls.append(kwargs) or "artifact-id")
    write_report(run)
    assert publish_report_artifact(run) == "artifact-id"
    (call,) = calls
    assert call["key"] == "uce-report-fixture"
    assert report_html_path(run).resolve().as_uri() in call["markdown"]


def test_the_configuration_says_where_settings_came_from_and_what_differs(run, data_dir) -> None:
    """The fixture run changes sizes, seed, hours, folds and gate thresholds from the defaults; a config
    file, when the run read one, is named with its sha256."""
    configuration = build_report(run)["configuration"]
    assert configuration["file"] is None
    changed = configuration["changed"]
    assert changed["seed"] == 5 and changed["evolve.strategies"] == 16 and changed["windows.folds"] == 2
    assert "costs.taker_fee" not in changed and "run_id" not in changed
    copy = with_data_refresh(run, data_dir, REFRESHED, "configured")
    copy.update_manifest(config_file={"path": "/etc/uce/night.toml", "sha256": "ab" * 32},
                         parameters=copy.manifest()["parameters"] | {"costs": {"taker_fee": 0.0007}})
    report = build_report(copy)
    assert report["configuration"]["file"] == {"path": "/etc/uce/night.toml", "sha256": "ab" * 32}
    assert report["configuration"]["changed"]["costs.taker_fee"] == 0.0007
    jsonschema.validate(report, report_schema())
    reading = configuration_reading(report["configuration"])
    assert reading.startswith("Settings from /etc/uce/night.toml; changed from the defaults:")
    assert "costs.taker_fee = 0.0007" in reading
