"""Deploy stage: choose at most ``max_deployed`` validated strategies and record why each was chosen or skipped."""
from __future__ import annotations

import logging

import pandas as pd

from tasks.atomic import write_parquet_atomic
from tasks.config import RunConfig
from tasks.run_dir import RunDir

__all__ = ["deploy_run", "select_for_deployment"]

log = logging.getLogger(__name__)


def select_for_deployment(validated: pd.DataFrame, max_deployed: int) -> pd.DataFrame:
    """Passed strategies by overall score (best first), at most ``max_deployed``, equal capital split."""
    passed = validated[validated["passed"].astype(bool)].sort_values(["overall_score", "strategy_id"], ascending=[False, True])
    chosen = passed.head(max_deployed)
    return pd.DataFrame({
        "strategy_id": chosen["strategy_id"].to_numpy(),
        "coin": chosen["coin"].to_numpy(),
        "family": chosen["family"].to_numpy(),
        "overall_score": chosen["overall_score"].to_numpy(float),
        "allocation": 1.0 / len(chosen) if len(chosen) else [],
        "reason": [f"passed validation; rank {i + 1} by overall score" for i in range(len(chosen))],
    })


def deploy_run(run: RunDir, config: RunConfig) -> pd.DataFrame:
    validated = pd.read_parquet(run.validated)
    deployed = select_for_deployment(validated, config.validation.max_deployed)
    write_parquet_atomic(deployed, run.deployed)
    log.info("deployed %d of %d validated strategies", len(deployed), len(validated))
    return deployed
