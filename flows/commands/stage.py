"""``uce stage STAGE --run RUN_ID``: re-run one stage of a run from the previous stage's artifact, with the
run's parameters from its manifest, then the later stages (cached ones come back at once) unless --only."""
from __future__ import annotations

import argparse
import sys

from rich.console import Console

from flows.commands.common import data_dir, fail
from flows.ray_auth import token_auth_for
from tasks.run_dir import STAGES, RunDir

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("stage", help="re-run one stage of a run (and the stages after it)")
    p.add_argument("stage", choices=STAGES)
    p.add_argument("--run", required=True, metavar="RUN_ID", help="the run folder under <data dir>/runs")
    p.add_argument("--only", action="store_true", help="re-run just this stage, leave the later ones as they are")
    p.add_argument("--ray-address", help="HOST:PORT of an existing Ray cluster (default: embedded Ray)")
    p.add_argument("--workers", type=int, help="CPUs for the embedded Ray (default: the run's own setting)")
    p.add_argument("--local", action="store_true", help="no Ray: run the stage's tasks on threads in this process")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = data_dir(args)
    try:
        target = RunDir.for_run(root, args.run)
    except ValueError as err:
        return fail(str(err))
    if not target.manifest_path.exists():
        return fail(f"no run {args.run!r} under {root / 'runs'} (no manifest.json)")
    token_auth_for(args.ray_address)  # before Ray is imported
    from flows.pipeline import local_runner, rerun_stage  # Prefect and Ray only once the input is known good
    from flows.prefect_api import prefect_api

    flow = rerun_stage.with_options(task_runner=local_runner(args.workers)) if args.local else rerun_stage
    console = Console()
    try:
        with prefect_api(root / "prefect"):
            report = flow(run_id=args.run, stage=args.stage, only=args.only, ray_address=args.ray_address or "",
                          workers=args.workers, data_dir=str(root))
    except Exception as exc:  # noqa: BLE001 - the flow's failure, reported as one line (details in the manifest)
        print(f"error: stage {args.stage} of run {args.run} failed: {type(exc).__name__}: {exc}".splitlines()[0],
              file=sys.stderr)
        return 1
    stages = report["stage_status"]
    console.print(f"run [bold]{args.run}[/] {report['status']}: " + ", ".join(f"{s} {stages[s]}" for s in STAGES))
    return 0
