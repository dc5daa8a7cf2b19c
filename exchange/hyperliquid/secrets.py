"""The trading key: from the environment or a Prefect Secret block, never logged, stored or echoed."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from eth_account import Account
from eth_account.signers.local import LocalAccount

from exchange.errors import ConfigurationError

__all__ = ["PRIVATE_KEY_ENV", "PRIVATE_KEY_BLOCK", "load_wallet", "read_prefect_secret"]

PRIVATE_KEY_ENV = "UCE_PRIVATE_KEY"
PRIVATE_KEY_BLOCK = "uce-private-key"


def read_prefect_secret(name: str) -> str | None:
    """The value of the Prefect Secret block `name`, or None when there is no such block."""
    from prefect.blocks.system import Secret  # imported on demand: Prefect is slow to import

    try:
        return str(Secret.load(name).get())
    except ValueError:
        return None


def load_wallet(*, env: Mapping[str, str] = os.environ,
                read_secret: Callable[[str], str | None] = read_prefect_secret) -> LocalAccount:
    """The signing account from ${UCE_PRIVATE_KEY}, else from the Prefect Secret block "uce-private-key".

    Errors name where the key was looked for, never the key.
    """
    key, source = env.get(PRIVATE_KEY_ENV), f"${PRIVATE_KEY_ENV}"
    if not key:
        key, source = read_secret(PRIVATE_KEY_BLOCK), f"Prefect Secret block '{PRIVATE_KEY_BLOCK}'"
    if not key:
        raise ConfigurationError(
            f"no private key: set ${PRIVATE_KEY_ENV} or create the Prefect Secret block '{PRIVATE_KEY_BLOCK}'")
    try:
        return Account.from_key(key.strip())
    except Exception:  # noqa: BLE001 - the original message may quote the key
        raise ConfigurationError(f"the private key in {source} is not a 32-byte hex key") from None
