"""The command line refuses bad input with one line on stderr and exit code 2, before starting anything."""
from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--strategies", "-5"], "--strategies: Input should be greater than or equal to 1"),
        (["--strategies", "20", "--batch-size", "50"], "--batch-size 50 is larger than --strategies 20"),
        (["--generations", "0"], "generations: Input should be greater than or equal to 1"),
        (["--coins", "BTC,NOPE"], "unknown coin(s) NOPE"),
        (["--coins", "ETH"], "has no 1h candles for ETH"),
        (["--hours", "-1"], "--hours: Input should be greater than 0"),
        (["--run-id", "../escape"], "run id '../escape' is not valid"),
        (["--interval", "7x"], "interval '7x' is not valid"),
        (["--test-mode", "--cost-limit", "0.000001"], "exceeds --cost-limit"),
    ],
)
def test_run_rejects_bad_values(argv: list[str], expected: str, tmp_path: Path, capsys) -> None:
    code = main(["--data-dir", str(tmp_path), "run", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and expected in err
    assert err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_data_import_reports_bad_file_with_exit_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n2023-01-01T00:00:00Z,1,0.5,1,1,1\n")
    code = main(["--data-dir", str(tmp_path), "data", "import", str(bad), "--coin", "BTC"])
    err = capsys.readouterr().err
    assert code == 2 and f"{bad}: row 1: high < low" in err


def test_data_import_then_list(shared_data: Path, tmp_path: Path, capsys) -> None:
    src = shared_data / "candles-1h" / "SOL.parquet"
    assert main(["--data-dir", str(tmp_path), "data", "import", str(src), "--coin", "sol"]) == 0
    assert (tmp_path / "market" / "SOL-1h.parquet").exists()
    assert main(["--data-dir", str(tmp_path), "data", "list"]) == 0
    out = capsys.readouterr().out
    assert "SOL" in out and "27952" in out and "none" in out
