"""The events monitor on a replay: what alerts, what stays quiet, and what each alert says."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitors.contracts.findings import Finding, RunWindow, Severity
from monitors.contracts.monitor import MemoryState, RunContext
from monitors.events.config import EventsConfig
from monitors.events.monitor import EventsMonitor
from monitors.sources.replay import ReplaySource
from tests.events.data import (
    EVALUATORS,
    HOST,
    LAST_DAY,
    PROJECT,
    at,
    burst,
    daily_scores,
    last_day_window,
    score,
    trace,
    week,
)


def run(rows, *, scores=(), config: dict | None = None, window: RunWindow | None = None, state=None) -> list[Finding]:
    source = ReplaySource.from_observations(
        rows, host=HOST, project_id=PROJECT, scores=list(scores), strict_fields=True
    )
    window = window or last_day_window()
    ctx = RunContext(window=window, now=window.end, source=source, state=state if state is not None else MemoryState())
    return list(EventsMonitor(EventsConfig.model_validate(config or {})).run(ctx))


def test_normal_noise_of_one_error_per_hundred_traces_does_not_alert() -> None:
    rows = week()
    assert sum(o.level == "ERROR" for o in rows if o.start_time.date() == LAST_DAY) == 2  # one per agent
    assert run(rows) == []


def test_a_burst_of_one_signature_alerts_once_with_counts_times_usual_rate_and_three_traces() -> None:
    findings = run(week() + burst("fixer", LAST_DAY, 12))
    assert [(f.kind, f.severity) for f in findings] == [("error_burst", Severity.WARNING)]
    alert = findings[0]
    fields = dict(alert.fields)
    assert fields["Agent"] == "fixer"
    assert fields["Signature"] == "ERROR: schema validation failed for <id>: field '<value>' missing"
    assert fields["Count"] == (
        "12 (first 2026-11-22 15:00:20 UTC, last 2026-11-22 15:22:20 UTC); new: not seen on a usual day"
    )
    # usual: 1 error in 300 observations a day = 0.3%; that day 13 errors (12 + the noise) in 336 observations
    assert fields["Usual rate"] == (
        "0.3% of observations are errors on a usual day (median of 14 days); "
        "that day 13 errors in 336 observations (3.9%)"
    )
    assert [link.url for link in alert.links] == [
        f"{HOST}/project/{PROJECT}/traces/fixer-1122-{n:03d}" for n in (100, 101, 102)
    ]
    assert alert.dedupe_key.startswith("signature:fixer:") and alert.dedupe_key.endswith(":2026-11-22")


def test_fewer_than_min_count_of_a_signature_do_not_alert() -> None:
    assert run(week() + burst("fixer", LAST_DAY, 4)) == []


def test_an_agent_below_the_minimum_volume_is_not_judged() -> None:
    small = [o for n in range(5) for o in trace("tiny", LAST_DAY, n, error="disk full on /var/lib/x/y")]
    assert run(week() + small) == []  # 5 of one signature, but 15 observations < 50
    assert [f.kind for f in run(week() + small, config={"errors": {"min_observations": 10}})] == ["error_burst"]


def varied_errors() -> list:
    """24 errors of triage-bot on the last day, four kinds, each message different (no one signature)."""
    messages = ("disk full", "permission denied", "connection reset", "bad gateway from proxy")
    return [
        o
        for i in range(24)
        for o in trace(
            "triage-bot", LAST_DAY, 100 + i, error=f"{messages[i % 4]} (case {i})", start=at(LAST_DAY, 16, i)
        )
    ]


def test_an_error_share_far_above_usual_alerts_when_no_single_signature_explains_it() -> None:
    varied = varied_errors()
    # min_count 7: six of each kind is not a burst, 24 errors together are a bad day.
    findings = run(week() + varied, config={"errors": {"min_count": 7}})
    assert [f.kind for f in findings] == ["error_share"]
    share = findings[0]
    assert share.evidence["agent"] == "triage-bot"
    assert share.evidence["usual_share"] == pytest.approx(1 / 300, rel=1e-3)
    assert (share.evidence["errors"], share.evidence["observations"]) == (24 + 1, 300 + 24 * 3)
    assert dict(share.fields)["Top signatures"].startswith("6× ERROR: ")
    assert share.evidence["share"] > share.evidence["threshold"] >= 0.05


def test_an_alert_sent_before_the_day_is_over_says_its_counts_are_so_far() -> None:
    varied = varied_errors()
    config = {"errors": {"min_count": 7}}
    [midday] = run(week() + varied, config=config, window=RunWindow(at(LAST_DAY, 0), at(LAST_DAY, 17)))
    assert midday.title.startswith("triage-bot: ") and " so far (as of 17:00 UTC; usually 0.3%)" in midday.title
    errors = dict(midday.fields)["Errors"]
    # The agent's one usual error of the day comes after 17:00: 24 so far, 25 for the whole day.
    assert errors.startswith(f"24 of {midday.evidence['observations']:,} observations as of 17:00 UTC (first ")
    assert ", as of 17:00 UTC, 24 errors in " in dict(midday.fields)["Usual rate"]
    [whole] = run(week() + varied, config=config)  # the whole day read: the day's counts, no "so far"
    assert whole.evidence["errors"] == 25
    assert "so far" not in whole.title and "as of" not in " ".join(v for _, v in whole.fields)


def test_a_burst_is_one_alert_not_a_burst_and_a_share_alert() -> None:
    findings = run(week() + burst("fixer", LAST_DAY, 40))
    assert [f.kind for f in findings] == ["error_burst"]


def test_without_history_the_share_rule_waits_and_the_burst_rule_still_works() -> None:
    today_only = [o for o in week() if o.start_time.date() == LAST_DAY] + burst("fixer", LAST_DAY, 12)
    findings = run(today_only)
    assert [f.kind for f in findings] == ["error_burst"]
    assert "not known yet" in dict(findings[0].fields)["Usual rate"]


def test_hourly_runs_add_up_to_the_same_day_and_the_first_run_reads_the_baseline_once() -> None:
    rows = week() + burst("fixer", LAST_DAY, 12)
    source = ReplaySource.from_observations(rows, host=HOST, project_id=PROJECT)
    state = MemoryState()
    monitor = EventsMonitor(EventsConfig())
    seen: list[list[str]] = []
    start = at(LAST_DAY, 0)
    for hour in range(24):
        window = RunWindow(start + timedelta(hours=hour), start + timedelta(hours=hour + 1))
        ctx = RunContext(window=window, now=window.end, source=source, state=state)
        seen.append([f.kind for f in monitor.run(ctx)])
        assert ctx.counters.get("baseline_days_read", 0) == (14 if hour == 0 else 0)
    # The burst (15:00..15:22) reaches 5 errors in the 15:00 run; later runs see the same finding
    # (the pipeline's dedupe sends it once, see test_pipeline_events.py).
    assert not any(seen[:15]) and all(kinds == ["error_burst"] for kinds in seen[15:])


def test_warnings_count_only_when_asked() -> None:
    warn = [
        o
        for n in range(8)
        for o in trace("fixer", LAST_DAY, 100 + n, error="slow tool: 30 s", level="WARNING", start=at(LAST_DAY, 9, n))
    ]
    assert run(week() + warn) == []
    findings = run(week() + warn, config={"errors": {"levels": ["ERROR", "WARNING"]}})
    assert [f.kind for f in findings] == ["error_burst"]
    assert dict(findings[0].fields)["Signature"] == "WARNING: slow tool: <n> s"


def test_two_percent_failing_scores_do_not_alert() -> None:
    assert run(week(), scores=daily_scores(), config=EVALUATORS) == []


def test_a_failing_streak_alerts_once_for_its_evaluator_and_agent() -> None:
    findings = run(week(), scores=daily_scores(streak=40), config=EVALUATORS)
    assert [(f.kind, f.evidence["evaluator"], f.evidence["agent"]) for f in findings] == [
        ("failing_scores", "relevance", "fixer")
    ]
    fields = dict(findings[0].fields)
    assert fields["Failing"].startswith("41 of 100 scores (41.0%; first 2026-11-22 ")  # 40 + the usual one
    assert fields["Alerts on"] == "score below 0.5; more than 25.0% failing"
    assert fields["Example comment"] == "answer ignores the question"
    assert len(findings[0].links) == 3


def test_one_failure_of_a_critical_evaluator_alerts_critically() -> None:
    findings = run(week(), scores=daily_scores(critical_failure=True), config=EVALUATORS)
    assert [(f.kind, f.severity) for f in findings] == [("critical_score", Severity.CRITICAL)]
    assert dict(findings[0].fields)["Failing"].startswith("1 of 101 scores")


def test_evaluator_config_needs_exactly_one_failing_condition() -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        EventsConfig.model_validate({"evaluators": [{"name": "x"}]})
    with pytest.raises(ValueError, match="exactly one of"):
        EventsConfig.model_validate({"evaluators": [{"name": "x", "below": 0.2, "fail_on_false": True}]})
    with pytest.raises(ValueError, match="unique"):
        EventsConfig.model_validate({"evaluators": [{"name": "x", "below": 0.2}, {"name": "x", "below": 0.3}]})


def test_a_rerun_over_the_same_window_counts_nothing_twice() -> None:
    rows = week() + burst("fixer", LAST_DAY, 12)
    state = MemoryState()
    first = run(rows, scores=daily_scores(streak=40), config=EVALUATORS, state=state)
    again = run(rows, scores=daily_scores(streak=40), config=EVALUATORS, state=state)
    assert [f.evidence for f in again] == [f.evidence for f in first]
    assert [f.kind for f in first] == ["error_burst", "failing_scores"]
    assert first[0].evidence["count"] == 12 and first[1].evidence["failing"] == 41


def test_an_error_an_agent_always_logs_is_not_a_burst_until_it_triples() -> None:
    def habitual(day, count, first=0):
        return [
            o
            for n in range(count)
            for o in trace("fixer", day, 300 + first + n, error=f"cache miss for key {1000 + n}", start=at(day, 6, n))
        ]

    history = [o for d in range(14) for o in habitual(LAST_DAY - timedelta(days=14 - d), 8)]
    assert run(week() + history + habitual(LAST_DAY, 16)) == []  # 16 vs usually 8: under 3x (and under 5%)
    findings = run(week() + history + habitual(LAST_DAY, 24))
    assert [f.kind for f in findings] == ["error_burst"]
    assert dict(findings[0].fields)["Count"].endswith("; usually 8 a day")


def test_errors_counted_before_their_observations_say_so_instead_of_failing() -> None:
    from monitors.events.findings import usual_text

    text = usual_text(None, 3, 0, "as of 10:00 UTC")
    assert (
        text == "not known yet (too few days of history); that day, as of 10:00 UTC, 3 errors in 0 observations "
        "(observations not counted yet)"
    )
    assert usual_text(None, 3, 300).endswith("3 errors in 300 observations (1.0%)")


def morning_test_failures() -> list:
    """fixer's tests_pass fails on every trace until 09:25, and as usual at 13:23: 42 of the first 64 scores."""
    return [
        score("tests_pass", "fixer", LAST_DAY, int(s.trace_id[-3:]), False)
        if s.name == "tests_pass" and s.trace_name == "fixer" and int(s.trace_id[-3:]) <= 40
        else s
        for s in daily_scores()
    ]


