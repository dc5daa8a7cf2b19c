"""A run's folder ``data/runs/<run_id>/``: artifact paths and the manifest that describes them.

The manifest records the parameters, the data fingerprint, the code version, the seed, each stage's
status and seconds, and the sha256 of every artifact a stage wrote. It is rewritten atomically after
every change, so a crash leaves the last consistent manifest.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from exchange.atomic import file_sha256, write_json_atomic

__all__ = ["RunDir", "STAGES", "artifact_problems", "code_digest", "code_version", "current_process", "new_run_id",
           "run_status", "stage_input_problems"]

STAGES = ("evolve", "serialize", "validate", "deploy")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def code_version() -> str:
    """The package version plus the git commit when running from a checkout."""
    version = metadata.version("ultra-compressed-evolution")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version}+{commit}" if commit else version


def code_digest(packages: tuple[str, ...] = ("kernels", "exchange", "tasks")) -> str:
    """sha256 of the source of the packages a stage's results depend on (their .py files, paths and
    contents): unlike the git commit, it sees uncommitted edits and ignores commits of other files."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def current_process() -> dict[str, Any]:
    """Which process is running a run, for the manifest: a "running" run whose process is gone was killed."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "start_ticks": _start_ticks(os.getpid())}


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), so a reused pid is not taken for it."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def run_status(manifest: dict[str, Any]) -> str:
    """The manifest's status, except that a run still marked "running" whose process on this host is gone
    (SIGKILL, power loss) is "interrupted". A run on another host is taken at its word."""
    status = manifest.get("status", "unknown")
    process = manifest.get("process") or {}
    if status != "running" or process.get("host") != socket.gethostname() or not process.get("pid"):
        return status
    alive = _start_ticks(int(process["pid"]))
    gone = alive is None if process.get("start_ticks") is None else alive != process["start_ticks"]
    return "interrupted" if gone else status


def stage_input_problems(run: "RunDir", stage: str) -> list[str]:
    """What is wrong with the inputs a re-run of ``stage`` would read: the artifacts the previous stage
    wrote, missing or changed since the manifest recorded their sha256 (e.g. swapped in from another run)."""
    index = STAGES.index(stage)
    if index == 0:
        return []
    previous = STAGES[index - 1]
    return artifact_problems(run.root, run.manifest().get("stages", {}).get(previous, {}).get("artifacts", {}),
                             writer=previous)


def artifact_problems(root: Path, recorded: dict[str, str], *, writer: str) -> list[str]:
    """The artifacts of ``recorded`` ({path under ``root``: sha256}) that are missing or changed."""
    problems = []
    for name, sha in sorted(recorded.items()):
        path = root / name
        actual = file_sha256(path) if path.exists() else None
        if actual is None:
            problems.append(f"{name} (written by {writer}) is missing")
        elif actual != sha:
            problems.append(f"{name} is not the file {writer} wrote (sha256 {actual[:12]}…, recorded {sha[:12]}…)")
    return problems


@dataclass(frozen=True)
class RunDir:
    root: Path

    @classmethod
    def for_run(cls, data_dir: Path, run_id: str) -> "RunDir":
        if not _RUN_ID_RE.match(run_id):
            raise ValueError(f"run id {run_id!r} is not valid: use letters, digits, '_', '-', '.' (≤ 80)")
        return cls(Path(data_dir) / "runs" / run_id)

    @property
    def run_id(self) -> str:
        return self.root.name

    # Artifacts, as DESIGN.md names them.
    @property
    def evolved(self) -> Path:
        return self.root / "evolved.parquet"

    @property
    def events(self) -> Path:
        return self.root / "events.parquet"

    @property
    def strategies(self) -> Path:
        return self.root / "strategies"

    @property
    def candidates(self) -> Path:
        return self.root / "candidates.parquet"

    @property
    def validated(self) -> Path:
        return self.root / "validated.parquet"

    @property
    def deployed(self) -> Path:
        return self.root / "deployed.parquet"

    @property
    def report(self) -> Path:
        return self.root / "report.json"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def manifest(self) -> dict[str, Any]:
        if not self.manifest_path.exists():
            return {}
        return json.loads(self.manifest_path.read_text())

    def update_manifest(self, **fields: Any) -> dict[str, Any]:
        manifest = self.manifest() | fields
        write_json_atomic(manifest, self.manifest_path)
        return manifest

    def record_stage(self, stage: str, status: str, *, seconds: float | None = None,
                     artifacts: dict[str, str] | None = None, error: str | None = None, **extra: Any) -> None:
        """Mark ``stage`` running / completed / failed, with its timing and what it wrote ({path under the
        run folder: sha256}, as the stage hashed it)."""
        manifest = self.manifest()
        stages = manifest.setdefault("stages", {})
        entry: dict[str, Any] = {"status": status, "updated": time.time()}
        if seconds is not None:
            entry["seconds"] = round(seconds, 3)
        if artifacts:
            entry["artifacts"] = dict(artifacts)
        if error:
            entry["error"] = error
        entry.update(extra)
        stages[stage] = entry
        write_json_atomic(manifest, self.manifest_path)
