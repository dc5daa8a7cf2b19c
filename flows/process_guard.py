"""A watchdog that stops a command's child processes when the command dies, however it dies (SIGKILL too).

A run starts processes that outlive a killed parent: the local Prefect server (flows.prefect_api starts it
in a session of its own, so a terminal's Ctrl-C does not reach it before the flow has reported) and Ray's
agents. ``guard_children()``
starts this module as a separate process,

    python -m flows.process_guard PID

which notes the descendants of PID every ``POLL_S`` while reading its standard input, a pipe whose write
end only PID holds. When PID ends, the kernel closes the pipe, and the guard stops every descendant it
saw that is still alive (same PID and start time, so a reused PID is never hit): SIGTERM, then SIGKILL
after ``GRACE_S``. A clean exit has stopped them already, and then the guard finds nothing to do.
Descendants are read from /proc: on systems without it the guard watches nothing.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["GRACE_S", "POLL_S", "descendants", "guard_children", "main"]

POLL_S = 1.0
GRACE_S = 10.0
_guard: subprocess.Popen | None = None


def guard_children() -> None:
    """Start the watchdog over this process's descendants (once per process; it lives as long as we do)."""
    global _guard
    if _guard is None and Path("/proc").is_dir():
        _guard = subprocess.Popen([sys.executable, "-m", "flows.process_guard", str(os.getpid())],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m flows.process_guard PID", file=sys.stderr)
        return 2
    parent = int(argv[0])
    gone = threading.Event()
    threading.Thread(target=_wait_for_eof, args=(gone,), daemon=True).start()
    seen: dict[int, int] = {}
    while not gone.wait(POLL_S):
        seen |= descendants(parent)
    _stop(seen | descendants(parent))
    return 0


def _wait_for_eof(gone: threading.Event) -> None:
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    gone.set()


def descendants(root: int) -> dict[int, int]:
    """{pid: start time} of every process below ``root`` now (without the guard itself)."""
    children: dict[int, list[int]] = {}
    started: dict[int, int] = {}
    for pid, (ppid, start) in _processes().items():
        children.setdefault(ppid, []).append(pid)
        started[pid] = start
    found, stack = {}, list(children.get(root, []))
    while stack:
        pid = stack.pop()
        if pid != os.getpid():
            found[pid] = started[pid]
        stack.extend(children.get(pid, []))
    return found


def _processes() -> dict[int, tuple[int, int]]:
    """{pid: (parent pid, start time in clock ticks)} from /proc/<pid>/stat."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                out[int(entry.name)] = stat
    return out


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) of a live process; None for one that is gone or a zombie (already dead)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else (int(fields[1]), int(fields[19]))  # state, ppid, starttime


def _alive(processes: dict[int, int]) -> list[int]:
    return [pid for pid, start in processes.items() if (_stat(pid) or (0, -1))[1] == start]


def _stop(processes: dict[int, int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _alive(processes):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + GRACE_S
        while _alive(processes) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _alive(processes):
            return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
