"""Ray 2.60's token authentication for a driver that joins an existing cluster.

Ray sends its token only when ``RAY_AUTH_MODE=token`` — and reads that setting once, when Ray is first
imported; for an explicit cluster address it never turns token mode on by itself. So the commands that
take ``--ray-address`` call ``token_auth_for(address)`` before anything imports Ray, and deployments set
the variable in their job environment (prefect.yaml). The token itself comes from ``RAY_AUTH_TOKEN``,
``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``.
"""
from __future__ import annotations

import os

__all__ = ["token_auth_for"]


def token_auth_for(address: str | None) -> None:
    """Switch this process (and its children) to token authentication when joining ``address``, unless
    the user chose a mode already."""
    if address:
        os.environ.setdefault("RAY_AUTH_MODE", "token")
