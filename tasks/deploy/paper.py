"""Opening the paper trader for the command line and the Prefect flow: rules, key, client, folder."""
from __future__ import annotations

from pathlib import Path

from exchange.hyperliquid.client import HyperliquidClient
from exchange.hyperliquid.secrets import load_wallet
from exchange.hyperliquid.settings import ExchangeSettings
from exchange.paper import PaperSettings, PaperTrader
from exchange.paper.state import StateStore
from tasks.deploy.decision import load_rules
from tasks.deploy.stage import paper_paths

__all__ = ["account_address", "book_endpoint", "open_trader"]


def book_endpoint(data_dir: Path, url: str | None) -> str:
    """`url` when given, else the endpoint the existing book trades on, else "testnet"."""
    if url:
        return url
    state = StateStore(paper_paths(data_dir)).load()
    return state.endpoint if state is not None else "testnet"


def account_address(data_dir: Path) -> str:
    """The address the book trades from: the existing book's own, else that of the key `open_trader`
    would load (so no key is needed once a book exists).

    Raises ConfigurationError (no key, or not a key), naming where the key was looked for, never the key.
    """
    state = StateStore(paper_paths(data_dir)).load()
    return state.address if state is not None else str(load_wallet().address)


def open_trader(data_dir: Path, *, url: str | None = None, rules_path: str | Path | None = None,
                retries: int = 6, timeout_s: float = 10.0, settings: PaperSettings = PaperSettings()) -> PaperTrader:
    """The paper trader of `data_dir`/paper on `url` (see `book_endpoint`), with the rules of `rules_path`
    (embedded defaults when None) and the key of $UCE_PRIVATE_KEY or the Prefect Secret.

    Raises RulesError, PaperStateError, ConfigurationError (no key) or an ExchangeError when the venue
    cannot be reached, each with a one-line message; nothing is written before the venue answered.
    """
    rules = load_rules(rules_path)
    endpoint = book_endpoint(data_dir, url)
    exchange = ExchangeSettings(endpoint=endpoint, timeout_s=timeout_s, max_attempts=retries)
    client = HyperliquidClient(load_wallet(), exchange)
    return PaperTrader(paper_paths(data_dir), client, rules.paper, settings)
