"""Shared pieces of the exchange tests: the synthetic market, throwaway keys, answer helpers.

The market has 400 hourly bars of BTC and ETH from 2023-01-01: closes follow a ±4 % sine wave (period
48 h), each bar's high/low sit 0.2 % beyond its open/close, and funding is charged every hour at a rate
that alternates between +0.01 % and -0.005 %.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from eth_account import Account
from eth_account.signers.local import LocalAccount

from exchange.venue.data import BAR_MS

T0_MS = int(pd.Timestamp("2023-01-01", tz="UTC").value // 1_000_000)
N_BARS = 400
START_BAR = 200
"""Replay starts when bar START_BAR - 1 has closed: mid = close[START_BAR - 1]."""
BALANCE = 100_000.0

ALICE: LocalAccount = Account.from_key("0x" + "a1" * 32)
BOB: LocalAccount = Account.from_key("0x" + "b2" * 32)
MALLORY: LocalAccount = Account.from_key("0x" + "c3" * 32)
"""Never funded on the venue."""


def candles_frame(base: float) -> pd.DataFrame:
    """N_BARS hourly candles around `base` (see the module docstring)."""
    i = np.arange(N_BARS)
    close = base * (1 + 0.04 * np.sin(2 * np.pi * i / 48))
    open_ = np.concatenate([[base], close[:-1]])
    return pd.DataFrame({
        "timestamp": pd.to_datetime(T0_MS + i * BAR_MS, unit="ms", utc=True).astype("datetime64[ms, UTC]"),
        "open": open_, "high": np.maximum(open_, close) * 1.002, "low": np.minimum(open_, close) * 0.998,
        "close": close, "volume": np.full(N_BARS, 10.0),
    })


def funding_frame() -> pd.DataFrame:
    """Hourly funding at the close of every bar, alternating +0.01 % and -0.005 %."""
    i = np.arange(1, N_BARS + 1)
    return pd.DataFrame({
        "timestamp": pd.to_datetime(T0_MS + i * BAR_MS, unit="ms", utc=True).astype("datetime64[ms, UTC]"),
        "funding_rate": np.where(i % 2 == 0, 0.0001, -0.00005), "premium": np.zeros(N_BARS),
    })


def statuses(answer: dict[str, Any]) -> list[Any]:
    """The per-order statuses of an /exchange answer."""
    assert answer["status"] == "ok", answer
    return answer["response"]["data"]["statuses"]
