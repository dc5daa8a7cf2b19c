"""A run's status as `uce runs` shows it: a run marked running whose process is gone was interrupted."""
from __future__ import annotations

import subprocess
import sys

from tasks.run.run_dir import current_process, run_status


def test_a_running_run_whose_process_is_gone_is_interrupted() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = {"pid": gone.pid, "host": current_process()["host"], "start_ticks": 1}
    assert run_status({"status": "running", "process": dead}) == "interrupted"
    assert run_status({"status": "running", "process": current_process()}) == "running"
    # A reused pid is not the run's process: its start time differs.
    assert run_status({"status": "running", "process": current_process() | {"start_ticks": -5}}) == "interrupted"


def test_other_statuses_and_other_hosts_are_taken_at_their_word() -> None:
    assert run_status({"status": "completed", "process": {"pid": 1, "host": "x"}}) == "completed"
    assert run_status({"status": "running", "process": {"pid": 999999, "host": "another-host"}}) == "running"
    assert run_status({"status": "running"}) == "running"  # recorded before processes were
    assert run_status({}) == "unknown"
