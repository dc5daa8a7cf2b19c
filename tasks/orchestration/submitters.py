"""Where a stage's work runs: every stage hands its functions to one ``submit(fn, *args, **kwargs)``.

``prefect_submit`` runs ``fn`` as a Prefect task on the flow's task runner (Ray in the pipeline);
``inline_submit`` runs it now, in this process. Both apply ``fn``'s policy (tasks.orchestration.policies:
transient failures retried with backoff, bad input not) and both return a future with ``.result()`` that
may be passed as an argument to later calls. ``default_submit()`` is the first inside a flow run and the
second outside one (tests, scripts, benches); a test injects its own ``submit`` to see or alter the work.

A function's Prefect task is named after it (``evolve_island`` runs as ``evolve-island``), carries its
policy's time limit, no retries of its own and no cache (the stage is cached as a whole).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext

from tasks.orchestration.policies import GuardedFuture, call, submit, with_policy
from tasks.orchestration.retry_policy import Policy, policy_of, run_name_of

__all__ = ["Submit", "default_submit", "inline_submit", "prefect_submit", "work_task"]

Submit = Callable[..., Any]  # submit(fn, *args, **kwargs) -> a future with .result()


class _Done(NamedTuple):
    """The result of a call already made (inline_submit's future)."""
    value: Any

    def result(self) -> Any:
        return self.value


def inline_submit(fn: Callable, *args: Any, **kwargs: Any) -> _Done:
    """Run ``fn`` now, in this process, under its policy; arguments that are inline futures are resolved first."""
    args = tuple(a.value if isinstance(a, _Done) else a for a in args)
    kwargs = {k: v.value if isinstance(v, _Done) else v for k, v in kwargs.items()}
    return _Done(call(fn, *args, **kwargs))


def work_task(fn: Callable) -> Task:
    """The Prefect task that runs ``fn`` under its policy as it is now (module docstring)."""
    return _task(fn, policy_of(fn), run_name_of(fn))


@functools.cache
def _task(fn: Callable, policy: Policy, run_name: str | None) -> Task:
    # Built once per function and policy: a policy changed at run time (a test's) gets its own task.
    return with_policy(task(name=fn.__name__.replace("_", "-"), cache_policy=NO_CACHE, task_run_name=run_name)(fn))


def prefect_submit(fn: Callable, *args: Any, **kwargs: Any) -> GuardedFuture:
    """Submit ``fn`` as its Prefect task to the current flow's task runner, under its policy."""
    return submit(work_task(fn), *args, **kwargs)


def default_submit() -> Submit:
    """prefect_submit inside a flow run, inline_submit outside one."""
    return prefect_submit if FlowRunContext.get() is not None else inline_submit
