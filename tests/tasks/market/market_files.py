"""Writing test frames to files, and spoiling one row of them, for the market import and store tests."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["corrupt", "write_csv"]


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


def corrupt(df: pd.DataFrame, row: int, **values) -> pd.DataFrame:
    """A copy of ``df`` with ``values`` written into row ``row`` (a text value turns its column into objects)."""
    df = df.copy()
    for col, value in values.items():
        if isinstance(value, str):
            df[col] = df[col].astype(object)
        df.loc[row, col] = value
    return df
