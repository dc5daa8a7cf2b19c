"""Paper trading of the deployed strategies on one account of a venue (the loopback venue or the testnet).

- `trader`: the bar loop's coordinator — locks, the steps below in order, the state committed after
  every bar, the operator's stop and resume.
- `accounting`: marking, funding, fills, dust and ledger rows, as plain functions of the book's state.
- `targets`: each strategy's target from the kernels, times its risk multiplier.
- `execution`: netted orders through the exchange client, sent at most once, fills shared back out.
- `registry`: the deployed strategies (SQLite), written by the deploy stage.
- `state`: the book on disk (atomic, checksummed, previous good copy kept) and the locks.
- `rules`: stops, retirement, emergency shutdown and risk adjustment.
- `netting`, `feed`, `ledger`: order netting, market data (bars of `exchange.replay.Bar`), Parquet tables.
- `status`: the status view, whether the book has anything to trade, the account's equity on the venue.
- `replay_clock`: stepping the loopback venue's clock, to replay history at full speed.
"""
from exchange.paper.accounting import coins_to_trade
from exchange.paper.registry import Registry, RegistryError, StrategySpec
from exchange.paper.rules import EmergencyRules, PaperRules, RetirementRules, RiskRules
from exchange.paper.state import PaperPaths, PaperStateError
from exchange.paper.status import book_status, nothing_to_trade, venue_account
from exchange.paper.trader import BarReport, PaperSettings, PaperTrader, StopReport

__all__ = ["BarReport", "EmergencyRules", "PaperPaths", "PaperRules", "PaperSettings", "PaperStateError",
           "PaperTrader", "Registry", "RegistryError", "RetirementRules", "RiskRules", "StopReport",
           "StrategySpec", "book_status", "coins_to_trade", "nothing_to_trade", "venue_account"]
