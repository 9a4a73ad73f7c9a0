"""The time a drift finding is about: its traces' span (monitors.drift.findings.traces_span), kept across
runs for traces parked in the run state, and the run's window when the traces' times are made up."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from monitors.contracts.findings import RunWindow
from monitors.drift.candidates import fold_traces, from_pending, to_pending
from monitors.drift.findings import traces_span
from tests.test_goal_drift import WINDOW, all_traces, commit, gitlab, make_ctx, obs_for_trace, run

__all__ = ["gitlab"]  # the fake GitLab fixture

KEYS = {"feature": "feature", "objective": "objective", "mr": "mr_iid", "repo": "repo", "scope": "scope"}
META = {"objective": "Fix the login page", "mr_iid": "acme/web#42"}


def test_the_span_runs_from_the_first_start_to_the_last_end_of_every_trace() -> None:
    rows = obs_for_trace("a", "bot", META) + obs_for_trace("b", "bot", META)
    rows[-1] = replace(rows[-1], end_time=rows[-1].start_time + timedelta(minutes=5))  # b's last call ran 5 min
    traces = fold_traces(rows, KEYS)
    first = min(r.start_time for r in rows)
    assert traces_span(traces.values(), WINDOW) == RunWindow(
        first, rows[-1].start_time + timedelta(minutes=5, milliseconds=1)
    )


def test_an_end_before_the_start_does_not_make_a_window_that_ends_before_it_starts() -> None:
    rows = [replace(o, end_time=o.start_time - timedelta(hours=1)) for o in obs_for_trace("a", "bot", META)]
    span = traces_span(fold_traces(rows, KEYS).values(), WINDOW)
    assert span == RunWindow(rows[0].start_time, rows[-1].start_time + timedelta(milliseconds=1))


def test_made_up_times_give_the_runs_window() -> None:
    rows = obs_for_trace("a", "bot", META)
    rows[1] = replace(rows[1], metadata={**rows[1].metadata, "time_synthetic": True})
    assert traces_span(fold_traces(rows, KEYS).values(), WINDOW) == WINDOW


def test_a_parked_trace_keeps_its_span_and_an_entry_parked_before_ends_where_it_starts() -> None:
    rows = obs_for_trace("a", "bot", META)
    [ref] = fold_traces(rows, KEYS).values()
    [back] = from_pending([to_pending(ref)])
    assert (back.start, back.end, back.timed) == (ref.start, rows[-1].start_time, True)
    older = {k: v for k, v in to_pending(ref).items() if k not in ("end", "timed")}
    [old] = from_pending([older])
    assert traces_span([old], WINDOW) == RunWindow(ref.start, ref.start + timedelta(milliseconds=1))


def test_a_resolved_drift_finding_is_about_the_traces_that_judged_the_new_head(gitlab) -> None:
    # The resolved notice and its event are filed by the traces' span, as the alert was, not by the
    # run's window (the weekly report would put a Monday run's resolution of Sunday's traces in Monday's week).
    first = make_ctx(all_traces(), gitlab)
    [alert] = [f for f in run(first, method="csls", checks=False) if f.dedupe_key == "group/app!20@bill9"]
    assert alert.window is not None and alert.window != WINDOW
    fixed = commit("login10", "2026-03-10T09:00:00Z", "Fix the login page layout")
    gitlab.add_mr("group/app", 20, [fixed, commit("bill9", "2026-03-10T06:00:00Z", "Rewrite the billing export")])
    second = make_ctx(all_traces(), gitlab)
    run(second, method="csls", checks=False)
    [resolved] = [f for f in second.resolved if f.dedupe_key == "group/app!20@bill9"]
    assert resolved.window == alert.window
