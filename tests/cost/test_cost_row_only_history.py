"""Which budgets have a spike baseline from the first run: Metrics v2 backfills the history of all
spend and of agents, models and environments; users, tags and metadata values cannot be grouped there,
so their history starts with the first day the monitor read in full, and their spike check after
`spike.min_history_days` (7) such days (README, cost section)."""

from __future__ import annotations

from datetime import date, timedelta

from monitors.contracts.monitor import MemoryState
from tests.cost.helpers import CountingSource, monitor, run, spread

FIRST = date(2026, 11, 20)  # the first run's day; the user has spent $2 on each of the 28 days before
BUDGETS = [
    {"name": "per-agent", "scope": "agent", "per_value": True, "daily_cap": 500},
    {"name": "per-user", "scope": "user", "per_value": True, "daily_cap": 500},
]


def _spikes_on(spike_day: date) -> set[str]:
    """The budgets with a spike on `spike_day` ($20 against a usual $2), the monitor running daily from FIRST."""
    history = [FIRST - timedelta(days=i) for i in range(1, 29)]
    days = [*history, *(FIRST + timedelta(days=i) for i in range((spike_day - FIRST).days))]
    rows = [o for d in days for o in spread(d.isoformat(), 2.0)] + spread(spike_day.isoformat(), 20.0)
    source, state = CountingSource(rows), MemoryState()
    mon = monitor(budgets=BUDGETS, projection={"enabled": False})
    day, findings = FIRST, []
    while day <= spike_day:
        findings = run(mon, source, state, f"{day} 00:00", f"{day + timedelta(days=1)} 00:00")
        day += timedelta(days=1)
    return {f.evidence["budget"] for f in findings if f.kind == "spike" and f.evidence["day"] == spike_day.isoformat()}


def test_on_the_first_run_only_aggregated_scopes_have_a_baseline() -> None:
    assert _spikes_on(FIRST) == {"per-agent"}


def test_a_user_budget_gets_its_spike_check_after_seven_days_read_in_full() -> None:
    assert _spikes_on(FIRST + timedelta(days=6)) == {"per-agent"}  # six days read in full
    assert _spikes_on(FIRST + timedelta(days=7)) == {"per-agent", "per-user"}
