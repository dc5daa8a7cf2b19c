"""report.json and report.html from a small real run folder: schema-valid, counts that match the artifacts,
identical on rebuild, every section present, nothing fetched from outside."""
from __future__ import annotations

import json
import re

import jsonschema
import pandas as pd
import pytest
from report_fixtures import RESILIENCE, build_run, without_deployments

from tasks.report import build_report, publish_report_artifact, report_html_path, report_schema, write_report
from tasks.report_html import (SECTION_IDS, build_report_html, dsr_reading, pareto_front, pbo_reading,
                               significance_reading, write_report_html)
from tasks.run_dir import RunDir


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("report-data")


@pytest.fixture(scope="module")
def run(data_dir) -> RunDir:
    return build_run(data_dir)


@pytest.fixture(scope="module")
def undeployed(run, data_dir) -> RunDir:
    return without_deployments(run, data_dir)


def test_report_json_validates_against_the_schema(run, undeployed, tmp_path) -> None:
    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for r in (run, undeployed):
        jsonschema.validate(write_report(r), schema)
        jsonschema.validate(json.loads(r.report.read_text()), schema)
    # A run that failed before writing any artifact still gets a valid report.
    early = RunDir(tmp_path / "runs" / "early")
    early.update_manifest(run_id="early", status="failed", parameters={"seed": 1, "hours": 1.0})
    early.record_stage("evolve", "failed", seconds=1.0, error="MarketDataError: no bars")
    report = build_report(early)
    jsonschema.validate(report, schema)
    assert report["stage_errors"] == {"evolve": "MarketDataError: no bars"}
    assert report["deployed"] == [] and report["execution_summary"]["strategies_evaluated"] == 0
    assert _section_ids(build_report_html(early)) == list(SECTION_IDS)


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
