"""JSON-safe values for report.json: numpy scalars to plain Python (NaN / inf / missing → null), nested
containers made plain, epoch seconds to ISO-8601 UTC."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

__all__ = ["iso_utc", "json_safe", "plain"]


def plain(x: Any) -> Any:
    """numpy scalars to JSON-safe Python values (NaN / inf / missing → None)."""
    if x is None or isinstance(x, str):
        return x
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer, int)):
        return int(x)
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if np.isfinite(x) else None


def json_safe(value: Any) -> Any:
    """Plain JSON values; anything unexpected becomes its string."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (int, float, np.generic)):
        return plain(value)
    return str(value)


def iso_utc(epoch_s: float | None) -> str | None:
    """Epoch seconds as an ISO-8601 UTC time to the second (None stays None).

    >>> iso_utc(1_700_000_000)
    '2023-11-14T22:13:20+00:00'
    """
    if epoch_s is None:
        return None
    return datetime.fromtimestamp(float(epoch_s), timezone.utc).isoformat(timespec="seconds")
