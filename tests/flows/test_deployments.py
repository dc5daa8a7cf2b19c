"""Clusters and deployments, on a local two-node Ray cluster that the module starts (1 CPU per node):

1. `uce run --ray-address HOST:PORT` runs the stages there (token authentication, as Ray 2.60 wants);
   the Ray workers' logs and the run's UI artifacts reach the Prefect server;
2. `prefect deploy --all` from the repo root against the local server, and one run of the `manual`
   deployment (its parameters made small, and pointed at the cluster) picked up by a process worker.

The cluster is stopped by the process groups of its two `ray start --block` processes (SIGTERM, then
SIGKILL), not by `ray stop --force`, which would also kill every other Ray on the machine.
"""
from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from orchestration_helpers import REPO, manifest, processes, stop, stop_groups, uce

RUN_ARGS = ("--strategies", "20", "--batch-size", "10", "--generations", "2", "--validation-mode", "minimal")
START_TIMEOUT_S = 180


def _free_port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cpus(address: str, env: dict) -> float:
    done = subprocess.run(["ray", "status", f"--address={address}"], capture_output=True, text=True, env=env,
                          timeout=60)
    for line in done.stdout.splitlines():
        if line.strip().endswith(" CPU"):
            return float(line.split("/")[1].split()[0])
    return 0.0


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A head and a worker node on this machine; yields HOST:PORT."""
    port = _free_port(6380)
    address = f"127.0.0.1:{port}"
    temp = tempfile.mkdtemp(prefix="uce-rc-", dir="/tmp")
    env = dict(os.environ, RAY_AUTH_MODE="token")
    common = ("--num-cpus=1", "--node-ip-address=127.0.0.1", "--block")
    nodes = [subprocess.Popen(["ray", "start", "--head", f"--port={port}", "--include-dashboard=false",
                               f"--temp-dir={temp}", *common], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while _cpus(address, env) < 1 and time.monotonic() < deadline:
            time.sleep(1)
        nodes.append(subprocess.Popen(["ray", "start", f"--address={address}", *common], env=env,
                                      start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        while _cpus(address, env) < 2 and time.monotonic() < deadline:
            time.sleep(1)
        assert _cpus(address, env) == 2, "the two-node Ray cluster did not come up"
        yield address
    finally:
        stop_groups(nodes, grace_s=5.0)
        stop(processes(temp))


def test_run_on_an_existing_cluster(prefect_server: str, ray_cluster: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}  # `uce run --ray-address` sets it
    done = uce(tmp_path, "run", *RUN_ARGS, "--ray-address", ray_cluster, "--run-id", "cluster", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    recorded = manifest(tmp_path / "runs" / "cluster")
    assert recorded["status"] == "completed" and recorded["parameters"]["ray_address"] == ray_cluster
    assert recorded["resources"]["workers"] == 2 and recorded["resources"]["cpu_hours"] > 0

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterTaskRunId,
    )

    flow_run = UUID(recorded["prefect"]["flow_run_id"])
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run])))
        islands = [t for t in task_runs if t.name.startswith("island-")]
        assert len(islands) == 2 and all(t.state_name == "Completed" for t in islands)
        logs = client.read_logs(log_filter=LogFilter(task_run_id=LogFilterTaskRunId(any_=[t.id for t in islands])))
        # Each island's last line, written on a Ray worker just before its task returned.
        assert {log.task_run_id for log in logs if "Finished in state Completed" in log.message} == \
            {t.id for t in islands}
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run])))
    keys = {a.key for a in artifacts}
    assert {"uce-cluster-progress", "uce-cluster-summary", "evolution-progress", "evolution-islands"} <= keys
    assert {f"uce-cluster-top-{s}" for s in ("evolve", "serialize", "validate", "deploy")} <= keys
    progress = [a for a in artifacts if a.key == "uce-cluster-progress"]
    assert progress[0].data == 100.0


def test_a_wrong_ray_token_is_one_line_naming_where_it_came_from(ray_cluster: str, tmp_path: Path) -> None:
    env = dict(os.environ, RAY_AUTH_TOKEN="not-the-cluster-token")
    done = uce(tmp_path, "run", *RUN_ARGS, "--ray-address", ray_cluster, env=env)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr[-3000:]
    assert done.stderr.startswith(f"error: Ray at {ray_cluster} refused this machine's token (from $RAY_AUTH_TOKEN)")
    assert "not-the-cluster-token" not in done.stderr and not (tmp_path / "runs").exists()


def test_prefect_deploy_all_and_a_manual_run_by_a_worker(prefect_server: str, ray_cluster: str,
                                                         tmp_path: Path) -> None:
    env = dict(os.environ)
    created = subprocess.run(["bash", "deployments/work_pool.sh", "create"], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=120)
    assert created.returncode == 0, created.stdout + created.stderr
    deployed = subprocess.run(["prefect", "--no-prompt", "deploy", "--all"], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=300)
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]

    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    with get_client(sync_client=True) as client:
        names = {(client.read_flow(d.flow_id).name, d.name) for d in client.read_deployments()}
        nightly = client.read_deployment_by_name("ultra_compressed_evolution/nightly-burst")
    assert {("ultra_compressed_evolution", "nightly-burst"), ("ultra_compressed_evolution", "manual"),
            ("uce_stage", "stage"), ("paper-trader", "paper-trader")} <= names
    assert nightly.schedules[0].schedule.cron == "0 2 * * *" and nightly.schedules[0].schedule.timezone == "UTC"
    assert nightly.global_concurrency_limit.limit == 1 and nightly.parameters["safety_scope"] == "production"
    assert nightly.parameters["refresh_from"] == "mainnet" and nightly.parameters["config_file"] == ""
    config_file = tmp_path / "manual.toml"  # the deployment reads the same config file as `uce run --config`
    config_file.write_text("[costs]\ntaker_fee = 0.0007\n[validation]\nmin_sharpe = 1.5\n")

    worker = subprocess.Popen(["bash", "deployments/work_pool.sh", "worker"], cwd=REPO,
                              env=env | {"PREFECT_WORKER_QUERY_SECONDS": "1"},  # poll every second, not 10
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        flow_run = run_deployment(
            "ultra_compressed_evolution/manual", timeout=900,
            parameters={"test_mode": False, "strategies": 20, "batch_size": 10, "generations": 2,
                        "ray_address": ray_cluster, "data_dir": str(tmp_path), "run_id": "manual",
                        "config_file": str(config_file)})
    finally:
        stop_groups([worker], grace_s=5.0)  # a process worker may ignore SIGTERM for 20 s and more
    assert flow_run.state.is_completed(), flow_run.state
    recorded = manifest(tmp_path / "runs" / "manual")
    assert recorded["status"] == "completed" and recorded["prefect"]["flow_run_id"] == str(flow_run.id)
    assert recorded["parameters"]["validation"]["mode"] == "minimal"  # the deployment's own parameter
    assert recorded["parameters"]["costs"]["taker_fee"] == 0.0007
    assert recorded["parameters"]["validation"]["min_sharpe"] == 1.5
    assert recorded["config_file"]["path"] == str(config_file.resolve())