def test_an_evaluator_added_mid_day_is_counted_from_the_start_of_the_day() -> None:
    state, rows, scores = MemoryState(), week(), morning_test_failures()
    relevance_only = {"evaluators": [{"name": "relevance", "below": 0.5}]}
    both = {"evaluators": [*relevance_only["evaluators"], {"name": "tests_pass", "fail_on_false": True}]}
    assert (
        run(
            rows, scores=scores, config=relevance_only, window=RunWindow(at(LAST_DAY, 0), at(LAST_DAY, 14)), state=state
        )
        == []
    )
    # tests_pass is configured at 14:00: its alert counts the day so far, as its title and fields say.
    [added] = run(rows, scores=scores, config=both, window=RunWindow(at(LAST_DAY, 14), at(LAST_DAY, 15)), state=state)
    assert added.title == "tests_pass: 65.6% of fixer's scores fail on 2026-11-22 so far (as of 15:00 UTC)"
    assert dict(added.fields)["Failing"].startswith("42 of 64 scores as of 15:00 UTC (65.6%; first 2026-11-22 00:05:00")
    # The next hour adds only that hour, for both evaluators.
    [later] = run(rows, scores=scores, config=both, window=RunWindow(at(LAST_DAY, 15), at(LAST_DAY, 16)), state=state)
    assert (later.evidence["failing"], later.evidence["scores"]) == (42, 69)


