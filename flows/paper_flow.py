"""The paper trader as a Prefect flow: one run processes the bars completed since the last one (normally
one), so an hourly deployment replaces the long-running `uce paper run`.

    python -m flows.paper_flow --data-dir data --url testnet      # serve it: a run at minute 1 of every hour

The bar task retries only temporary venue failures (the venue down, rate limits): a bar is one
transaction in the book, so a retried bar never doubles an order (exchange.paper.trader). It is never
cached: every run must look at the venue again.

While nothing is deployed a run is a no-op: it logs "nothing deployed; nothing to trade" and completes,
without the key or the venue, so the hourly deployment stays green until `uce run` deploys strategies.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from exchange.errors import TemporaryError
from exchange.paper import nothing_to_trade
from tasks.deploy.paper import open_trader
from tasks.deploy.stage import paper_paths

__all__ = ["paper_bar", "paper_trader_flow", "serve_hourly"]

HOURLY_CRON = "1 * * * *"  # a minute past the hour: the bar that closed on the hour is complete


def _temporary(task_: Any, task_run: Any, state: Any) -> bool:
    """Retry only when the venue failed temporarily."""
    try:
        state.result()
    except TemporaryError:
        return True
    except Exception:  # noqa: BLE001 - any other failure is not worth retrying
        return False
    return False


@task(name="paper-bar", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=60, retry_condition_fn=_temporary)
def paper_bar(data_dir: str, url: str | None = None, rules: str | None = None) -> dict:
    """Process every completed bar and append the ledgers; returns what the bars did."""
    trader = open_trader(Path(data_dir), url=url, rules_path=rules)
    reports = trader.step()
    trader.flush()
    return {
        "bars": [r.bar_ms for r in reports], "orders": sum(r.orders for r in reports),
        "rejected": sum(r.rejected for r in reports),
        "retired": [sid for r in reports for sid, _ in r.retired],
        "emergency": next((r.emergency for r in reports if r.emergency), None),
        "halted": None if trader.halted is None else trader.halted["reason"],
        "equity": reports[-1].equity if reports else None,
        "idle": None,
    }


def _idle_pass(idle: str) -> dict:
    """What a pass with nothing to trade did (nothing), in `paper_bar`'s shape; `idle` says why."""
    return {"bars": [], "orders": 0, "rejected": 0, "retired": [], "emergency": None, "halted": None,
            "equity": None, "idle": idle}


@flow(name="paper-trader")
def paper_trader_flow(data_dir: str = "data", url: str | None = None, rules: str | None = None) -> dict:
    """One pass of the paper trader over the bars completed since the last pass; a no-op while nothing
    is deployed (checked on local files first, so no key or venue is needed for it)."""
    idle = nothing_to_trade(paper_paths(Path(data_dir)))
    if idle is not None:
        get_run_logger().info("nothing deployed; nothing to trade (%s)", idle)
        return _idle_pass(idle)
    return paper_bar(data_dir, url, rules)


def serve_hourly(data_dir: str, url: str | None = None, rules: str | None = None) -> None:
    """Serve the flow as the deployment "paper-hourly", run at minute 1 of every hour (blocks)."""
    paper_trader_flow.serve(name="paper-hourly", cron=HOURLY_CRON,
                            parameters={"data_dir": data_dir, "url": url, "rules": rules})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="serve the hourly paper-trader deployment")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--url")
    parser.add_argument("--rules")
    options = parser.parse_args()
    serve_hourly(str(Path(options.data_dir).resolve()), options.url, options.rules)
