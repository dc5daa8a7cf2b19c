"""report.json: what a run tried, what survived, how long it took, what it used, which data it saw and how
that data was refreshed before the run.

Built only from the run's artifacts and manifest (every column read defensively: a missing one gives
null), so rebuilding it from the same files gives the same bytes: no build time inside, every list in a
fixed order. Field names are stable; tasks/schemas/report.schema.json pins them and the tests validate
every report against it. Rates and shares are fractions (0.25 = 25 %), times in seconds unless named.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exchange.atomic import write_json_atomic
from kernels.families import FAMILY_NAMES, decode_params
from tasks.config import RunConfig
from tasks.run_dir import STAGES, RunDir, run_status

__all__ = ["GATES", "REPORT_VERSION", "build_report", "configuration_reading", "data_refresh_reading", "publish_report_artifact",
           "read_artifact", "report_html_path", "report_markdown", "report_schema", "run_overview", "strategy_entry",
           "write_report"]

REPORT_VERSION = 4  # 4: data_refresh, configuration
GATES = ("gate1", "gate2", "gate3")
# Columns of a gate that are its verdict, not its measurements.
_VERDICT = ("pass", "score", "reasons")
_REFRESH_COIN_FIELDS = ("candles_added", "candles_total", "funding_added", "gaps", "last_bar")
_BAR_WORDS = {"1m": "one-minute", "1h": "hourly", "1d": "daily"}


def build_report(run: RunDir) -> dict:
    """The report of ``run`` as a JSON-ready dict (see the module docstring)."""
    manifest = run.manifest()
    params = manifest.get("parameters", {})
    stages = manifest.get("stages", {})
    validation = manifest.get("validation", {})
    evolved = read_artifact(run.evolved)
    validated = read_artifact(run.validated)
    deployed = read_artifact(run.deployed)
    candidates = read_artifact(run.candidates)
    evaluated = evolved[evolved["evaluated"].astype(bool)] if "evaluated" in evolved else evolved
    counts = {
        "evaluated": len(evaluated),
        "generated": int(evaluated["strategy_id"].nunique()) if len(evaluated) else 0,
        "candidates": len(candidates),
        "validated": int(validated["passed"].astype(bool).sum()) if "passed" in validated else 0,
        "deployed": len(deployed),
    }
    seconds = {s: stages.get(s, {}).get("seconds") for s in STAGES}
    return {
        "report_version": REPORT_VERSION,
        "run_id": run.run_id,
        "status": manifest.get("status", "unknown"),
        "seed": params.get("seed"),
        "test_mode": params.get("test_mode"),
        "code_version": manifest.get("code_version"),
        "started": _iso(manifest.get("started")),
        "finished": _iso(manifest.get("finished")),
        "execution_summary": _execution_summary(manifest, counts, seconds),
        "stage_seconds": seconds,
        "stage_status": {s: stages.get(s, {}).get("status", "not run") for s in STAGES},
        "stage_errors": {s: stages[s]["error"] for s in STAGES if stages.get(s, {}).get("error")},
        "phase_performance": _phase_performance(stages, counts),
        "resources": _resources(manifest, _total_seconds(manifest, seconds)),
        "data": _data(manifest),
        "data_refresh": _data_refresh(manifest.get("data_refresh")),
        "configuration": _configuration(manifest),
        "validation": _validation(validation, validated, counts, params),
        "multiple_testing": _multiple_testing(manifest, candidates),
        "resilience": _resilience(manifest.get("resilience")),
        "deployment": _json_safe(manifest.get("deploy") or {}),
        "deployed": [strategy_entry(run, row["strategy_id"], evolved, validated, deployed)
                     for _, row in deployed.iterrows()],
    }


def write_report(run: RunDir) -> dict:
    """Build report.json from the artifacts and write it atomically; returns the report."""
    report = build_report(run)
    write_json_atomic(report, run.report)
    return report


def report_html_path(run: RunDir) -> Path:
    """Where the run's HTML report lives, beside report.json."""
    return run.root / "report.html"


