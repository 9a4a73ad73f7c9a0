"""Budget thresholds across runs: once per (budget, value, day, threshold), escalation, catch-up, tz."""

from __future__ import annotations

from monitors.contracts.findings import RunWindow, Severity
from monitors.contracts.monitor import MemoryState, RunContext
from tests.cost.helpers import CountingSource, at, keys, monitor, obs, run, spread

GLOBAL = {"name": "daily", "daily_cap": 100}


def history(days: range, per_day: float = 20.0, **kw) -> list:
    return [o for d in days for o in spread(f"2026-11-{d:02d}", per_day, **kw)]


def test_85_percent_day_warns_once_with_stable_fingerprint_across_runs():
    source = CountingSource(history(range(1, 20)) + spread("2026-11-20", 85.0))
    mon, state = monitor(budgets=[GLOBAL]), MemoryState()
    seen = []
    for start, end in [
        ("2026-11-20 00:00", "2026-11-20 12:00"),
        ("2026-11-20 12:00", "2026-11-20 23:45"),
        ("2026-11-20 23:45", "2026-11-21 01:00"),  # closes the day: final figure checked
        ("2026-11-21 01:00", "2026-11-21 01:15"),
    ]:
        seen.append(keys(f for f in run(mon, source, state, start, end) if f.kind == "budget"))
    assert seen == [set(), {("cost:daily:*:2026-11-20:cap=100", 80)}, {("cost:daily:*:2026-11-20:cap=100", 80)}, set()]


def test_over_budget_day_warns_and_pages_with_ranks_and_reasons():
    source = CountingSource(history(range(1, 20)) + spread("2026-11-20", 130.0, agent="refactor-bot"))
    findings = run(monitor(budgets=[GLOBAL]), source, MemoryState(), "2026-11-20 00:00", "2026-11-21 00:00")
    budget = sorted((f for f in findings if f.kind == "budget"), key=lambda f: f.rank)
    assert [(f.dedupe_key, f.rank, f.severity) for f in budget] == [
        ("daily:*:2026-11-20:cap=100", 80, Severity.WARNING),
        ("daily:*:2026-11-20:cap=100", 100, Severity.CRITICAL),
    ]
    page = budget[1]
    assert page.evidence["spend"] == 130.0 and page.evidence["percent"] == 130.0
    assert dict(page.fields)["Spend"] == "$130.00 of $100.00 (130%)"
    agents = [c for c in page.evidence["contributors"] if c["dim"] == "agent"]
    assert agents == [{"dim": "agent", "value": "refactor-bot", "spend": 130.0, "baseline": 0.0}]
    assert len(page.evidence["top_traces"]) == 3
    assert next(link.url for link in page.links).startswith("https://lf.example/project/proj1/traces/t")


def test_second_run_same_findings_and_no_rereads_of_closed_days():
    source = CountingSource(history(range(1, 20)) + spread("2026-11-20", 130.0))
    mon, state = monitor(budgets=[GLOBAL]), MemoryState()
    first = run(mon, source, state, "2026-11-20 00:00", "2026-11-21 01:00")
    source.reset()
    second = run(mon, source, state, "2026-11-20 00:00", "2026-11-21 01:00")
    assert keys(second) == keys(first)
    # The closed history and the closed 20th are cached: only the one incremental row read remains
    # (the cursor is at the window end, so even that asks for nothing new), and explanations are cached.
    assert source.stats.by_endpoint["metrics"] == 0
    assert source.stats.requests == 0


def test_a_new_day_fires_again():
    source = CountingSource(history(range(1, 20)) + spread("2026-11-20", 90.0) + spread("2026-11-21", 95.0))
    mon, state = monitor(budgets=[GLOBAL]), MemoryState()
    day1 = run(mon, source, state, "2026-11-20 00:00", "2026-11-20 23:59")
    day2 = run(mon, source, state, "2026-11-20 23:59", "2026-11-21 23:59")
    assert ("cost:daily:*:2026-11-20:cap=100", 80) in keys(day1)
    assert ("cost:daily:*:2026-11-21:cap=100", 80) in keys(day2)


def test_per_user_fan_out_alerts_only_the_user_over_budget():
    data = history(range(1, 20), user="u1")
    data += spread("2026-11-20", 6.0, user="alice") + spread("2026-11-20", 2.0, user="bob")
    data += spread("2026-11-20", 3.0, user=None)  # spend with no user is nobody's budget
    per_user = {"name": "per-user", "daily_cap": 5, "scope": "user", "per_value": True}
    findings = run(
        monitor(budgets=[per_user]), CountingSource(data), MemoryState(), "2026-11-20 00:00", "2026-11-21 00:00"
    )
    assert keys(f for f in findings if f.kind == "budget") == {
        ("cost:per-user:alice:2026-11-20:cap=5", 80),
        ("cost:per-user:alice:2026-11-20:cap=5", 100),
    }


