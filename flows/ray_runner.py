"""The flows' Ray task runner: Ray starts when the flow body says where, so the flow's own parameters
(``ray_address``, ``workers``) choose the cluster — from the CLI, the UI's run form or a deployment.

``RayTaskRunner`` connects when the flow run starts, before the body sees its parameters. This runner
waits: the body calls ``start_ray(address, workers)`` (a submit before that starts the embedded
default). An existing cluster is joined with token authentication, which Ray 2.60 requires: see
flows.ray_auth (``RAY_AUTH_MODE=token`` must be in the environment before Ray is imported).

Workers ship their Prefect logs every LOG_BATCH_INTERVAL_S; before Ray shuts down the runner waits
LOG_FLUSH_S so the last batch reaches the server (PREFECT_RAY_NOTES.md: otherwise lines are lost).
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any

import ray
from prefect.context import FlowRunContext
from prefect.task_runners import TaskRunner
from prefect_ray import RayTaskRunner

__all__ = ["EMBEDDED_RAY", "LOG_FLUSH_S", "UceRayTaskRunner", "ray_task_runner", "start_ray", "worker_runtime_env"]

log = logging.getLogger(__name__)
LOG_BATCH_INTERVAL_S = 0.5
LOG_FLUSH_S = 3 * LOG_BATCH_INTERVAL_S
OBJECT_STORE_BYTES = 1_000_000_000
# Worker loggers whose records go to the Prefect server besides Prefect's own.
_EXTRA_LOGGERS = "tasks,kernels,exchange"


def worker_runtime_env() -> dict[str, Any]:
    """Ray's runtime_env for the workers: short log batches, the extra loggers, and the driver's JIT cache
    folder and kernel thread count when set."""
    env = {"PREFECT_LOGGING_TO_API_BATCH_INTERVAL": str(LOG_BATCH_INTERVAL_S),
           "PREFECT_LOGGING_EXTRA_LOGGERS": _EXTRA_LOGGERS}
    for name in ("NUMBA_CACHE_DIR", "NUMBA_NUM_THREADS"):  # one JIT cache instead of a compile per worker
        if os.environ.get(name):
            env[name] = os.environ[name]
    return {"env_vars": env}


# ray.init arguments of an embedded Ray on this machine (plus num_cpus, and the workers' env at start).
EMBEDDED_RAY = {"include_dashboard": False, "object_store_memory": OBJECT_STORE_BYTES, "log_to_driver": False}


class UceRayTaskRunner(RayTaskRunner):
    """A RayTaskRunner that connects on ``start`` (or the first submit) instead of on entry; its own
    ``address`` / ``init_kwargs`` are the default when the flow does not say."""

    def __enter__(self) -> "UceRayTaskRunner":
        TaskRunner.__enter__(self)
        self._submitted = False
        return self

    def start(self, address: str | None = None, workers: int | None = None) -> int:
        """Join the cluster at ``address`` or start an embedded Ray with ``workers`` CPUs (None: the runner's
        own settings); returns the CPUs Ray holds."""
        address = address or self.address
        if ray.is_initialized():
            self._owns_ray = False
        elif address:
            if "RAY_AUTH_MODE" not in os.environ:
                log.warning("RAY_AUTH_MODE is not set: a Ray 2.60 cluster refuses a driver without its token; "
                            "export RAY_AUTH_MODE=token before starting (flows.ray_auth)")
            log.info("joining the Ray cluster at %s", address)
            ray.init(address, **(self.init_kwargs | {"runtime_env": worker_runtime_env()}))
            self._owns_ray = True
        else:
            kwargs = EMBEDDED_RAY | self.init_kwargs | {"runtime_env": worker_runtime_env()}
            ray.init(**kwargs | ({"num_cpus": workers} if workers else {}))
            self._owns_ray = True
        return int(ray.cluster_resources().get("CPU", 0))

    def submit(self, task, parameters, wait_for=None, dependencies=None):  # noqa: ANN001 - RayTaskRunner's
        if not ray.is_initialized():
            self.start()
        self._submitted = True
        return super().submit(task, parameters, wait_for, dependencies)

    def __exit__(self, *exc_info: Any) -> None:
        if self._submitted and self._owns_ray:
            time.sleep(LOG_FLUSH_S)
        super().__exit__(*exc_info)


def start_ray(address: str | None, workers: int | None) -> int:
    """Start the current flow run's Ray (see the module docstring); returns the CPUs it holds.

    Flows on another task runner (threads: ``uce stage --local``) get this machine's CPUs and no Ray."""
    context = FlowRunContext.get()
    runner = context.task_runner if context else None
    if isinstance(runner, UceRayTaskRunner):
        return runner.start(address, workers)
    return workers or os.cpu_count() or 1


def ray_task_runner(address: str | None = None, workers: int | None = None) -> UceRayTaskRunner:
    """A runner for a flow that does not call ``start_ray``: the cluster at ``address``, or an embedded Ray
    with ``workers`` CPUs."""
    return UceRayTaskRunner(address=address, init_kwargs={} if address or not workers else {"num_cpus": workers})
