"""The command line refuses bad input with one line on stderr and exit code 2, before starting anything."""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from exchange.secrets import PRIVATE_KEY_ENV
from flows.cli import build_parser, main
from flows.commands.run import build_config
from flows.parameters import flow_parameters, run_config


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
        (["--validation-concurrency", "0"], "--validation-concurrency: Input should be greater than or equal to 1"),
        (["--validation-concurrency", "many"], "--validation-concurrency: 'many' is not an integer"),
        (["--test-mode", "--validation-concurrency", "-2"], "--validation-concurrency: Input should be greater"),
        (["--testnet", "--testnet-minutes", "0"], "--testnet-minutes: Input should be greater than 0"),
        (["--testnet", "--testnet-minutes", "soon"], "--testnet-minutes: 'soon' is not a number"),
        (["--testnet", "--validation-mode", "fast"], "--testnet trades gate 3, which runs only in full validation"),
        (["--testnet", "--testnet-url", "mainnet"], "--testnet-url: 'mainnet' is Hyperliquid mainnet"),
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


def test_validation_and_testnet_flags_reach_the_config_and_the_flow() -> None:
    from flows.pipeline import ultra_compressed_evolution

    def config_of(*argv: str):
        return build_config(build_parser().parse_args(["run", *argv]))

    default = config_of().validation
    assert (default.concurrency, default.testnet, default.testnet_minutes, default.testnet_url) == (
        10, False, 30.0, "testnet")
    config = config_of("--validation-concurrency", "3", "--testnet", "--testnet-minutes", "0.5",
                       "--testnet-url", "http://127.0.0.1:8765")
    v = config.validation
    assert (v.concurrency, v.testnet, v.testnet_minutes, v.testnet_url) == (3, True, 0.5, "http://127.0.0.1:8765")
    parameters = flow_parameters(config)
    assert set(parameters) <= set(inspect.signature(ultra_compressed_evolution.fn).parameters)
    assert run_config(**parameters) == config
    small = config_of("--test-mode", "--validation-concurrency", "2").validation
    assert (small.mode, small.concurrency) == ("minimal", 2)


def test_testnet_without_a_key_fails_before_the_run(prefect_server: str, tmp_path: Path, monkeypatch,
                                                    capsys) -> None:
    monkeypatch.delenv(PRIVATE_KEY_ENV, raising=False)
    code = main(["--data-dir", str(tmp_path), "run", "--testnet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: no private key: set ${PRIVATE_KEY_ENV} or create the Prefect Secret block "
                          "'uce-private-key'")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "prefect").exists()


def test_testnet_with_a_bad_key_names_where_it_came_from_not_the_key(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv(PRIVATE_KEY_ENV, "0xdeadbeef1234")
    code = main(["--data-dir", str(tmp_path), "run", "--testnet"])
    err = capsys.readouterr().err
    assert code == 2 and err == f"error: the private key in ${PRIVATE_KEY_ENV} is not a 32-byte hex key\n"
    assert "deadbeef" not in err and not (tmp_path / "runs").exists()
