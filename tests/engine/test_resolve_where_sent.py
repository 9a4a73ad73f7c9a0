"""A resolve closes what its alert opened: it goes to the channels that got the alert, even when a
silence came in between or the routes changed since; a silenced alert, never sent, needs no resolve.

Real pipeline, real store (SQLite and PostgreSQL), a PagerDuty-like Events API v2 receiver that keeps
incidents by dedup_key, and a generic webhook receiver.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, RunSummary, run_once
from monitors.sources.replay import ReplaySource
from monitors.store import schema as t
from monitors.store.store import Store
from tests.fakes.pagerduty_server import PagerDutyServer, schema_errors
from tests.fakes.webhook_server import WebhookServer
from tests.notifiers.channels import http_config
from tests.reliability.harness import NOW, notifiers_for

STEP = timedelta(hours=1)
RUNAWAY = [{"key": "runaway", "severity": "critical"}]
INCIDENT = "scripted:runaway"


@pytest.fixture(autouse=True)
def _scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "scripted", "tests.engine.lifecycle_monitor:LifecycleMonitor")


@pytest.fixture
def pd() -> Iterator[PagerDutyServer]:
    with PagerDutyServer() as server:
        yield server


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def run(
    store: Store,
    i: int,
    channels: dict[str, Any],
    routes: list[dict[str, Any]],
    findings: list[dict[str, Any]] = (),
    resolved: list[str] = (),
) -> RunSummary:
    """Run i (one hour apart) of the scripted monitor with these channels and routes."""
    raw = {
        "channels": channels,
        "routes": routes,
        "monitors": {"scripted": {"findings": list(findings), "resolved": list(resolved)}},
    }
    settings = settings_from_dict(raw, env={})
    deps = RunDeps(ReplaySource.from_observations([]), store, notifiers_for(settings))
    return run_once("scripted", settings, deps, now=NOW + STEP * i)


def both(pd: PagerDutyServer, hook: WebhookServer) -> dict[str, Any]:
    return {"oncall": http_config("pagerduty", pd.url()), "hooks": http_config("webhook", hook.url("/hooks"))}


def hook_statuses(hook: WebhookServer) -> list[str]:
    return [r.json["status"] for r in hook.requests]


# --- a silence between the alert and its resolution ---------------------------------------------------


def test_a_silence_added_after_the_trigger_still_lets_the_resolve_close_the_incident(
    pd: PagerDutyServer, hook: WebhookServer, store: Store
) -> None:
    channels, routes = both(pd, hook), [{"channels": ["oncall", "hooks"], "send_resolved": True}]
    run(store, 0, channels, routes, RUNAWAY)
    assert pd.incidents == {INCIDENT: "triggered"}
    # The operator mutes it (what `run-monitor silence scripted --key runaway --for 1d` stores).
    store.add_silence("scripted", "runaway", NOW + timedelta(days=1), now=NOW + STEP / 2)
    muted = run(store, 1, channels, routes, RUNAWAY)
    assert (muted.queued, muted.delivered) == (0, 0)  # the silence mutes it while it holds
    over = run(store, 2, channels, routes, resolved=["runaway"])
    assert (over.queued, over.delivered, over.counters["resolved"]) == (2, 2, 1)
    assert pd.incidents == {INCIDENT: "resolved"}
    assert [r.json["event_action"] for r in pd.requests] == ["trigger", "resolve"]
    assert [schema_errors(r.json) for r in pd.requests] == [[], []]
    assert hook_statuses(hook) == ["firing", "resolved"]
    again = run(store, 3, channels, routes, resolved=["runaway"])
    assert again.queued == 0 and len(pd.requests) == 2  # closed once: no second resolve


def test_an_alert_silenced_from_the_start_opened_nothing_so_no_resolve_is_sent(
    pd: PagerDutyServer, hook: WebhookServer, store: Store
) -> None:
    channels, routes = both(pd, hook), [{"channels": ["oncall", "hooks"], "send_resolved": True}]
    store.add_silence("scripted", "runaway", NOW + timedelta(days=1), now=NOW - STEP)
    muted = run(store, 0, channels, routes, RUNAWAY)
    assert (muted.queued, muted.suppressed) == (0, 1)
    over = run(store, 1, channels, routes, resolved=["runaway"])
    assert over.queued == 0 and "resolved" not in over.counters  # nothing was opened: nothing to close
    assert pd.requests == [] and hook.requests == []
    assert store.outbox_counts() == {}


# --- the routes changed between the alert and its resolution ----------------------------------------


def test_the_resolve_goes_to_the_channel_that_got_the_alert_after_the_route_moved(
    pd: PagerDutyServer, hook: WebhookServer, store: Store
) -> None:
    channels = both(pd, hook)
    run(store, 0, channels, [{"channels": ["oncall"], "send_resolved": True}], RUNAWAY)
    assert pd.incidents == {INCIDENT: "triggered"}
    # The route now pages the webhook instead; the oncall channel is still configured.
    moved = [{"channels": ["hooks"], "send_resolved": True}]
    over = run(store, 1, channels, moved, resolved=["runaway"])
    assert (over.queued, over.delivered) == (1, 1)
    assert pd.incidents == {INCIDENT: "resolved"}
    assert hook.requests == []  # it never got the alert: a "resolved" there would pair with nothing


def test_a_channel_taken_off_the_route_still_gets_the_resolve(
    pd: PagerDutyServer, hook: WebhookServer, store: Store
) -> None:
    channels = both(pd, hook)
    run(store, 0, channels, [{"channels": ["oncall", "hooks"], "send_resolved": True}], RUNAWAY)
    over = run(store, 1, channels, [{"channels": ["hooks"], "send_resolved": True}], resolved=["runaway"])
    assert (over.queued, over.delivered) == (2, 2)
    assert pd.incidents == {INCIDENT: "resolved"}
    assert hook_statuses(hook) == ["firing", "resolved"]


def test_a_channel_deleted_from_the_config_is_named_once_and_counted_and_the_others_resolve(
    pd: PagerDutyServer, hook: WebhookServer, sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    routes = [{"channels": ["oncall", "hooks"], "send_resolved": True}]
    run(sqlite_store, 0, both(pd, hook), routes, RUNAWAY)
    run(sqlite_store, 1, both(pd, hook), routes, [*RUNAWAY, {"key": "spike", "severity": "critical"}])
    left = {"hooks": http_config("webhook", hook.url("/hooks"))}  # oncall deleted from the config
    route = [{"channels": ["hooks"], "send_resolved": True}]
    with caplog.at_level(logging.WARNING, logger="monitors.engine.pipeline"):
        over = run(sqlite_store, 2, left, route, resolved=["runaway", "spike"])
    assert over.status == "ok" and (over.queued, over.delivered) == (2, 2)
    assert hook_statuses(hook) == ["firing", "firing", "resolved", "resolved"]
    assert over.counters["resolve_channel_gone"] == 2  # two resolves that had nowhere to go
    [line] = [r.getMessage() for r in caplog.records if "no longer configured" in r.getMessage()]
    assert "oncall" in line and "2 resolved notice(s)" in line and "by hand" in line
    assert pd.incidents == {INCIDENT: "triggered", "scripted:spike": "triggered"}  # nothing could reach it
    assert sqlite_store.outbox_counts() == {"sent": 6}  # no row queued for the deleted channel


def test_a_resolve_goes_only_where_a_route_asked_for_resolved_notices(
    pd: PagerDutyServer, hook: WebhookServer, store: Store
) -> None:
    # The alert's own route asked for the resolve on oncall; the one to hooks did not.
    routes = [{"channels": ["oncall"], "send_resolved": True}, {"channels": ["hooks"]}]
    run(store, 0, both(pd, hook), routes, RUNAWAY)
    # Later both channels sit on one route without send_resolved: oncall keeps what its alert asked.
    over = run(store, 1, both(pd, hook), [{"channels": ["oncall", "hooks"]}], resolved=["runaway"])
    assert (over.queued, over.delivered) == (1, 1)
    assert pd.incidents == {INCIDENT: "resolved"}
    assert hook_statuses(hook) == ["firing"]


# --- a resolve while its alert still waits for its group's interval ----------------------------------

GROUPED = [{"channels": ["oncall", "hooks"], "send_resolved": True, "group_by": ["agent"], "group_interval": "4h"}]


def test_a_resolve_while_its_alert_waits_in_its_group_opens_nothing_and_closes_nothing_twice(
    pd: PagerDutyServer, hook: WebhookServer, store: Store
) -> None:
    channels, other = both(pd, hook), {"key": "other"}
    run(store, 0, channels, GROUPED, [other])  # the group was just sent: its next parts wait 4h
    run(store, 1, channels, GROUPED, [other, {"key": "runaway"}])  # no louder than what went: held
    run(store, 2, channels, GROUPED, [other], resolved=["runaway"])  # over before it went out
    for i in range(3, 6):  # the group's interval passes: what waited goes
        run(store, i, channels, GROUPED, [other])
    # The alert and its end went together: the chat is told it is over, and no incident stays open for it
    # (the pair in one message used to read as a firing group, a PagerDuty incident nothing would close).
    # The group is one PagerDuty incident, which `other` holds open: the end of a part that never reached
    # it sends nothing there.
    assert [r.json["title"] for r in hook.requests] == ["other", "Resolved: runaway"]
    assert hook_statuses(hook) == ["firing", "resolved"]
    assert pd.incidents == {"group:agent=llm-fix": "triggered"} and len(pd.requests) == 1
    assert store.outbox_counts() == {"sent": 6}


def test_a_resolve_follows_its_alerts_group_when_its_labels_changed_and_never_overtakes_it(
    pd: PagerDutyServer, hook: WebhookServer, store: Store
) -> None:
    # Another agent drove the spend when the alert fired than when the finding ended (the resolve's labels
    # say agent=llm-fix): the notice must join the alert where it waits, not go ahead of it alone.
    channels = both(pd, hook)
    other = {"key": "other", "labels": {"agent": "x"}}
    run(store, 0, channels, GROUPED, [other])
    run(store, 1, channels, GROUPED, [other, {"key": "runaway", "labels": {"agent": "x"}}])
    run(store, 2, channels, GROUPED, [other], resolved=["runaway"])
    for i in range(3, 6):
        run(store, i, channels, GROUPED, [other])
    assert hook_statuses(hook) == ["firing", "resolved"]
    assert pd.incidents == {"group:agent=x": "triggered"} and len(pd.requests) == 1


# --- a finding resolved again by later runs ----------------------------------------------------------


def resolution_decisions(store: Store, fingerprint: str) -> list[str]:
    with store.engine.connect() as conn:
        query = sa.select(t.finding_events.c.decision).where(t.finding_events.c.fingerprint == fingerprint)
        return [d for d in conn.execute(query.order_by(t.finding_events.c.id)).scalars() if d.startswith("resolved")]


def test_a_finding_resolved_again_by_later_runs_logs_its_resolution_once_until_it_holds_again(
    pd: PagerDutyServer, hook: WebhookServer, store: Store
) -> None:
    # Drift resolves every earlier commit of a merge request each time it judges the request again.
    channels, routes = both(pd, hook), [{"channels": ["oncall", "hooks"], "send_resolved": True}]
    run(store, 0, channels, routes, RUNAWAY)
    for i in (1, 2, 3):
        run(store, i, channels, routes, resolved=["runaway"])
    # Once, and true: later runs used to add "resolved (never notified: no notice)" each time.
    assert resolution_decisions(store, INCIDENT) == ["resolved; notice queued where its alert went"]
    run(store, 4, channels, routes, RUNAWAY)  # it holds again: a new alert, whose end is logged again
    run(store, 5, channels, routes, resolved=["runaway"])
    run(store, 6, channels, routes, resolved=["runaway"])
    assert resolution_decisions(store, INCIDENT) == ["resolved; notice queued where its alert went"] * 2
    assert [r.json["event_action"] for r in pd.requests] == ["trigger", "resolve", "trigger", "resolve"]


def test_a_finding_never_notified_logs_its_resolution_once(
    pd: PagerDutyServer, hook: WebhookServer, store: Store
) -> None:
    channels, routes = both(pd, hook), [{"channels": ["oncall", "hooks"], "min_severity": "critical"}]
    run(store, 0, channels, routes, [{"key": "runaway", "severity": "warning"}])  # below every route
    for i in (1, 2):
        run(store, i, channels, routes, resolved=["runaway"])
    assert resolution_decisions(store, INCIDENT) == ["resolved (never notified: no notice)"]
    assert pd.requests == [] and hook.requests == []
