"""``uce lineage``: the ancestry tree of a strategy from evolved.parquet, and one-line errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.cli import main

# A hand-made run: two islands; D = crossover(A, B) migrates to island 1 as M (a copy, same strategy id);
# F = ensemble(M, E) and G = crossover(F, E), so E is reached twice.
ROWS = [  # strategy_id, uid, parents, operator, generation, island, evaluated, fitness
    ("aaaa000000000001", 1, [], "init", 0, 0, True, 0.1),
    ("bbbb000000000002", 2, [], "init", 0, 0, True, 0.2),
    ("cccc000000000003", 3, [], "init", 0, 1, True, 0.3),
    ("dddd000000000004", 4, [1, 2], "crossover", 1, 0, True, 0.9),
    ("eeee000000000005", 5, [3], "mutate", 1, 1, True, 0.5),
    ("dddd000000000004", 6, [4], "migrate", 1, 1, False, 0.9),
    ("ffff000000000007", 7, [6, 5], "ensemble", 2, 1, True, 1.1),
    ("abab000000000008", 8, [7, 5], "crossover", 3, 1, True, 1.4),
]


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    write_run(tmp_path, ROWS)
    return tmp_path


def write_run(root: Path, rows: list[tuple], run_id: str = "r1") -> None:
    frame = pd.DataFrame(rows, columns=["strategy_id", "uid", "parent_uids", "operator", "generation", "island",
                                        "evaluated", "fitness"])
    frame = frame.assign(coin="BTC", family="ema_crossover", family_b=None, sharpe=1.0, cagr=0.2)
    frame.loc[frame["operator"] == "ensemble", "family_b"] = "bollinger"
    frame.loc[~frame["evaluated"], ["fitness", "sharpe", "cagr"]] = np.nan
    path = root / "runs" / run_id / "evolved.parquet"
    path.parent.mkdir(parents=True)
    frame.to_parquet(path)


def lineage(data_dir: Path, *args: str) -> int:
    return main(["--data-dir", str(data_dir), "lineage", *args])


def test_prints_every_ancestor_down_to_the_init_genomes(data_dir: Path, capsys) -> None:
    assert lineage(data_dir, "abab000000000008", "--run", "r1") == 0
    out = capsys.readouterr().out
    for sid, _, _, operator, *_ in ROWS:
        assert sid in out and operator in out
    assert "migrated copy" in out and "ensemble" in out and "ema_crossover + bollinger" in out
    assert out.count("eeee000000000005") == 2 and "ancestors shown above" in out
    assert "7 ancestors; 3 init genome(s) on island(s) 0, 1" in out


def test_a_prefix_is_enough_and_depth_cuts_the_tree(data_dir: Path, capsys) -> None:
    assert lineage(data_dir, "ffff", "--run", "r1", "--depth", "1") == 0
    out = capsys.readouterr().out
    assert "ffff000000000007" in out and "dddd000000000004" in out and "aaaa000000000001" not in out
    assert "parent(s) not shown (--depth 1)" in out


def test_a_shared_strategy_id_starts_at_the_evaluated_genome(data_dir: Path, capsys) -> None:
    assert lineage(data_dir, "dddd000000000004", "--run", "r1") == 0
    out = capsys.readouterr().out
    assert "migrated copy" not in out and "crossover" in out and "2 ancestors" in out


@pytest.mark.parametrize(("args", "expected"), [
    (["zzzz", "--run", "r1"], "strategy 'zzzz' is not in this run"),
    (["a", "--run", "r1"], "prefix 'a' matches 2 strategies"),
    (["abab000000000008", "--run", "missing"], "missing/evolved.parquet does not exist"),
    (["abab000000000008", "--run", "../x"], "run id '../x' is not valid"),
    (["abab000000000008", "--run", "r1", "--depth", "-1"], "--depth -1 must be >= 0"),
])
def test_errors_are_one_line_with_exit_code_2(data_dir: Path, capsys, args: list[str], expected: str) -> None:
    assert lineage(data_dir, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1


def test_a_missing_parent_is_reported(tmp_path: Path, capsys) -> None:
    write_run(tmp_path, [ROWS[0], ("dddd000000000004", 4, [1, 99], "crossover", 1, 0, True, 0.9)])
    assert lineage(tmp_path, "dddd", "--run", "r1") == 2
    assert "parent uid 99 is missing" in capsys.readouterr().err