def test_single_value_scopes_agent_tag_and_metadata():
    data = history(range(1, 20))
    data += spread("2026-11-20", 9.0, agent="triage", tags=["prod", "night"], metadata={"feature": "search"})
    budgets = [
        {"name": "triage", "daily_cap": 10, "scope": "agent", "value": "triage"},
        {"name": "night", "daily_cap": 10, "scope": "tag", "value": "night"},
        {"name": "search", "daily_cap": 10, "scope": "metadata:feature", "value": "search"},
        {"name": "other", "daily_cap": 10, "scope": "agent", "value": "nobody"},
    ]
    findings = run(
        monitor(budgets=budgets), CountingSource(data), MemoryState(), "2026-11-20 00:00", "2026-11-21 00:00"
    )
    assert {f.dedupe_key for f in findings if f.kind == "budget"} == {
        "triage:triage:2026-11-20:cap=10",
        "night:night:2026-11-20:cap=10",
        "search:search:2026-11-20:cap=10",
    }


def test_timezone_moves_the_day_boundary():
    # $50 at 03:00Z and $50 at 06:00Z: one UTC day at 100%, but two New York days (22:00 and 01:00).
    data = [obs("2026-11-20 03:00", 50.0), obs("2026-11-20 06:00", 50.0)]
    utc_findings = run(
        monitor(budgets=[GLOBAL]), CountingSource(data), MemoryState(), "2026-11-19 00:00", "2026-11-21 12:00"
    )
    ny = monitor(budgets=[GLOBAL], timezone="America/New_York")
    ny_findings = run(ny, CountingSource(data), MemoryState(), "2026-11-19 00:00", "2026-11-21 12:00")
    assert ("cost:daily:*:2026-11-20:cap=100", 100) in keys(utc_findings)
    assert not [f for f in ny_findings if f.kind == "budget"]
    late = [obs("2026-11-20 04:00", 30.0)]  # 23:00 on the 19th in New York: joins the first $50
    ny_findings = run(ny, CountingSource(data + late), MemoryState(), "2026-11-19 00:00", "2026-11-21 12:00")
    assert keys(f for f in ny_findings if f.kind == "budget") == {("cost:daily:*:2026-11-19:cap=100", 80)}


def test_missed_runs_catch_up_on_the_day_that_crossed_while_down():
    data = history(range(1, 20)) + spread("2026-11-20", 10.0) + spread("2026-11-21", 120.0) + spread("2026-11-22", 5.0)
    source = CountingSource(data)
    mon, state = monitor(budgets=[GLOBAL]), MemoryState()
    assert not [f for f in run(mon, source, state, "2026-11-20 00:00", "2026-11-20 12:00") if f.kind == "budget"]
    # Down from the 20th at noon until the 22nd at 10:00; the next run's window starts at the watermark.
    caught = run(mon, source, state, "2026-11-20 12:00", "2026-11-22 10:00")
    assert keys(f for f in caught if f.kind == "budget") == {
        ("cost:daily:*:2026-11-21:cap=100", 80),
        ("cost:daily:*:2026-11-21:cap=100", 100),
    }


def test_malformed_state_and_rows_are_survived():
    source = CountingSource([*history(range(1, 20)), *spread("2026-11-20", 90.0)])
    mon, state = monitor(budgets=[GLOBAL]), MemoryState()
    run(mon, source, state, "2026-11-20 00:00", "2026-11-20 06:00")
    days = state.values["cost.ledger"]["days"]
    days["2026-11-19"] = {"total": "lots"}  # a corrupted closed day
    days["2026-11-20"]["hours"] = [1.0]  # and a corrupted open one
    ctx = RunContext(
        window=RunWindow(at("2026-11-20 06:00"), at("2026-11-20 23:00")),
        now=at("2026-11-20 23:15"),
        source=source,
        state=state,
    )
    findings = list(mon.run(ctx))
    assert ctx.counters["cost.state_days_dropped"] == 2
    # The 19th is backfilled again; the 20th lost its early rows but today's refresh restores it.
    assert ("cost:daily:*:2026-11-20:cap=100", 80) in keys(findings)
    assert state.values["cost.ledger"]["days"]["2026-11-19"]["total"] == 20.0
