"""The command line refuses bad input with one line on stderr and exit code 2, before starting anything."""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from exchange.hyperliquid.secrets import PRIVATE_KEY_ENV
from flows.cli import build_parser, main
from flows.commands.run import build_config
from flows.parameters import FLAT_FIELDS, run_config


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--strategies", "-5"], "--strategies: Input should be greater than or equal to 1"),
        (["--strategies", "20", "--batch-size", "50"], "batch_size 50 is larger than strategies 20"),
        (["--generations", "0"], "generations: Input should be greater than or equal to 1"),
        (["--coins", "BTC,NOPE"], "has no 1h candles for BTC, NOPE (it is empty); fill it with `uce data import"),
        (["--coins", "ETH"], "has no 1h candles for ETH"),
        (["--coins", "BT/C"], "--coins: coin name 'BT/C' is not valid"),
        (["--interval", "2h", "--coins", "ETH"], "has no 2h candles for ETH"),
        (["--strategies", "many"], "--strategies: 'many' is not an integer"),
        (["--hours", "-1"], "--hours: Input should be greater than 0"),
        (["--run-id", "../escape"], "run id '../escape' is not valid"),
        (["--interval", "7x"], "interval '7x' is not valid"),
        (["--test-mode", "--cost-limit", "0.000001"], "exceeds --cost-limit"),
        (["--validation-concurrency", "0"], "--validation-concurrency: Input should be greater than or equal to 1"),
        (["--validation-concurrency", "many"], "--validation-concurrency: 'many' is not an integer"),
        (["--test-mode", "--validation-concurrency", "-2"], "--validation-concurrency: Input should be greater"),
        (["--testnet", "--testnet-minutes", "0"], "--testnet-minutes: Input should be greater than 0"),
        (["--testnet", "--testnet-minutes", "soon"], "--testnet-minutes: 'soon' is not a number"),
        (["--testnet", "--validation-mode", "fast"], "testnet trades gate 3, which runs only in full validation"),
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
    # Every flat parameter is one of the flow's, and the flow's nested settings carry a whole configuration.
    flow_parameters = set(inspect.signature(ultra_compressed_evolution.fn).parameters)
    assert set(FLAT_FIELDS) | {"settings", "config_file"} <= flow_parameters
    assert run_config(settings=config.model_dump(mode="json")) == config
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


def test_a_typo_in_the_config_file_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    config = tmp_path / "night.toml"
    config.write_text("[validation]\nmin_sharpe = 1.2\nmin_tardes = 40\n")
    code = main(["--data-dir", str(tmp_path), "run", "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: {config}: [validation] min_tardes is not a setting; did you mean min_trades?")
    assert not (tmp_path / "runs").exists()


def test_print_config_shows_the_file_under_the_flags(tmp_path: Path, capsys) -> None:
    import tomllib

    config = tmp_path / "night.toml"
    config.write_text("[costs]\ntaker_fee = 0.0007\n[windows]\nvalidation_days = 540\n[evolve]\nstrategies = 100\n")
    assert main(["run", "--config", str(config), "--print-config", "--strategies", "200", "--coins", "kPEPE"]) == 0
    printed = tomllib.loads(capsys.readouterr().out)
    assert printed["costs"]["taker_fee"] == 0.0007 and printed["windows"]["validation_days"] == 540
    assert printed["evolve"]["strategies"] == 200 and printed["coins"] == ["kPEPE"]
    assert printed["validation"]["min_sharpe"] == 1.0  # defaults filled in, so a user can start from it


def test_a_coin_is_whatever_the_store_has(shared_data: Path, tmp_path: Path, capsys) -> None:
    src = shared_data / "candles-1h" / "DOGE.parquet"
    assert main(["--data-dir", str(tmp_path), "data", "import", str(src), "--coin", "kPEPE"]) == 0
    assert (tmp_path / "market" / "kPEPE-1h.parquet").exists()
    capsys.readouterr()
    assert main(["--data-dir", str(tmp_path), "run", "--coins", "kPEPE", "--print-config"]) == 0
    code = main(["--data-dir", str(tmp_path), "run", "--coins", "NOPE"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "has no 1h candles for NOPE (it has kPEPE 1h)" in err and "uce data fetch --coins NOPE" in err
    code = main(["--data-dir", str(tmp_path), "run", "--coins", "KPEPE"])
    assert code == 2 and "did you mean kPEPE for KPEPE?" in capsys.readouterr().err
    # With any data in the store, BTC no longer falls back to the offline sample.
    code = main(["--data-dir", str(tmp_path), "run", "--test-mode"])
    assert code == 2 and "has no 1h candles for BTC" in capsys.readouterr().err


def test_an_unexpected_error_is_one_line_and_v_shows_the_traceback(tmp_path: Path, monkeypatch, capsys) -> None:
    from flows.commands import report

    def broken(args) -> int:
        raise RuntimeError("the disk said no\nsecond line")

    monkeypatch.setattr(report, "run_runs", broken)
    assert main(["--data-dir", str(tmp_path), "runs"]) == 1
    assert capsys.readouterr().err == "error: RuntimeError: the disk said no (-v shows where)\n"
    assert main(["-v", "--data-dir", str(tmp_path), "runs"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and err.endswith("error: RuntimeError: the disk said no\n")


def test_ctrl_c_in_any_command_is_one_line_and_exit_130(tmp_path: Path, monkeypatch, capsys) -> None:
    from flows.commands import report

    def interrupted(args) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "run_runs", interrupted)
    assert main(["--data-dir", str(tmp_path), "runs"]) == 130
    assert capsys.readouterr().err == "interrupted\n"
