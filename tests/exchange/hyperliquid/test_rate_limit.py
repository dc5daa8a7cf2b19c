"""The weight budget keeps every 60-second window within its limit."""
from __future__ import annotations

from exchange.hyperliquid.rate_limit import WeightBudget


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_budget_waits_for_the_oldest_spend_to_leave_the_window() -> None:
    clock = FakeTime()
    budget = WeightBudget(100, clock=lambda: clock.now, sleep=clock.sleep)
    assert [budget.spend(40) for _ in range(2)] == [0.0, 0.0]
    clock.now = 10.0
    assert budget.spend(40) == 50.0 and clock.now == 60.0
    assert budget.spend(0) == 0.0


def test_budget_never_exceeds_the_limit_in_any_window() -> None:
    clock = FakeTime()
    budget = WeightBudget(1200, clock=lambda: clock.now, sleep=clock.sleep)
    spends = []
    for weight in [20, 104, 45, 20, 2] * 60:
        budget.spend(weight)
        spends.append((clock.now, weight))
        clock.now += 0.05
    for start, _ in spends:
        assert sum(w for t, w in spends if start <= t < start + 60) <= 1200
    assert clock.now > 60
