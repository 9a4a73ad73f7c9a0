"""Grouping, group intervals and resolved notices through the real pipeline, the real store and real
notifiers posting to local receivers (a generic webhook, so each message's envelope can be read). The
store-heavy cases run on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, RunSummary, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.fakes.pagerduty_server import PagerDutyServer, schema_errors
from tests.fakes.webhook_server import WebhookServer
from tests.notifiers.channels import http_config
from tests.reliability.harness import NOW, notifiers_for

STEP = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "scripted", "tests.engine.lifecycle_monitor:LifecycleMonitor")


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def run(
    hook: WebhookServer, store: Store, i: int, findings: list[dict], resolved: list[str] = (), **route: Any
) -> RunSummary:
    """Run i (one hour apart): channel `grouped` has the route options, channel `plain` has none."""
    raw = {
        "channels": {
            "grouped": http_config("webhook", hook.url("/grouped")),
            "plain": http_config("webhook", hook.url("/plain")),
        },
        "routes": [
            {"channels": ["grouped"], **route},
            {"channels": ["plain"]},
        ],
        "monitors": {"scripted": {"findings": findings, "resolved": list(resolved)}},
    }
    settings = settings_from_dict(raw, env={})
    deps = RunDeps(ReplaySource.from_observations([]), store, notifiers_for(settings))
    return run_once("scripted", settings, deps, now=NOW + STEP * i)


def envelopes(hook: WebhookServer, path: str) -> list[dict]:
    return [r.json for r in hook.requests if r.path == path]


GROUP = {"group_by": ["agent", "day"]}


def test_one_run_one_incident_one_message_at_the_loudest_severity(hook: WebhookServer, sqlite_store: Store) -> None:
    findings = [{"key": "per-user", "severity": "critical"}, {"key": "per-agent"}, {"key": "global"}]
    summary = run(hook, sqlite_store, 0, findings, **GROUP)
    assert (summary.queued, summary.delivered) == (6, 4)  # 3 rows per channel; 1 + 3 messages
    [grouped] = envelopes(hook, "/grouped")
    assert grouped["severity"] == "critical" and grouped["group"] == "agent=llm-fix day=2026-03-12"
    # Loudest first, then in the order they were queued; each part keeps its own summary.
    keys = ["per-user", "global", "per-agent"]
    assert grouped["parts"] == [f"scripted:{k}" for k in keys]
    headings = ["[CRITICAL] per-user", "[WARNING] global", "[WARNING] per-agent"]
    assert [s["heading"] for s in grouped["sections"]] == headings
    assert [s["lines"][0] for s in grouped["sections"]] == [f"summary of {k}" for k in keys]
    assert grouped["title"].startswith("3 alerts, one incident (agent=llm-fix day=2026-03-12): per-user")
    assert [e["title"] for e in envelopes(hook, "/plain")] == ["global", "per-agent", "per-user"]


def test_findings_without_the_labels_are_not_grouped(hook: WebhookServer, sqlite_store: Store) -> None:
    findings = [{"key": "a", "labels": {"agent": "x"}}, {"key": "b", "labels": {"agent": "x"}}]
    run(hook, sqlite_store, 0, findings, **GROUP)  # no "day" label: nothing to group on
    assert [e["title"] for e in envelopes(hook, "/grouped")] == ["a", "b"]


def test_group_interval_holds_quieter_parts_and_a_louder_part_takes_them_along(
    hook: WebhookServer, store: Store
) -> None:
    route = {**GROUP, "group_interval": "6h"}
    first = run(hook, store, 0, [{"key": "w1"}], **route)
    assert first.delivered == 2
    held = run(hook, store, 1, [{"key": "w1"}, {"key": "w2"}], **route)  # w2: no louder than w1
    assert (held.queued, held.delivered) == (2, 1)  # only the plain channel's w2 went out
    assert [e["title"] for e in envelopes(hook, "/grouped")] == ["w1"]
    page = run(hook, store, 2, [{"key": "w1"}, {"key": "w2"}, {"key": "c1", "severity": "critical"}], **route)
    assert page.delivered == 2
    *_, grouped = envelopes(hook, "/grouped")
    assert grouped["parts"] == ["scripted:c1", "scripted:w2"] and grouped["severity"] == "critical"
    quiet = run(hook, store, 3, [{"key": "w3"}], **route)  # within 6h of the page: waits
    assert len(envelopes(hook, "/grouped")) == 2 and quiet.delivered == 1
    later = run(hook, store, 9, [{"key": "w3"}], **route)  # 6h after the page: the wait is over
    assert later.delivered == 1
    assert envelopes(hook, "/grouped")[-1]["title"] == "w3"
    assert store.outbox_counts() == {"sent": 8}  # w1, w2, c1, w3 on each channel, each once


def test_a_warning_waiting_in_its_group_is_replaced_by_its_own_page(hook: WebhookServer, store: Store) -> None:
    # A budget's 80% waits for the group's interval; its 100% comes before the wait is over. The page goes
    # at once and takes the waiting parts, but not the 80% of the same budget, which it makes redundant
    # (as it would had the 80% not waited: a late 80% after the page is never sent).
    route = {**GROUP, "group_interval": "6h"}
    run(hook, store, 0, [{"key": "other"}], **route)
    run(hook, store, 1, [{"key": "other"}, {"key": "budget"}, {"key": "spike"}], **route)
    assert [e["title"] for e in envelopes(hook, "/grouped")] == ["other"]  # budget and spike wait
    page = [{"key": "other"}, {"key": "budget", "severity": "critical"}, {"key": "spike"}]
    run(hook, store, 2, page, **route)
    *_, grouped = envelopes(hook, "/grouped")
    assert grouped["parts"] == ["scripted:budget", "scripted:spike"] and grouped["severity"] == "critical"
    assert [s["heading"] for s in grouped["sections"]] == ["[CRITICAL] budget", "[WARNING] spike"]
    assert grouped["title"].startswith("2 alerts, one incident")
    assert store.outbox_counts().get("pending", 0) == 0


def test_resolved_notice_goes_where_the_route_asks_and_only_for_what_was_sent(
    hook: WebhookServer, store: Store
) -> None:
    run(hook, store, 0, [{"key": "projection"}], send_resolved=True)
    gone = run(hook, store, 1, [], resolved=["projection", "never-sent"], send_resolved=True)
    assert gone.counters["resolved"] == 1
    notice = envelopes(hook, "/grouped")[-1]
    assert (notice["status"], notice["fingerprint"]) == ("resolved", "scripted:projection")
    assert notice["title"] == "Resolved: projection" and notice["summary"] == "projection no longer holds"
    assert [e["status"] for e in envelopes(hook, "/plain")] == ["firing"]  # this route did not ask
    again = run(hook, store, 2, [], resolved=["projection"], send_resolved=True)
    assert again.queued == 0  # already closed: no second notice
    back = run(hook, store, 3, [{"key": "projection"}], send_resolved=True)
    assert back.delivered == 2  # it holds again: a new alert


def test_pagerduty_incident_opens_and_resolves_through_the_pipeline(sqlite_store: Store) -> None:
    with PagerDutyServer() as pd:
        raw = {
            "channels": {"oncall": http_config("pagerduty", pd.url())},
            "routes": [{"channels": ["oncall"], "send_resolved": True}],
            "monitors": {"scripted": {"findings": [{"key": "runaway", "severity": "critical"}]}},
        }
        settings = settings_from_dict(raw, env={})
        deps = RunDeps(ReplaySource.from_observations([]), sqlite_store, notifiers_for(settings))
        run_once("scripted", settings, deps, now=NOW)
        assert pd.incidents == {"scripted:runaway": "triggered"}
        raw["monitors"]["scripted"] = {"resolved": ["runaway"]}
        settings = settings_from_dict(raw, env={})
        run_once("scripted", settings, deps, now=NOW + STEP)
    assert pd.incidents == {"scripted:runaway": "resolved"}
    assert [schema_errors(r.json) for r in pd.requests] == [[], []]


def test_a_grouped_pagerduty_incident_closes_when_its_last_open_part_resolves(store: Store) -> None:
    # One group, one incident: a lone part and the later parts update the same incident; a part that
    # resolves while another still stands leaves it open; the last one closes it.
    with PagerDutyServer() as pd:

        def run_pd(i: int, findings: list[dict], resolved: list[str] = ()) -> None:
            raw = {
                "channels": {"oncall": http_config("pagerduty", pd.url())},
                "routes": [{"channels": ["oncall"], "send_resolved": True, **GROUP}],
                "monitors": {"scripted": {"findings": findings, "resolved": list(resolved)}},
            }
            settings = settings_from_dict(raw, env={})
            deps = RunDeps(ReplaySource.from_observations([]), store, notifiers_for(settings))
            run_once("scripted", settings, deps, now=NOW + STEP * i)

        incident = "group:agent=llm-fix day=2026-03-12"
        run_pd(0, [{"key": "projection"}])
        run_pd(1, [{"key": "projection"}, {"key": "page", "severity": "critical"}])
        assert pd.incidents == {incident: "triggered"}
        run_pd(2, [{"key": "page", "severity": "critical"}], resolved=["projection"])
        assert pd.incidents == {incident: "triggered"}  # the page still stands
        assert len(pd.requests) == 2  # and nothing was sent for the projection's end
        assert store.outbox_counts().get("pending", 0) == 0
        run_pd(3, [], resolved=["page"])
        assert pd.incidents == {incident: "resolved"}
    assert [schema_errors(r.json) for r in pd.requests] == [[], [], []]


def test_group_interval_needs_group_by() -> None:
    from monitors.contracts.errors import ConfigError

    raw = {"channels": {"c": {"kind": "stdout"}}, "routes": [{"channels": ["c"], "group_interval": "1h"}]}
    with pytest.raises(ConfigError) as info:
        settings_from_dict(raw, env={})
    assert "routes.0.group_interval: needs group_by" in str(info.value.problems)


def test_a_group_of_resolved_notices_reads_as_resolved_and_a_firing_part_leads_a_mixed_group(
    hook: WebhookServer, store: Store
) -> None:
    route = {**GROUP, "send_resolved": True}
    run(hook, store, 0, [{"key": "p1"}, {"key": "p2"}, {"key": "p3"}], **route)
    over = run(hook, store, 1, [], resolved=["p1", "p2"], **route)
    assert over.counters["resolved"] == 2
    notice = envelopes(hook, "/grouped")[-1]
    assert notice["status"] == "resolved"
    assert notice["title"] == "Resolved: 2 alerts, one incident (agent=llm-fix day=2026-03-12): p1"
    assert notice["summary"].endswith("1 other alert(s) of this group still stand.")  # p3: not over yet
    run(hook, store, 2, [{"key": "w4"}], resolved=["p3"], **route)
    mixed = envelopes(hook, "/grouped")[-1]
    assert mixed["status"] == "firing" and mixed["parts"] == ["scripted:w4", "scripted:p3"]
    assert mixed["title"] == "2 alerts, one incident (agent=llm-fix day=2026-03-12): w4"
