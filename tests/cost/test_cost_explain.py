"""The costliest traces of an alert: looked up at most `explain_max_queries` times a run, and an alert
left without them for want of a look-up gets them from a later run."""

from __future__ import annotations

from monitors.contracts.monitor import MemoryState
from tests.cost.helpers import CountingSource, monitor, obs, run

PER_USER = {"name": "per-user", "scope": "user", "per_value": True, "daily_cap": 5}


def _traces(findings: list, user: str) -> list[str]:
    [page] = [f for f in findings if f.kind == "budget" and f.rank == 100 and f.evidence["value"] == user]
    return [t["trace_id"] for t in page.evidence["top_traces"]]


def test_an_alert_past_the_runs_look_ups_gets_its_traces_on_the_next_run():
    # Two users over their $5 on the 20th; one look-up per run: the first run explains only one of them.
    rows = [
        obs("2026-11-20 09:00", 6.0, user="ana", trace="t-ana"),
        obs("2026-11-20 09:10", 7.0, user="bo", trace="t-bo"),
    ]
    source = CountingSource(rows)
    mon, state = monitor(budgets=[PER_USER], explain_max_queries=1, metrics_requests_per_day=0), MemoryState()
    first = run(mon, source, state, "2026-11-20 09:00", "2026-11-20 10:00")
    assert (_traces(first, "ana"), _traces(first, "bo")) == (["t-ana"], [])
    # The next run has its look-up for the alert left without one; the one already explained is cached.
    second = run(mon, source, state, "2026-11-20 10:00", "2026-11-20 10:15")
    assert (_traces(second, "ana"), _traces(second, "bo")) == (["t-ana"], ["t-bo"])
