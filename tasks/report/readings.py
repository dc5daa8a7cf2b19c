"""Plain-language readings of a report: one line each on the settings, the data refresh before the run, the
train window's deflated Sharpe ratio and probability of backtest overfitting, and the validation window's
multiple-testing procedure. They take sections of report.json and return text (None where there is nothing
to say); report.html and the Prefect artifact show them. Percentages are printed from fractions (0.25 → 25%).
"""
from __future__ import annotations

import pandas as pd

__all__ = ["configuration_reading", "data_refresh_reading", "dsr_reading", "pbo_reading", "significance_reading"]

_BAR_WORDS = {"1m": "one-minute", "1h": "hourly", "1d": "daily"}


def configuration_reading(configuration: dict | None) -> str | None:
    """One line on where the run's settings came from and what differs from the defaults.

    >>> configuration_reading({"file": {"path": "/etc/night.toml", "sha256": "ab" * 32},
    ...                        "changed": {"costs.taker_fee": 0.0007}})
    'Settings from /etc/night.toml; changed from the defaults: costs.taker_fee = 0.0007.'
    """
    if configuration is None:
        return None
    source = f"Settings from {configuration['file']['path']}" if configuration["file"] else "Settings"
    changed = configuration["changed"]
    if not changed:
        return f"{source}: the defaults."
    listed = ", ".join(f"{key} = {value}" for key, value in changed.items())
    return f"{source}; changed from the defaults: {listed}."


def data_refresh_reading(refresh: dict | None) -> str | None:
    """One plain-language line on the data refresh before the run (a report's ``data_refresh``); None
    when the run did not refresh.

    >>> data_refresh_reading({"endpoint": "mainnet", "interval": "1h", "ok": True, "new_bars": 24, "error": None,
    ...     "coins": [{"coin": "BTC", "candles_added": 24, "last_bar": "2024-05-01T23:00:00+00:00"}]})
    'Fresh data: 24 new hourly bars for BTC from mainnet before this run.'
    """
    if refresh is None:
        return None
    added = [(c["coin"], c["candles_added"]) for c in refresh["coins"] if c["candles_added"]]
    bars = f"{_BAR_WORDS.get(refresh['interval'], refresh['interval'] or '')} bars".lstrip()
    endpoint = refresh["endpoint"] or "the exchange"
    if refresh["ok"] and added:
        return f"Fresh data: {_added_phrase(added, bars)} from {endpoint} before this run."
    store = f"the run used the store as it was ({_last_bars(refresh['coins'])})"
    if refresh["ok"]:
        return f"Data refresh from {endpoint} found no new {bars}: {store}."
    # The record's error names the endpoint already ("data refresh from X failed: problem"); keep the problem.
    error = str(refresh["error"] or "no reason recorded")
    problem = error.partition(" failed: ")[2] or error
    if added:
        return (f"Data refresh from {endpoint} failed ({problem}) after {_added_phrase(added, bars)}; "
                f"the run used the store as it then was ({_last_bars(refresh['coins'])}).")
    return f"Data refresh from {endpoint} failed ({problem}); {store}."


def _added_phrase(added: list[tuple[str, int]], bars: str) -> str:
    """[("BTC", 24), ("ETH", 1)] -> "24 new hourly bars for BTC and 1 for ETH"."""
    (coin, n), rest = added[0], [f"{m} for {c}" for c, m in added[1:]]
    first = f"{n} new {bars if n != 1 else bars.removesuffix('s')} for {coin}"
    return " and ".join([", ".join([first, *rest[:-1]]), *rest[-1:]])


def _last_bars(coins: list[dict]) -> str:
    """"last bar 2024-05-01 23:00 UTC", or one per coin when they differ."""
    last = {c["coin"]: c["last_bar"] for c in coins}
    if not any(last.values()):
        return "no bar in the store"
    if len(set(last.values())) == 1:
        return f"last bar {_utc_minute(next(iter(last.values())))}"
    return "last bars " + ", ".join(f"{coin} {_utc_minute(ts) if ts else 'none'}" for coin, ts in last.items())


def _utc_minute(iso: str) -> str:
    """"2024-05-01T23:00:00+00:00" -> "2024-05-01 23:00 UTC" (a text that is not a time is shown as it is)."""
    try:
        ts = pd.Timestamp(iso)
    except ValueError:
        return str(iso)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.strftime("%Y-%m-%d %H:%M UTC")


def dsr_reading(train: dict) -> str:
    """One plain-language line on the train window's deflated Sharpe ratio."""
    best = train["best_dsr"]
    if best is None:
        return "No deflated Sharpe ratio: no candidate has train returns."
    trials = f"{train['trials']:,}" if train["trials"] is not None else "all the"
    effective = (f", {train['effective_trials']:,.0f} of them effectively independent"
                 if train["effective_trials"] is not None else "")
    return (f"Evolution tried {trials} strategies on the train window{effective}. After allowing for all of them, "
            f"the best candidate's walk-forward train Sharpe has a {best:.0%} probability of reflecting real skill "
            f"rather than the luck of the search. This describes the search; the validation test below decides.")


def pbo_reading(pbo: float | None, splits: int | None) -> str:
    """One plain-language line on the probability of backtest overfitting."""
    if pbo is None:
        return "No PBO: it needs at least two candidates with enough train bars."
    if pbo < 0.2:
        verdict = "ranking the candidates by train performance looks reliable"
    elif pbo < 0.5:
        verdict = "some of the train ranking is selection luck"
    else:
        verdict = "the train ranking is no better than chance here: only the validation test tells them apart"
    over = f"{splits} " if splits else ""
    return (f"In {pbo:.0%} of the recombinations of the train window's {over}blocks, the candidate that looked "
            f"best in one half ranked below the median in the other: {verdict}.")


def significance_reading(test: dict, ideas: int | None) -> str:
    """One plain-language line on the validation window's multiple-testing procedure."""
    if not test["candidates"]:
        return "No significance test: no candidate produced validation returns."
    if test["skipped"]:
        return f"No significance test ({test['skipped']}): no candidate can pass gate 1 on so little data."
    window = "the validation and replay windows" if test["window"] == "validation+replay" else "the validation window"
    distinct = f" ({ideas} distinct ideas)" if ideas is not None else ""
    pvalue = f"{test['spa_pvalue']:.1%}" if test["spa_pvalue"] or not test["reps"] else f"under 1 in {test['reps']:,}"
    return (f"The {test['candidates']} candidates{distinct} were tested on {test['days']} days of {window}, which "
            f"selected none of them. Keeping the chance of even one false discovery among them at "
            f"{test['fwer']:.0%}, the best had to beat an annualised Sharpe of {test['critical_sharpe']:.2f}; "
            f"{test['significant']} stood out from cash (StepM). The chance of results like these if none of them "
            f"truly beats cash is {pvalue} (Hansen's SPA p-value).")
