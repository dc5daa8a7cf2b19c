"""`uce data import --funding` and `uce data list`: what the user sees, and exit code 2 with one line on refusal."""
from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps table cells at 80 columns when not on a terminal; the assertions read whole cells."""
    monkeypatch.setenv("COLUMNS", "200")


def uce(tmp_path: Path, *argv: str) -> int:
    return main(["--data-dir", str(tmp_path), *argv])


def test_real_funding_import_then_list(shared_data: Path, tmp_path: Path, capsys) -> None:
    funding = shared_data / "funding-1h" / "BTC.parquet"
    assert uce(tmp_path, "data", "import", str(funding), "--coin", "BTC", "--funding") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"imported 5047 new funding hours into {tmp_path / 'market' / 'funding' / 'BTC.parquet'} "
                          "(5047 in total, 2023-05-12 00:00 → 2023-12-31 23:00, 83 gap(s))")
    assert "gap: 2023-05-12 01:00:00+00:00 → 2023-05-12 07:00:00+00:00" in out and "… and 73 more" in out

    # Funding alone, before any candles, is listed.
    assert uce(tmp_path, "data", "list") == 0
    assert "5047 h, 2023-05-12 → 2023-12-31, 83 gap(s)" in capsys.readouterr().out

    assert uce(tmp_path, "data", "import", str(shared_data / "candles-1h" / "BTC.parquet"), "--coin", "btc") == 0
    assert uce(tmp_path, "data", "import", str(funding), "--coin", "BTC", "--funding") == 0
    assert "imported 0 new funding hours" in capsys.readouterr().out
    assert uce(tmp_path, "data", "list") == 0
    [row] = [line for line in capsys.readouterr().out.splitlines() if "BTC" in line]
    for cell in ("1h", "27952", "2020-10-23 08:00 → 2023-12-31 23:00", "none", "5047 h, 2023-05-12 → 2023-12-31"):
        assert cell in row


def test_list_shows_coins_without_funding_and_funding_without_candles(tmp_path: Path, capsys) -> None:
    candles = tmp_path / "sol.csv"
    candles.write_text("timestamp,open,high,low,close,volume\n2023-01-01T00:00:00Z,1,1,1,1,1\n"
                       "2023-01-01T01:00:00Z,1,1,1,1,1\n")
    funding = tmp_path / "kpepe.csv"
    funding.write_text("time,funding_rate\n2023-01-01 00:00:01,0.0001\n2023-01-01 01:00:01,0.0002\n")
    assert uce(tmp_path, "data", "import", str(candles), "--coin", "SOL") == 0
    assert uce(tmp_path, "data", "import", str(funding), "--coin", "kPEPE", "--funding") == 0
    assert (tmp_path / "market" / "funding" / "kPEPE.parquet").exists()
    capsys.readouterr()
    assert uce(tmp_path, "data", "list") == 0
    rows = {line.split()[1]: line for line in capsys.readouterr().out.splitlines() if line.startswith("│")}
    assert rows["SOL"].rstrip(" │").endswith("-")  # no funding for SOL
    assert "2 h, 2023-01-01 → 2023-01-01, 0 gap(s)" in rows["kPEPE"]


@pytest.mark.parametrize(
    ("content", "coin", "expected"),
    [
        ('[{"coin": "ETH", "fundingRate": "0.0001", "premium": "0", "time": 1683849600048}]', "BTC",
         "row 1: coin 'ETH' is not BTC"),
        ('{"coin": "BTC"}', "BTC", "expected a JSON list of row objects"),
        ("[]", "BTC", "no rows"),
    ],
)
def test_funding_import_refusal_is_one_line_exit_2(content: str, coin: str, expected: str, tmp_path: Path,
                                                   capsys) -> None:
    path = tmp_path / "funding.json"
    path.write_text(content)
    assert uce(tmp_path, "data", "import", str(path), "--coin", coin, "--funding") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and expected in err and err.count("\n") == 1
    assert not (tmp_path / "market" / "funding").exists()


def test_bad_coin_name_is_refused(tmp_path: Path, capsys) -> None:
    assert uce(tmp_path, "data", "import", str(tmp_path / "x.csv"), "--coin", "../BTC", "--funding") == 2
    assert "--coin: coin name '../BTC' is not valid" in capsys.readouterr().err
