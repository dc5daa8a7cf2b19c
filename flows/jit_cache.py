"""Where numba keeps compiled kernels: a folder keyed on the kernels' source.

numba's ``cache=True`` checks only a function's own file for staleness: a cached caller keeps
running the old code of a callee edited in another file (seen here: ``evaluate`` ran an old tree
split after ``pca_tree_quantile.py`` changed). Keying the cache folder on a hash of every kernel
source file makes any edit start a fresh cache. Ray workers inherit the variable from the driver.
"""
from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["use_kernel_cache", "start_compiling", "wait_compiled"]

log = logging.getLogger(__name__)

_KERNELS = Path(__file__).resolve().parents[1] / "kernels"
_DEFAULT_BASE = Path.home() / ".cache" / "uce" / "numba"


def _kernels_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(_KERNELS.rglob("*.py")):
        digest.update(path.relative_to(_KERNELS).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def use_kernel_cache() -> Path:
    """Point NUMBA_CACHE_DIR at ``<$NUMBA_CACHE_DIR or ~/.cache/uce/numba>/<digest of kernels/>``.

    Call before numba is imported; calling again (a Ray worker, a subprocess) keeps the same folder."""
    digest = _kernels_digest()
    current = os.environ.get("NUMBA_CACHE_DIR")
    if current and Path(current).name == digest:
        return Path(current)
    root = Path(current or _DEFAULT_BASE) / digest
    os.environ["NUMBA_CACHE_DIR"] = str(root)
    return root


def start_compiling() -> subprocess.Popen:
    """Compile every kernel into the cache in a background process (kernels.warmup), so a cold run
    compiles once while the Prefect server starts instead of once per Ray worker."""
    use_kernel_cache()
    return subprocess.Popen([sys.executable, "-m", "kernels.warmup"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def wait_compiled(process: subprocess.Popen) -> None:
    """Block until `process` (from start_compiling) ends. A failure is logged, not raised: the workers
    then compile what they need themselves, and any real kernel error surfaces there with its context."""
    started = time.perf_counter()
    _, errors = process.communicate()
    if process.returncode:
        last = (errors or "").strip().splitlines()[-1:] or ["no output"]
        log.warning("kernel warm-up exited with %s (%s); workers will compile on first use",
                    process.returncode, last[0])
    else:
        log.debug("kernel warm-up finished (waited %.1f s)", time.perf_counter() - started)
