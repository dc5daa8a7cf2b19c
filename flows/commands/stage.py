"""``uce stage STAGE --run RUN_ID``: re-run one stage of a run from the previous stage's artifact, with the
run's parameters from its manifest, then the later stages (cached ones come back at once) unless --only.

The stage's inputs must be the files the previous stage wrote (their sha256 is in the manifest) and the
market data the run saw; ``--force`` accepts other ones and records that in the manifest."""
from __future__ import annotations

import argparse

from rich.console import Console

from flows.commands.common import data_dir, fail
from flows.process_guard import guard_children
from flows.ray_auth import cluster_refusal, token_auth_for
from tasks.run.run_dir import STAGES, RunDir, run_status, stage_input_problems

__all__ = ["register", "rerun", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("stage", help="re-run one stage of a run (and the stages after it)")
    p.add_argument("stage", choices=STAGES)
    p.add_argument("--run", required=True, metavar="RUN_ID", help="the run folder under <data dir>/runs")
    p.add_argument("--only", action="store_true", help="re-run just this stage, leave the later ones as they are")
    p.add_argument("--ray-address", help="HOST:PORT of an existing Ray cluster (default: embedded Ray)")
    p.add_argument("--workers", type=int, help="CPUs for the embedded Ray (default: the run's own setting)")
    p.add_argument("--local", action="store_true", help="no Ray: run the stage's tasks on threads in this process")
    p.add_argument("--force", action="store_true",
                   help="re-run even if the input artifacts or the market data differ from what the run recorded "
                        "(recorded in the manifest)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return rerun(args, args.run, args.stage, only=args.only, force=args.force, local=args.local)


def rerun(args: argparse.Namespace, run_id: str, stage: str, *, only: bool = False, force: bool = False,
          local: bool = False) -> int:
    """Re-run ``stage`` of ``run_id`` and the stages after it (unless ``only``); exit code 0, 1 or 2."""
    root = data_dir(args)
    try:
        target = RunDir.for_run(root, run_id)
    except ValueError as err:
        return fail(str(err))
    if refusal := _refusal(target, stage, root, force=force):
        return fail(refusal)
    if args.ray_address and (refusal := cluster_refusal(args.ray_address)):
        return fail(refusal)
    token_auth_for(args.ray_address)  # before Ray is imported
    guard_children()
    from flows.pipeline import local_runner, rerun_stage  # Prefect and Ray only once the input is known good
    from flows.prefect_api import prefect_api

    flow = rerun_stage.with_options(task_runner=local_runner(args.workers)) if local else rerun_stage
    with prefect_api(root / "prefect"):
        state = flow(run_id=run_id, stage=stage, only=only, ray_address=args.ray_address or "",
                     workers=args.workers, data_dir=str(root), force=force, return_state=True)
    if not state.is_completed():
        return fail(f"stage {stage} of run {run_id} failed: {_reason(state)}; details in "
                    f"{target.manifest_path}", code=1)
    report = state.result()
    stages = report["stage_status"]
    Console().print(f"run [bold]{run_id}[/] {report['status']}: " + ", ".join(f"{s} {stages[s]}" for s in STAGES))
    return 0


def _refusal(target: RunDir, stage: str, root, *, force: bool) -> str | None:
    """Why ``stage`` of ``target`` cannot be re-run as asked (one line), before Prefect and Ray start."""
    manifest = target.manifest()
    if not manifest:
        return f"no run {target.run_id!r} under {root / 'runs'} (no manifest.json); `uce runs` lists the runs"
    if run_status(manifest) == "running":
        return f"run {target.run_id} is still running (process {manifest['process']['pid']}); wait for it"
    previous = STAGES[STAGES.index(stage) - 1] if STAGES.index(stage) else None
    if previous and manifest.get("stages", {}).get(previous, {}).get("status") != "completed":
        return f"stage {previous} of run {target.run_id} has not completed: re-run it first (`uce stage {previous}`)"
    problems = stage_input_problems(target, stage)
    if problems and not force:
        return (f"run {target.run_id}: {'; '.join(problems)}; re-run `uce stage {previous}` first, or pass --force "
                "to use the files as they are")
    return None


def _reason(state) -> str:
    """The exception a failed flow state holds, as one line."""
    try:
        state.result()
    except BaseException as exc:  # noqa: BLE001 - the flow's failure, reported as one line
        return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
    return state.name
