"""Deploy stage: from validated strategies to the paper trader's registry, with a reason for every one.

1. Eligible: passed validation, approved by the decision rules (tasks.deploy.decision.approve), and neither
   retired nor stopped earlier in the paper book (a strategy the book gave up on is not redeployed).
2. Pool: tasks.deploy.decision.pool_size from the deploy capital and the eligible strategies' mean validation
   Sharpe, capped at `validation.max_deployed`. Strategies of earlier runs still active in the book
   keep their slots and their capital; this run fills what is left.
3. Selection (tasks.deploy.selection): greedy by overall score under the correlation limit, capital split by
   inverse volatility.
4. Registration (exchange.paper.registry, <data>/paper/registry.sqlite): idempotent by strategy id,
   so deploying twice deploys nothing new; a strategy already active keeps its registered capital.

Writes deployed.parquet (the chosen: allocation, capital, reason, whether newly registered),
selection.parquet (every strategy considered, with its decision and reason) and a `deploy` summary in
the manifest; report.json lists the deployed ones with allocation and reason (tasks/report/strategy_entry.py).
The flow runs it as a task with NO_CACHE: it writes to the registry, so it must never be skipped.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from exchange.atomic import write_parquet_atomic
from exchange.paper.registry import Registry, StrategySpec
from exchange.paper.state import PaperPaths
from tasks.deploy.decision import DecisionRules, approve, load_rules, pool_size
from tasks.deploy.selection import select_strategies, validation_returns
from tasks.market.source import MarketData, load_market_data
from tasks.market.store import MarketStore
from tasks.market.windows import RunWindows, split_windows
from tasks.run.config import RunConfig
from tasks.run.run_dir import RunDir

__all__ = ["DEPLOYED_COLUMNS", "deploy_run", "paper_paths", "selection_path"]

log = logging.getLogger(__name__)

DEPLOYED_COLUMNS = ("strategy_id", "coin", "family", "family_b", "overall_score", "allocation", "capital",
                    "volatility", "max_correlation", "reason", "newly_registered", "deployed_at")
_LINEAGE = ("uid", "parent_ids", "operator", "generation", "island")


def paper_paths(data_dir: Path) -> PaperPaths:
    """The paper trader's folder, <data dir>/paper."""
    return PaperPaths(Path(data_dir) / "paper")


def selection_path(run: RunDir) -> Path:
    """Every strategy the deploy stage considered, with its decision and reason."""
    return run.root / "selection.parquet"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _plain(value: object) -> object:
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def _spec(row: pd.Series, run: RunDir, config: RunConfig, capital: float, allocation: float, reason: str,
          now_ms: int) -> StrategySpec:
    family_b = _text(row.get("family_b"))
    lineage = {k: _plain(row[k]) for k in _LINEAGE if k in row.index}
    return StrategySpec(
        strategy_id=str(row["strategy_id"]), run_id=run.run_id, coin=str(row["coin"]), family=str(row["family"]),
        genes=tuple(float(g) for g in row["genes"]), capital=float(capital), allocation=float(allocation),
        reason=reason, interval=config.interval, family_b=family_b,
        genes_b=tuple(float(g) for g in row["genes_b"]) if family_b else None, lineage=lineage, deployed_at=now_ms)


def _eligibility(validated: pd.DataFrame, rules: DecisionRules, registry: dict[str, StrategySpec],
                 interval: str) -> tuple[np.ndarray, list[str]]:
    """(eligible mask, reason per row) before the pool and the correlations are considered."""
    passed = validated["passed"].astype(bool).to_numpy() if "passed" in validated else np.zeros(len(validated), bool)
    eligible, reasons = np.zeros(len(validated), dtype=bool), []
    for i, (_, row) in enumerate(validated.iterrows()):
        known = registry.get(str(row["strategy_id"]))
        approval = approve(row, rules.approval)
        if interval != "1h":
            reasons.append(f"not deployed: the paper trader trades 1h bars and this run used {interval}")
        elif not passed[i]:
            why = row.get("reasons") if isinstance(row.get("reasons"), str) and row.get("reasons") else "see gates"
            reasons.append(f"not deployed: failed validation ({why})")
        elif known is not None and known.status != "active":
            reasons.append(f"not deployed: {known.status} in the paper book ({known.status_reason})")
        elif not approval.approved:
            reasons.append(f"not deployed: {approval.reason}")
        else:
            eligible[i] = True
            reasons.append(approval.reason)
    return eligible, reasons


