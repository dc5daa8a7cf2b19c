"""Helpers of the orchestration tests: the `uce` command line, processes, and the run's manifest."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SMALL_RUN = ("--strategies", "20", "--batch-size", "10", "--validation-mode", "minimal", "--workers", "2")


def uce(data_dir: Path, *args: str, timeout: float = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    """`uce --data-dir DATA ARGS` in a subprocess from the repo root."""
    return subprocess.run([sys.executable, "-m", "flows.cli", "--data-dir", str(data_dir), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env=env or dict(os.environ))


def manifest(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def descends_from(pid: int, ancestor: int) -> bool:
    while pid and pid != 1:
        if pid == ancestor:
            return True
        pid = _ppid(pid) or 0
    return False


def processes(needle: str) -> list[int]:
    """PIDs whose command line contains ``needle``."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if needle in cmdline:
                out.append(int(entry.name))
    return out


def stop(pids: list[int], *, grace_s: float = 10.0) -> None:
    """SIGTERM these processes, SIGKILL what is left after ``grace_s`` (workers may ignore SIGTERM)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() and _ppid(p) is not None
                                                  and not _zombie(p) for p in pids):
            time.sleep(0.1)


def stop_groups(leaders: list[subprocess.Popen], *, grace_s: float = 10.0) -> None:
    """SIGTERM the process groups these child processes lead, SIGKILL them after ``grace_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for leader in leaders:
            try:
                os.killpg(leader.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(_group_alive(p) for p in leaders):
            time.sleep(0.1)


def _group_alive(leader: subprocess.Popen) -> bool:
    leader.poll()  # reap the leader: a zombie still counts as a member of its group
    try:
        os.killpg(leader.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