def report_schema() -> dict:
    """The JSON Schema every report.json satisfies (tasks/schemas/report.schema.json)."""
    return json.loads((resources.files("tasks") / "schemas" / "report.schema.json").read_text())


def read_artifact(path: Path) -> pd.DataFrame:
    """A Parquet artifact, or an empty frame when the stage that writes it did not run."""
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _iso(epoch_s: float | None) -> str | None:
    if epoch_s is None:
        return None
    return datetime.fromtimestamp(float(epoch_s), timezone.utc).isoformat(timespec="seconds")


def _total_seconds(manifest: dict, seconds: dict[str, float | None]) -> float:
    """Wall-clock seconds from start to finish, or the sum of the stages' seconds while unfinished."""
    started, finished = manifest.get("started"), manifest.get("finished")
    if started is not None and finished is not None:
        return round(float(finished) - float(started), 3)
    return round(sum(v for v in seconds.values() if v), 3)


def _execution_summary(manifest: dict, counts: dict[str, int], seconds: dict[str, float | None]) -> dict:
    hours = manifest.get("parameters", {}).get("hours")
    total = _total_seconds(manifest, seconds)
    return {
        "strategies_evaluated": counts["evaluated"],
        "strategies_generated": counts["generated"],
        "candidates": counts["candidates"],
        "strategies_validated": counts["validated"],
        "strategies_deployed": counts["deployed"],
        "validation_success_rate": _rate(counts["validated"], counts["candidates"]),
        "deployment_success_rate": _rate(counts["deployed"], counts["validated"]),
        "overall_success_rate": _rate(counts["deployed"], counts["generated"]),
        "seconds_total": total,
        "budget_hours": hours,
        "budget_used": round(total / (hours * 3600), 4) if hours else None,
    }


def _phase_performance(stages: dict, counts: dict[str, int]) -> dict:
    evolve = stages.get("evolve", {})
    summary = evolve.get("summary", {})
    minutes = (evolve.get("seconds") or 0) / 60
    coverage = summary.get("archive_coverage") or []
    return {
        "evaluations_per_minute": round(counts["evaluated"] / minutes, 1) if minutes > 0 else None,
        "generations": summary.get("generations"),
        "generations_planned": summary.get("generations_planned"),
        "islands": summary.get("islands"),
        "stopped_by_budget": summary.get("stopped_by_budget"),
        "stop_note": summary.get("stop_note"),
        "archive_coverage": round(float(np.mean(coverage)), 4) if coverage else None,
        "validation_success_rate": _rate(counts["validated"], counts["candidates"]),
        "deployment_success_rate": _rate(counts["deployed"], counts["validated"]),
    }


def _resources(manifest: dict, total_seconds: float) -> dict:
    """Workers and cost from the manifest's ``resources`` (written by the flow), else the parameters."""
    given = manifest.get("resources") or {}
    params = manifest.get("parameters", {})
    workers = given.get("workers", params.get("workers"))
    price = given.get("cpu_hour_price")
    cpu_hours = round(workers * total_seconds / 3600, 4) if workers else None
    return {
        "workers": workers,
        "ray_address": params.get("ray_address"),
        "cpu_hours": cpu_hours,
        "cpu_hour_price": price,
        "estimated_cost_usd": round(cpu_hours * price, 4) if cpu_hours is not None and price is not None else None,
    }


def _data(manifest: dict) -> dict:
    data = manifest.get("data", {})
    windows = manifest.get("windows", {})
    order = manifest.get("parameters", {}).get("coins") or sorted(data.get("coins", {}))
    coins = data.get("coins", {})
    return {
        "source": data.get("source"),
        "interval": data.get("interval"),
        "funding": data.get("funding"),
        "fingerprint": data.get("fingerprint"),
        "coins": [{"coin": c, **{k: coins[c].get(k) for k in ("bars", "first", "last", "gaps",
                                                               "funding_observed_share")}}
                  for c in order if c in coins],
        "windows": [{"name": name, **{k: windows[name].get(k) for k in ("start", "end", "days")}}
                    for name in ("train", "validation", "replay", "live") if name in windows],
        "window_sizing": windows.get("sizing"),
    }