def test_score_tallies_stored_with_one_span_for_all_evaluators_are_not_counted_twice() -> None:
    """The format before each evaluator had its own span: a list [start, end) for every evaluator."""
    config = {"evaluators": [{"name": "tests_pass", "fail_on_false": True}]}
    rows, scores = week(), morning_test_failures()
    state = MemoryState()
    run(rows, scores=scores, config=config, window=RunWindow(at(LAST_DAY, 0), at(LAST_DAY, 14)), state=state)
    assert set(state.values["scores_read"]) == {"tests_pass"}
    state.values["scores_read"] = state.values["scores_read"]["tests_pass"]
    [finding] = run(
        rows, scores=scores, config=config, window=RunWindow(at(LAST_DAY, 14), at(LAST_DAY, 15)), state=state
    )
    assert (finding.evidence["failing"], finding.evidence["scores"]) == (42, 64)


def test_an_evaluator_taken_out_and_put_back_the_same_day_is_not_counted_twice() -> None:
    state, rows, scores = MemoryState(), week(), morning_test_failures()
    tests_pass = {"name": "tests_pass", "fail_on_false": True}
    relevance_only = {"evaluators": [{"name": "relevance", "below": 0.5}]}
    both = {"evaluators": [*relevance_only["evaluators"], tests_pass]}
    run(rows, scores=scores, config=both, window=RunWindow(at(LAST_DAY, 0), at(LAST_DAY, 14)), state=state)
    run(rows, scores=scores, config=relevance_only, window=RunWindow(at(LAST_DAY, 14), at(LAST_DAY, 15)), state=state)
    [back] = run(rows, scores=scores, config=both, window=RunWindow(at(LAST_DAY, 15), at(LAST_DAY, 16)), state=state)
    assert (back.evidence["failing"], back.evidence["scores"]) == (42, 69)  # 14:00-15:00 read once, late
