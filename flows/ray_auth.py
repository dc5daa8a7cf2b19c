"""Ray 2.60's token authentication for a driver that joins an existing cluster.

Ray sends its token only when ``RAY_AUTH_MODE=token`` — and reads that setting once, when Ray is first
imported; for an explicit cluster address it never turns token mode on by itself. So the commands that
take ``--ray-address`` call ``token_auth_for(address)`` before anything imports Ray, and deployments set
the variable in their job environment (prefect.yaml). The token itself comes from ``RAY_AUTH_TOKEN``,
``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``.
"""
from __future__ import annotations

import os
import subprocess
import sys

__all__ = ["PROBE_TIMEOUT_S", "cluster_refusal", "token_auth_for", "token_source"]


def token_auth_for(address: str | None) -> None:
    """Switch this process (and its children) to token authentication when joining ``address``, unless
    the user chose a mode already."""
    if address:
        os.environ.setdefault("RAY_AUTH_MODE", "token")


# Joins the cluster and leaves; Ray's C++ logging of a refused token goes to this child's captured stderr.
_PROBE = "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR', log_to_driver=False); ray.shutdown()"
PROBE_TIMEOUT_S = 90.0


def token_source() -> str:
    """Where Ray reads this machine's token from (never the token)."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "$RAY_AUTH_TOKEN"
    return os.environ.get("RAY_AUTH_TOKEN_PATH") or "~/.ray/auth_token"


def cluster_refusal(address: str) -> str | None:
    """Why this machine cannot join the Ray cluster at ``address`` (one line), or None if it can. Tried once
    in a child process, so a wrong token is one line naming where the token came from, not Ray's 20 s of C++
    log lines and a bare ConnectionError."""
    try:
        probe = subprocess.run([sys.executable, "-c", _PROBE, address], capture_output=True, text=True,
                               timeout=PROBE_TIMEOUT_S, env=os.environ | {"RAY_AUTH_MODE": "token"})
    except subprocess.TimeoutExpired:
        return f"cannot join Ray at {address}: no answer within {PROBE_TIMEOUT_S:.0f} s"
    if probe.returncode == 0:
        return None
    output = probe.stdout + probe.stderr
    if any(word in output for word in ("InvalidAuthToken", "UNAUTHENTICATED", "Unauthenticated", "auth token")):
        return (f"Ray at {address} refused this machine's token (from {token_source()}): give it the cluster's "
                "token in RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token")
    lines = [line.strip() for line in output.splitlines() if "Error" in line or "error" in line]
    return f"cannot join Ray at {address}: {(lines or ['the probe exited with code ' + str(probe.returncode)])[-1]}"