def deploy_run(run: RunDir, config: RunConfig, *, market: MarketData | None = None,
               windows: RunWindows | None = None) -> pd.DataFrame:
    """Choose, register and record the run's deployed strategies (module docstring); returns the
    deployed.parquet table. `market` / `windows` are the run's (loaded from the store when not given)."""
    started = time.perf_counter()
    data_dir = run.root.parents[1]
    rules = load_rules(config.deploy.rules_path)
    validated = pd.read_parquet(run.validated).reset_index(drop=True)
    registry = Registry(paper_paths(data_dir).registry)
    known = {s.strategy_id: s for s in registry.all()}
    eligible, reasons = _eligibility(validated, rules, known, config.interval)
    candidates = validated[eligible]
    ids = set(candidates["strategy_id"])
    others = [s for s in known.values() if s.status == "active" and s.strategy_id not in ids]
    sharpe = candidates["gate1_sharpe"].astype(float).mean() if "gate1_sharpe" in candidates and len(candidates) \
        else None
    pool = pool_size(config.deploy.capital, sharpe, rules.pool)
    size = min(pool.size, config.validation.max_deployed)
    capital = max(0.0, config.deploy.capital - sum(s.capital for s in others))
    slots = max(0, size - len(others)) if capital > 0 else 0  # no capital left: nothing new can trade
    if len(candidates) and (market is None or windows is None):
        market = load_market_data(MarketStore(data_dir / "market"), config.coins, config.interval, config.costs)
        windows = split_windows(market, config.windows)
    returns = validation_returns(candidates, market, windows, config) if len(candidates) else {}
    picked = select_strategies(candidates.assign(overall_score=candidates["overall_score"].astype(float)),
                               returns, slots=slots, max_correlation=rules.selection.max_correlation,
                               capital=capital).set_index("strategy_id")
    now_ms = int(time.time() * 1000)
    table, specs = [], []
    for i, row in validated.iterrows():
        sid = str(row["strategy_id"])
        choice = picked.loc[sid] if sid in picked.index else None
        reason = reasons[i] if choice is None else f"{reasons[i]}; {choice['reason']}"
        chosen = choice is not None and bool(choice["chosen"])
        if chosen and sid in known:
            reason += f"; already deployed (run {known[sid].run_id}, capital {known[sid].capital:,.2f} kept)"
        table.append({"strategy_id": sid, "chosen": chosen, "reason": reason,
                      **({} if choice is None else {k: choice[k] for k in ("rank", "allocation", "capital",
                                                                           "volatility", "max_correlation",
                                                                           "correlated_with")})})
        if chosen:
            specs.append(_spec(row, run, config, choice["capital"], choice["allocation"], reason, now_ms))
    added = dict(zip((s.strategy_id for s in specs), registry.register(specs)))
    selection = pd.DataFrame(table, columns=["strategy_id", "chosen", "rank", "allocation", "capital", "volatility",
                                             "max_correlation", "correlated_with", "reason"])
    deployed = _deployed_table(validated, selection, added, known, now_ms)
    write_parquet_atomic(selection, selection_path(run))
    write_parquet_atomic(deployed, run.deployed)
    run.update_manifest(deploy={
        "rules": config.deploy.rules_path or "embedded defaults", "capital": config.deploy.capital,
        "pool": pool.reason, "pool_size": size, "active_from_earlier_runs": len(others), "slots": slots,
        "eligible": int(eligible.sum()), "chosen": len(deployed), "newly_registered": int(sum(added.values())),
        "registry": str(registry.path), "seconds": round(time.perf_counter() - started, 3)})
    log.info("deployed %d of %d validated strategies (%d new; pool %d, %d eligible)", len(deployed), len(validated),
             sum(added.values()), size, int(eligible.sum()))
    return deployed


def _deployed_table(validated: pd.DataFrame, selection: pd.DataFrame, added: dict[str, bool],
                    known: dict[str, StrategySpec], now_ms: int) -> pd.DataFrame:
    chosen = selection[selection["chosen"]].sort_values("rank")
    info = validated.set_index("strategy_id")
    rows = []
    for _, c in chosen.iterrows():
        sid = c["strategy_id"]
        v = info.loc[sid]
        earlier = known.get(sid)
        rows.append({
            "strategy_id": sid, "coin": v["coin"], "family": v["family"], "family_b": _text(v.get("family_b")),
            "overall_score": float(v["overall_score"]),
            "allocation": float(c["allocation"]) if earlier is None else float(earlier.allocation),
            "capital": float(c["capital"]) if earlier is None else float(earlier.capital),
            "volatility": float(c["volatility"]), "max_correlation": float(c["max_correlation"]),
            "reason": c["reason"], "newly_registered": bool(added.get(sid, False)),
            "deployed_at": pd.Timestamp(now_ms if earlier is None else earlier.deployed_at, unit="ms", tz="UTC"),
        })
    return pd.DataFrame(rows, columns=list(DEPLOYED_COLUMNS))
