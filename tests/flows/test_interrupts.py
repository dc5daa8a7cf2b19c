"""A run that is killed leaves nothing behind and can be continued; Ctrl-C stops one cleanly.

Real `uce run --test-mode` processes (Prefect server, embedded Ray) killed while they evolve: SIGKILL,
after which no process of the run may survive and `uce runs` calls it interrupted, then `uce run
--resume` finishes it; and SIGINT (a terminal's Ctrl-C), which must end in one line and exit 130."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestration_helpers import REPO, manifest, uce

from flows.process_guard import descendants

START_TIMEOUT_S = 240
GONE_TIMEOUT_S = 45


def _start(data: Path, run_id: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}  # the run's own server, to orphan
    return subprocess.Popen([sys.executable, "-m", "flows.cli", "--data-dir", str(data), "run", "--test-mode",
                             "--run-id", run_id], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_evolving(data: Path, run_id: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while manifest(data / "runs" / run_id).get("stages", {}).get("evolve", {}).get("status") != "running":
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the run never started evolving"
        time.sleep(0.5)
    time.sleep(3)  # islands on Ray workers


def _alive(pids: dict[int, int]) -> list[str]:
    """Command lines of the processes still running (zombies are dead: nobody is left to reap them)."""
    out = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] != "Z":
                out.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
        except OSError:
            continue
    return out


def test_sigkill_leaves_no_process_and_the_run_resumes(tmp_path: Path) -> None:
    proc = _start(tmp_path, "killed")
    _wait_evolving(tmp_path, "killed", proc)
    family = descendants(proc.pid)
    assert any("prefect server" in cmd for cmd in _alive(family))  # there is a server to orphan
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    deadline = time.monotonic() + GONE_TIMEOUT_S
    while _alive(family) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _alive(family) == []
    listed = uce(tmp_path, "runs", env=dict(os.environ, COLUMNS="200"))
    assert "interrupted" in next(line for line in listed.stdout.splitlines() if "killed" in line)
    resumed = uce(tmp_path, "run", "--resume", "--run-id", "killed")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert manifest(tmp_path / "runs" / "killed")["status"] == "completed"


def test_ctrl_c_is_one_line_and_exit_130(tmp_path: Path) -> None:
    proc = _start(tmp_path, "stopped")
    _wait_evolving(tmp_path, "stopped", proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert err.rstrip().splitlines()[-1] == "interrupted" and "Traceback" not in err
    assert manifest(tmp_path / "runs" / "stopped")["status"] == "interrupted"
