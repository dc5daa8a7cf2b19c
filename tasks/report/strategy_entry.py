"""One strategy's entry in report.json: identity, decoded parameters, train fitness, each gate's verdict and
measurements, overall score, allocation and lineage, read from the run's artifacts (a missing column gives
null). Rates and shares are fractions (0.25 = 25 %)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from kernels.families import FAMILY_NAMES, decode_params
from tasks.report.json_values import json_safe, plain
from tasks.run.run_dir import RunDir

__all__ = ["GATES", "strategy_entry"]

GATES = ("gate1", "gate2", "gate3")
# Columns of a gate that are its verdict, not its measurements.
_VERDICT = ("pass", "score", "reasons")


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
        "fitness": plain(row.get("fitness")),
        "train": {k: plain(row.get(k)) for k in ("sharpe", "cagr", "max_drawdown", "turnover")},
        "gates": {g: _gate(row, g) for g in GATES if f"{g}_pass" in row.index},
        "overall_score": plain(row.get("overall_score")),
        "passed": plain(row.get("passed")),
        "reasons": row.get("reasons") or "",
        "allocation": plain(chosen.get("allocation")) if chosen is not None else None,
        "capital": plain(chosen.get("capital")) if chosen is not None else None,
        "deploy_reason": chosen.get("reason") if chosen is not None else None,
        "lineage": {
            "uid": plain(row.get("uid")),
            "generation": plain(row.get("generation")),
            "island": plain(row.get("island")),
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
        return [{"family": m["family"], "params": {k: plain(v) for k, v in m["params"].items()}}
                for m in config.get("members", [])]
    members = []
    for fam, genes in ((row.get("family"), row.get("genes")), (row.get("family_b"), row.get("genes_b"))):
        if isinstance(fam, str) and fam in FAMILY_NAMES and genes is not None:
            params = decode_params(FAMILY_NAMES.index(fam), np.asarray(genes, dtype=np.float64))
            members.append({"family": fam, "params": {k: plain(v) for k, v in params.items()}})
    return members


def _gate(row: pd.Series, gate: str) -> dict:
    prefix = f"{gate}_"
    metrics = {k.removeprefix(prefix): json_safe(row[k]) for k in sorted(row.index)
               if k.startswith(prefix) and k.removeprefix(prefix) not in _VERDICT}
    return {"passed": plain(row[f"{gate}_pass"]), "score": plain(row.get(f"{gate}_score")),
            "reasons": str(row.get(f"{gate}_reasons") or ""), "metrics": metrics}