def _configuration(manifest: dict) -> dict:
    """The config file the run read (path, sha256; None without one) and every setting that differs from
    the built-in defaults, by dotted key (the whole configuration is the manifest's ``parameters``)."""
    params = manifest.get("parameters") or {}
    defaults = _flat_settings(RunConfig().model_dump(mode="json"))
    changed = {key: value for key, value in _flat_settings(params).items()
               if key != "run_id" and defaults.get(key, object()) != value}
    record = manifest.get("config_file")
    return {"file": {"path": str(record.get("path")), "sha256": str(record.get("sha256"))}
            if isinstance(record, dict) else None,
            "changed": {key: _plain(value) for key, value in sorted(changed.items())}}


def _flat_settings(values: dict, prefix: str = "") -> dict[str, Any]:
    """{"costs": {"taker_fee": 0.0007}} -> {"costs.taker_fee": 0.0007}."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out |= _flat_settings(value, f"{prefix}{key}.")
        else:
            out[prefix + key] = value
    return out


def configuration_reading(configuration: dict | None) -> str | None:
    """One line on where the run's settings came from and what differs from the defaults.

    >>> configuration_reading({"file": {"path": "/etc/night.toml", "sha256": "ab" * 32},
    ...                        "changed": {"costs.taker_fee": 0.0007}})
    'Settings from /etc/night.toml; changed from the defaults: costs.taker_fee = 0.0007.'
    """
    if configuration is None:
        return None
    source = f"Settings from {configuration['file']['path']}" if configuration["file"] else "Settings"
    changed = configuration["changed"]
    if not changed:
        return f"{source}: the defaults."
    listed = ", ".join(f"{key} = {value}" for key, value in changed.items())
    return f"{source}; changed from the defaults: {listed}."


def _data_refresh(record: Any) -> dict | None:
    """The manifest's ``data_refresh`` (tasks.market_refresh), its coins as a list in the record's order;
    None when the run did not refresh."""
    if not isinstance(record, dict):
        return None
    coins = record.get("coins") if isinstance(record.get("coins"), dict) else {}
    return {
        "endpoint": record.get("endpoint"),
        "interval": record.get("interval"),
        "ok": _plain(record.get("ok")),
        "new_bars": _plain(record.get("new_bars")),
        "coins": [{"coin": str(coin), **{k: _plain(entry.get(k) if isinstance(entry, dict) else None)
                                         for k in _REFRESH_COIN_FIELDS}} for coin, entry in coins.items()],
        "error": record.get("error"),
        "seconds": _plain(record.get("seconds")),
    }


def data_refresh_reading(refresh: dict | None) -> str | None:
    """One plain-language line on the data refresh before the run (a report's ``data_refresh``); None
    when the run did not refresh.

    >>> data_refresh_reading({"endpoint": "mainnet", "interval": "1h", "ok": True, "new_bars": 24, "error": None,
    ...     "coins": [{"coin": "BTC", "candles_added": 24, "last_bar": "2024-05-01T23:00:00+00:00"}]})
    'Fresh data: 24 new hourly bars for BTC from mainnet before this run.'
    """
    if refresh is None:
        return None
    added = [(c["coin"], c["candles_added"]) for c in refresh["coins"] if c["candles_added"]]
    bars = f"{_BAR_WORDS.get(refresh['interval'], refresh['interval'] or '')} bars".lstrip()
    endpoint = refresh["endpoint"] or "the exchange"
    if refresh["ok"] and added:
        return f"Fresh data: {_added_phrase(added, bars)} from {endpoint} before this run."
    store = f"the run used the store as it was ({_last_bars(refresh['coins'])})"
    if refresh["ok"]:
        return f"Data refresh from {endpoint} found no new {bars}: {store}."
    # The record's error names the endpoint already ("data refresh from X failed: problem"); keep the problem.
    error = str(refresh["error"] or "no reason recorded")
    problem = error.partition(" failed: ")[2] or error
    if added:
        return (f"Data refresh from {endpoint} failed ({problem}) after {_added_phrase(added, bars)}; "
                f"the run used the store as it then was ({_last_bars(refresh['coins'])}).")
    return f"Data refresh from {endpoint} failed ({problem}); {store}."


def _added_phrase(added: list[tuple[str, int]], bars: str) -> str:
    """[("BTC", 24), ("ETH", 1)] -> "24 new hourly bars for BTC and 1 for ETH"."""
    (coin, n), rest = added[0], [f"{m} for {c}" for c, m in added[1:]]
    first = f"{n} new {bars if n != 1 else bars.removesuffix('s')} for {coin}"
    return " and ".join([", ".join([first, *rest[:-1]]), *rest[-1:]])


def _last_bars(coins: list[dict]) -> str:
    """"last bar 2024-05-01 23:00 UTC", or one per coin when they differ."""
    last = {c["coin"]: c["last_bar"] for c in coins}
    if not any(last.values()):
        return "no bar in the store"
    if len(set(last.values())) == 1:
        return f"last bar {_utc_minute(next(iter(last.values())))}"
    return "last bars " + ", ".join(f"{coin} {_utc_minute(ts) if ts else 'none'}" for coin, ts in last.items())


def _utc_minute(iso: str) -> str:
    """"2024-05-01T23:00:00+00:00" -> "2024-05-01 23:00 UTC" (a text that is not a time is shown as it is)."""
    try:
        ts = pd.Timestamp(iso)
    except ValueError:
        return str(iso)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.strftime("%Y-%m-%d %H:%M UTC")


def _gate_passed(validated: pd.DataFrame, gate: str) -> int | None:
    column = f"{gate}_pass"
    return int(validated[column].astype(bool).sum()) if column in validated else None


def _validation(summary: dict, validated: pd.DataFrame, counts: dict[str, int], params: dict) -> dict:
    """The funnel evaluated → candidates → gate 1 → gate 2 → gate 3 → deployed (cumulative: a gate's
    count holds the candidates that passed it and every gate before it; null = not performed)."""
    mode = summary.get("mode", params.get("validation", {}).get("mode"))
    gates = list(summary.get("gates") or [])
    survivors = pd.Series(True, index=validated.index)
    funnel = [{"step": "evaluated", "count": counts["evaluated"]},
              {"step": "candidates", "count": counts["candidates"]}]
    for gate in GATES:
        column = f"{gate}_pass"
        performed = gate in gates and column in validated
        if performed:
            survivors = survivors & validated[column].astype(bool)
        funnel.append({"step": gate, "count": int(survivors.sum()) if performed else None})
    funnel += [{"step": "validated", "count": counts["validated"]}, {"step": "deployed", "count": counts["deployed"]}]
    return {
        "mode": mode,
        "gates": gates,
        "gate_passed": {g: _gate_passed(validated, g) for g in GATES},
        "errors": summary.get("errors"),
        "seconds": summary.get("seconds"),
        "thresholds": params.get("validation", {}),
        "funnel": funnel,
    }


def _multiple_testing(manifest: dict, candidates: pd.DataFrame) -> dict:
    """Where each selection happened, its statistics: train (the evolution's trials: DSR, PBO; manifest
    ``serialize`` and candidates.parquet) and validation (StepM over the candidates; manifest ``validation``)."""
    train = manifest.get("serialize", {})
    best = {}
    for column in ("train_dsr", "train_dsr_effective"):
        values = candidates[column].to_numpy(float) if column in candidates else np.zeros(0)
        best[column] = _plain(np.nanmax(values)) if np.isfinite(values).any() else None
    test = manifest.get("validation", {}).get("significance", {})
    return {
        "train": {
            "trials": train.get("n_trials"),
            "effective_trials": train.get("n_effective_trials"),
            "ideas": train.get("ideas"),
            "candidates": train.get("candidates"),
            "best_dsr": best["train_dsr"],
            "best_dsr_effective": best["train_dsr_effective"],
            "pbo": _plain(train.get("pbo")),
            "pbo_splits": train.get("pbo_splits"),
        },
        "validation": {
            "method": test.get("method"),
            "window": test.get("window"),
            "days": test.get("days"),
            "fwer": test.get("fwer"),
            "candidates": test.get("candidates"),
            "critical_sharpe": _plain(test.get("critical_sharpe")),
            "significant": test.get("significant"),
            "spa_pvalue": _plain(test.get("spa_pvalue")),
            "reps": test.get("reps"),
            "skipped": test.get("skipped"),
        },
    }


def _resilience(section: Any) -> dict:
    """The manifest's ``resilience`` section as {events: [...], summary: {...}}; absent = no events."""
    events, summary = [], {}
    if isinstance(section, list):
        events = section
    elif isinstance(section, dict):
        events = section.get("events", [])
        summary = {k: v for k, v in section.items() if k != "events"}
    events = events if isinstance(events, list) else []
    return {"events": [_json_safe(e if isinstance(e, dict) else {"event": e}) for e in events],
            "summary": _json_safe(summary)}


def _json_safe(value: Any) -> Any:
    """Plain JSON values; anything unexpected becomes its string."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (int, float, np.generic)):
        return _plain(value)
    return str(value)


def strategy_entry(run: RunDir, strategy_id: str, evolved: pd.DataFrame, validated: pd.DataFrame,
                   deployed: pd.DataFrame) -> dict:
    """One strategy: identity, decoded parameters, train fitness, each gate's verdict and measurements,
    overall score, allocation (null unless deployed) and lineage."""
    row = _row(validated, strategy_id)
    if row is None:
        row = _row(evolved.sort_values("fitness", ascending=False, kind="stable"), strategy_id) \
            if "fitness" in evolved else None
    row = row if row is not None else pd.Series({"strategy_id": strategy_id})
    chosen = _row(deployed, strategy_id)
    return {
        "strategy_id": strategy_id,
        "coin": row.get("coin"),
        "family": row.get("family"),
        "members": _members(run, row),
        "fitness": _plain(row.get("fitness")),
        "train": {k: _plain(row.get(k)) for k in ("sharpe", "cagr", "max_drawdown", "turnover")},
        "gates": {g: _gate(row, g) for g in GATES if f"{g}_pass" in row.index},
        "overall_score": _plain(row.get("overall_score")),
        "passed": _plain(row.get("passed")),
        "reasons": row.get("reasons") or "",
        "allocation": _plain(chosen.get("allocation")) if chosen is not None else None,
        "capital": _plain(chosen.get("capital")) if chosen is not None else None,
        "deploy_reason": chosen.get("reason") if chosen is not None else None,
        "lineage": {
            "uid": _plain(row.get("uid")),
            "generation": _plain(row.get("generation")),
            "island": _plain(row.get("island")),
            "operator": row.get("operator"),
            "parent_ids": [str(p) for p in row["parent_ids"]] if isinstance(row.get("parent_ids"),
                                                                               (list, np.ndarray)) else [],
        },
    }


def _row(frame: pd.DataFrame, strategy_id: str) -> pd.Series | None:
    if "strategy_id" not in frame:
        return None
    rows = frame[frame["strategy_id"] == strategy_id]
    return rows.iloc[0] if len(rows) else None


def _members(run: RunDir, row: pd.Series) -> list[dict]:
    """[{family, params}] per member: from strategies/<id>.json when serialized, else decoded from the genes."""
    path = run.strategies / f"{row['strategy_id']}.json"
    if path.exists():
        config = json.loads(path.read_text())
        return [{"family": m["family"], "params": {k: _plain(v) for k, v in m["params"].items()}}
                for m in config.get("members", [])]
    members = []
    for fam, genes in ((row.get("family"), row.get("genes")), (row.get("family_b"), row.get("genes_b"))):
        if isinstance(fam, str) and fam in FAMILY_NAMES and genes is not None:
            params = decode_params(FAMILY_NAMES.index(fam), np.asarray(genes, dtype=np.float64))
            members.append({"family": fam, "params": {k: _plain(v) for k, v in params.items()}})
    return members


def _gate(row: pd.Series, gate: str) -> dict:
    prefix = f"{gate}_"
    metrics = {k.removeprefix(prefix): _json_safe(row[k]) for k in sorted(row.index)
               if k.startswith(prefix) and k.removeprefix(prefix) not in _VERDICT}
    return {"passed": _plain(row[f"{gate}_pass"]), "score": _plain(row.get(f"{gate}_score")),
            "reasons": str(row.get(f"{gate}_reasons") or ""), "metrics": metrics}


def _plain(x: Any) -> Any:
    """numpy scalars to JSON-safe Python values (NaN / inf / missing → None)."""
    if x is None or isinstance(x, str):
        return x
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer, int)):
        return int(x)
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if np.isfinite(x) else None


def run_overview(run: RunDir) -> dict:
    """One line of ``uce runs``: date, data, counts and status (from report.json, else the manifest)."""
    manifest = run.manifest()
    report = json.loads(run.report.read_text()) if run.report.exists() else {}
    summary = report.get("execution_summary", {})
    data = manifest.get("data", {})
    validation = manifest.get("validation", {})
    evolve = manifest.get("stages", {}).get("evolve", {}).get("summary", {})
    return {
        "run_id": run.run_id,
        "started": _iso(manifest.get("started")),
        "status": run_status(manifest),
        "coins": list(manifest.get("parameters", {}).get("coins") or data.get("coins", {})),
        "interval": data.get("interval"),
        "source": data.get("source"),
        "evaluated": summary.get("strategies_evaluated", evolve.get("evaluations")),
        "candidates": summary.get("candidates", validation.get("candidates")),
        "validated": summary.get("strategies_validated", validation.get("passed")),
        "deployed": summary.get("strategies_deployed"),
        "report": "html" if report_html_path(run).exists() else ("json" if report else None),
    }


def report_markdown(report: dict, html_path: Path) -> str:
    """The Prefect artifact's text: the headline numbers and a link to the HTML report."""
    s = report["execution_summary"]
    mt = report["multiple_testing"]
    train, test = mt["train"], mt["validation"]
    dsr = f"{train['best_dsr']:.3f}" if train["best_dsr"] is not None else "—"
    pbo = f"{train['pbo']:.0%}" if train["pbo"] is not None else "—"
    significant = (f"{test['significant']} of {test['candidates']} candidates significant at {test['fwer']:.0%} "
                   f"family-wise (StepM)" if test["candidates"] else "no significance test")
    lines = [
        f"# Run {report['run_id']}: {report['status']}",
        "",
        f"[Open the HTML report]({html_path.resolve().as_uri()})  ",
        f"`{html_path.resolve()}`",
        "",
        "| evaluated | distinct | candidates | validated | deployed | seconds |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {s['strategies_evaluated']} | {s['strategies_generated']} | {s['candidates']} | "
        f"{s['strategies_validated']} | {s['strategies_deployed']} | {s['seconds_total']:.0f} |",
        "",
        f"Data: {report['data']['source']}. Train: {train['trials']} trials ({train['effective_trials']} effective), "
        f"best deflated Sharpe {dsr}, probability of backtest overfitting {pbo}. "
        f"Validation: {train['ideas']} distinct ideas, {significant}.",
    ]
    refresh = data_refresh_reading(report.get("data_refresh"))  # absent in reports before version 4
    if refresh:
        lines += ["", refresh]
    return "\n".join(lines) + "\n"


def publish_report_artifact(run: RunDir) -> str | None:
    """Publish a Prefect markdown artifact linking ``report.html`` (call inside the flow, after the reports
    are written); returns the artifact id, or None when there is no report.json yet."""
    from prefect.artifacts import create_markdown_artifact  # Prefect only where a flow runs, not for `uce runs`

    if not run.report.exists():
        return None
    report = json.loads(run.report.read_text())
    key = "uce-report-" + re.sub(r"[^a-z0-9-]+", "-", run.run_id.lower()).strip("-")
    artifact_id = create_markdown_artifact(markdown=report_markdown(report, report_html_path(run)), key=key,
                                           description=f"uce run {run.run_id}: report")
    return str(artifact_id)
