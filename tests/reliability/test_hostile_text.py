"""Hostile text from agents, end to end: real monitors, the real pipeline, the real Slack and Mattermost
notifiers posting to a local receiver. Every payload the receiver got must be harmless (see
harness.harm_in) and still carry the information (the text is escaped, not dropped).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from monitors.contracts.records import Observation
from monitors.engine import registry
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.fakes.gitlab_server import FakeGitLab, running
from tests.fakes.webhook_server import WebhookServer
from tests.reliability.harness import (
    HOSTILE,
    HOSTILE_TEXT,
    LANGFUSE_HOST,
    NOW,
    chat_settings,
    flat,
    harm_in,
    notifiers_for,
    tool_session,
    window,
)
from tests.test_goal_drift import TOKEN, commit

EVIL_AGENT = "bot <!here> @all [x](https://evil.example)"


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def _run(name: str, settings, source, store: Store, gitlab_factory=None):
    deps = RunDeps(source, store, notifiers_for(settings), gitlab_factory=gitlab_factory)
    return run_once(name, settings, deps, now=NOW, since=window().start, until=NOW)


def _assert_harmless(hook: WebhookServer, expected_posts: int) -> None:
    assert len(hook.requests) == expected_posts
    for request in hook.requests:
        kind = "slack" if "/slack" in request.path else "mattermost"
        assert harm_in(request.json, kind) == [], request.path


def test_audit_with_hostile_tool_names_arguments_and_session(hook: WebhookServer, sqlite_store: Store) -> None:
    calls = [("search<!channel>@here", {"q": HOSTILE_TEXT}), ("open [x](https://evil.example)", {"p": HOSTILE[3]})]
    source = ReplaySource.from_observations(
        tool_session("sess-@here", calls * 4, agent=EVIL_AGENT), host=LANGFUSE_HOST, project_id="proj-1"
    )
    summary = _run("audit", chat_settings(hook), source, sqlite_store)
    assert (summary.findings, summary.delivered) == (1, 2)
    _assert_harmless(hook, 2)
    slack, mattermost = (r.json for r in hook.requests)
    # The information is still there, escaped: the loop's tools and the agent's name.
    assert "search&lt;!channel&gt;@\u2060here" in flat(slack)
    assert "open \\[x\\]\\(https\\://evil\\.example\\)" in flat(mattermost)
    assert "traces/trace-sess-%40here" in flat(slack) and "traces/trace-sess-%40here" in flat(mattermost)


def _drift_observations(objective: str) -> list[Observation]:
    meta = {"objective": objective, "mr_iid": 20, "repo": "group/app"}
    return [
        Observation(
            id=f"d-{i}",
            trace_id="t-drift",
            type="SPAN" if i == 0 else "TOOL",
            start_time=NOW - timedelta(hours=3, seconds=-i),
            project_id="proj-1",
            name=EVIL_AGENT if i == 0 else "edit",
            trace_name=EVIL_AGENT,
            metadata=meta,
            is_root=i == 0,
        )
        for i in range(3)
    ]


def test_drift_with_hostile_objective_and_commit_message(
    hook: WebhookServer, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.MONITORS, "drift", "tests.test_goal_drift_e2e:TopicDriftMonitor")
    objective = f"Fix the login page {HOSTILE_TEXT}"
    message = "Rewrite the billing export " + HOSTILE_TEXT.replace("login", "sign-in")
    gitlab = FakeGitLab(token=TOKEN)
    gitlab.add_mr("group/app", 20, [commit("bill9", "2026-03-12T06:00:00Z", message)], title="<!channel> MR")
    with running(gitlab):
        from monitors.sources.gitlab import GitLabSource
        from tests.reliability.harness import no_wait

        source = ReplaySource.from_observations(_drift_observations(objective), host=LANGFUSE_HOST, project_id="proj-1")
        settings = chat_settings(hook, {"drift": {"did_text": "final_commit"}})
        summary = _run(
            "drift", settings, source, sqlite_store, lambda: GitLabSource(gitlab.url, TOKEN, retry=no_wait())
        )
    assert summary.status == "ok", summary.error
    assert summary.delivered == 2, summary.line()
    _assert_harmless(hook, 2)
    assert "Fix the login page @\u2060channel" in flat(hook.requests[0].json)


def test_cost_with_hostile_agent_names(hook: WebhookServer, sqlite_store: Store) -> None:
    spend = [
        Observation(
            id=f"c{i}",
            trace_id=f"t{i}",
            type="GENERATION",
            start_time=NOW - timedelta(hours=8, minutes=-i),
            project_id="proj-1",
            trace_name=EVIL_AGENT,
            user_id="@channel",
            model="<!here>",
            total_cost=3.0,
        )
        for i in range(4)
    ]
    budget = {"name": "per-agent", "daily_cap": 5, "scope": "agent", "per_value": True}
    settings = chat_settings(hook, {"cost": {"budgets": [budget]}})
    source = ReplaySource.from_observations(spend, host=LANGFUSE_HOST, project_id="proj-1")
    summary = _run("cost", settings, source, sqlite_store)
    assert summary.status == "ok", summary.error
    assert summary.delivered >= 2, summary.line()
    _assert_harmless(hook, summary.delivered)
    assert any("@\u2060all" in flat(r.json) for r in hook.requests)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("slack", {"text": "<!channel> deploy"}),
        ("slack", {"text": "hey @here"}),
        ("slack", {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "<https://evil.example|x>"}}]}),
        ("slack", {"text": "<https://langfuse.example.com/traces/x@here|trace>"}),
        ("mattermost", {"text": "[login](https://evil.example)"}),
        ("mattermost", {"text": "see www.evil.example"}),
        ("mattermost", {"attachments": [{"text": "<!here|here>"}]}),
        ("mattermost", {"text": "bidi \u202eevil"}),
    ],
)
def test_the_harm_check_catches_each_kind_of_harm(kind: str, payload: dict) -> None:
    assert harm_in(payload, kind) != []


def test_events_with_hostile_status_messages_and_score_comments(hook: WebhookServer, sqlite_store: Store) -> None:
    from monitors.contracts.scores import ScoreRecord

    failing = [
        Observation(
            id=f"e{i}",
            trace_id=f"t-@here-{i}",
            type="GENERATION",
            start_time=NOW - timedelta(hours=5, minutes=-i),
            project_id="proj-1",
            trace_name=EVIL_AGENT,
            name="<!channel>",
            level="ERROR",
            status_message=f"failed {i}: {HOSTILE_TEXT}",
        )
        for i in range(6)
    ]
    scores = [
        ScoreRecord(
            id=f"s{i}",
            name="judge @all [x](https://evil.example)",
            data_type="BOOLEAN",
            value=False,
            timestamp=NOW - timedelta(hours=4, minutes=-i),
            trace_id=f"t-@here-{i}",
            comment=HOSTILE_TEXT,
            trace_name=EVIL_AGENT,
        )
        for i in range(2)
    ]
    evaluators = [{"name": "judge @all [x](https://evil.example)", "fail_on_false": True, "critical": True}]
    monitors = {"events": {"errors": {"min_observations": 0, "share": {"enabled": False}}, "evaluators": evaluators}}
    settings = chat_settings(hook, monitors)
    source = ReplaySource.from_observations(failing, host=LANGFUSE_HOST, project_id="proj-1", scores=scores)
    summary = _run("events", settings, source, sqlite_store)
    assert summary.status == "ok", summary.error
    assert (summary.findings, summary.delivered) == (2, 4), summary.line()  # a burst and a critical score
    _assert_harmless(hook, 4)
    everything = " ".join(flat(r.json) for r in hook.requests)
    assert "@\u2060channel" in everything and "@\u2060all" in everything  # still there, neutralised
    assert "traces/t-%40here-0" in everything  # our own links, the id escaped
    # The terminal channel: the same alerts as text carry no escape sequence, control or bidi character.
    from monitors.contracts.monitor import RunContext
    from monitors.engine.render import message_for
    from monitors.notifiers.stdout import StdoutNotifier

    ctx = RunContext(window=window(), now=NOW, source=source)
    monitor = registry.monitor_class("events")(settings.monitor_configs["events"])
    texts = [StdoutNotifier("terminal").render(message_for(f)) for f in monitor.run(ctx)]
    assert len(texts) == 2 and all("failed" in t for t in texts)
    for text in texts:
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]", text), text
