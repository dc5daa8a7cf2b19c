"""Shared pieces of the paper-trader tests: ten genomes that trade the last 30 days of the real data,
a book registered straight into the registry, throwaway wallets, and the `uce paper` command line."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from exchange.paper import PaperPaths, Registry, StrategySpec
from exchange.venue import Venue

REPO_ROOT = Path(__file__).resolve().parents[2]

# (family, coin, genes): low leverage (gene 0 < 0.45), each changes its target 7-50 times in the last
# 30 days of the shared data; the last one is an ensemble (a second member is added below).
GENOMES = {
    "rsi": ("rsi_filter", "BTC", [0.308, 0.237, 0.801, 0.587, 0.094, 0.433, 0.479, 0.16, 0.735, 0.114, 0.391, 0.517]),
    "sto": ("stochastic", "ETH", [0.339, 0.708, 0.214, 0.198, 0.706, 0.052, 0.68, 0.368, 0.59, 0.67, 0.669, 0.523]),
    "bol": ("bollinger", "SOL", [0.427, 0.125, 0.481, 0.393, 0.774, 0.394, 0.02, 0.528, 0.205, 0.741, 0.389, 0.38]),
    "atr": ("atr_breakout", "BTC", [0.242, 0.343, 0.262, 0.513, 0.318, 0.619, 0.582, 0.104, 0.442, 0.39, 0.707, 0.088]),
    "ich": ("ichimoku", "ETH", [0.232, 0.665, 0.333, 0.415, 0.932, 0.244, 0.147, 0.28, 0.34, 0.225, 0.536, 0.937]),
    "ema": ("ema_crossover", "SOL", [0.337, 0.873, 0.565, 0.562, 0.001, 0.34, 0.769, 0.686, 0.561, 0.664, 0.876,
                                     0.684]),
    "don": ("donchian_breakout", "BTC", [0.322, 0.866, 0.876, 0.66, 0.136, 0.115, 0.894, 0.401, 0.27, 0.382, 0.66,
                                         0.161]),
    "vwp": ("vwap_reversion", "ETH", [0.425, 0.012, 0.811, 0.883, 0.436, 0.562, 0.28, 0.887, 0.212, 0.543, 0.168,
                                      0.616]),
    "nad": ("nadaraya_watson", "BTC", [0.432, 0.21, 0.878, 0.909, 0.808, 0.802, 0.911, 0.499, 0.61, 0.561, 0.19,
                                       0.502]),
    "lin": ("linear_classifier", "ETH", [0.216, 0.663, 0.327, 0.213, 0.139, 0.795, 0.959, 0.52, 0.384, 0.51, 0.829,
                                         0.747]),
}
ENSEMBLE_B = ("vol_scaling", [0.201, 0.399, 0.33, 0.447, 0.427, 0.942, 0.119, 0.944, 0.046, 0.938, 0.333, 0.727])
CAPITAL = 10_000.0
FUNDING_USDC = 1_000_000.0


def wallet(name: str) -> LocalAccount:
    """A throwaway key derived from `name` (never a real account)."""
    return Account.from_key(hashlib.sha256(f"uce-paper-test|{name}".encode()).digest())


def specs(names: list[str] | None = None, *, coins: tuple[str, ...] | None = None) -> list[StrategySpec]:
    """StrategySpecs of GENOMES (all, or `names`), optionally moved onto `coins` in turn."""
    out = []
    for i, name in enumerate(names or list(GENOMES)):
        family, coin, genes = GENOMES[name]
        coin = coins[i % len(coins)] if coins else coin
        family_b, genes_b = ENSEMBLE_B if name == "lin" else (None, None)
        out.append(StrategySpec(f"s-{name}", "test-run", coin, family, tuple(genes), CAPITAL, 0.1, "test book",
                                family_b=family_b, genes_b=None if genes_b is None else tuple(genes_b),
                                lineage={"uid": i, "parent_ids": [], "operator": "init", "generation": 0,
                                         "island": 0}))
    return out


def register_book(data_dir: Path, book: list[StrategySpec]) -> PaperPaths:
    """The paper folder of `data_dir` with `book` registered."""
    paths = PaperPaths(data_dir / "paper")
    Registry(paths.registry).register(book)
    return paths


def fund(venue: Venue, account: LocalAccount) -> None:
    venue.engine.fund(account.address, FUNDING_USDC)


_RUNNER = """
import argparse, logging, sys
from flows.commands import paper
parser = argparse.ArgumentParser(prog="uce")
parser.add_argument("--data-dir")
sub = parser.add_subparsers(dest="command", required=True)
paper.register(sub)
args = parser.parse_args(sys.argv[1:])
logging.basicConfig(level=logging.WARNING)
sys.exit(args.func(args))
"""


def cli_argv(data_dir: Path, *args: str) -> list[str]:
    """`uce --data-dir DATA paper ARGS` as a subprocess argv (through flows.cli once `paper` is wired there)."""
    from flows import cli

    names = {getattr(m, "__name__", "") for m in getattr(cli, "_COMMANDS", ())}
    head = ["-m", "flows.cli"] if "flows.commands.paper" in names else ["-c", _RUNNER]
    return [sys.executable, *head, "--data-dir", str(data_dir), "paper", *args]


def cli_env(account: LocalAccount) -> dict[str, str]:
    env = dict(os.environ)
    env["UCE_PRIVATE_KEY"] = account.key.hex()
    return env


def popen(data_dir: Path, account: LocalAccount, *args: str) -> subprocess.Popen:
    return subprocess.Popen(cli_argv(data_dir, *args), cwd=REPO_ROOT, env=cli_env(account), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
