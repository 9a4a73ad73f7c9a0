"""Agent replies quoted by the conversation checks reach chat harmless: real pipeline, real notifiers.

A still-running conversation loop and a claim of work no call did are sent at once, quoting the
agent's own words; those words carry every kind of hostile text (mentions, links, control characters).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.fakes.webhook_server import WebhookServer
from tests.reliability.harness import (
    HOSTILE,
    LANGFUSE_HOST,
    NOW,
    chat_settings,
    flat,
    harm_in,
    notifiers_for,
    tool_session,
    window,
)


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def test_quoted_hostile_replies_are_escaped(hook: WebhookServer, sqlite_store: Store) -> None:
    asks = [f"To proceed, I need the reservation ID. {HOSTILE[i % len(HOSTILE)]}" for i in range(4)]
    claim = f"Your reservation has been successfully cancelled. {HOSTILE[0]} {HOSTILE[2]}"
    calls = [("respond", {"content": text}) for text in [*asks, claim]]
    # Ended a minute ago: the loop is still running (sent now), and so is the claim (kept for the report).
    observations = tool_session("chat-@here", calls, start=NOW - timedelta(minutes=6))
    observations = [replace(o, start_time=o.start_time + timedelta(seconds=60 * i)) for i, o in enumerate(observations)]
    source = ReplaySource.from_observations(observations, host=LANGFUSE_HOST, project_id="proj-1")
    deps = RunDeps(source, sqlite_store, notifiers_for(chat_settings(hook)))
    summary = run_once("audit", chat_settings(hook), deps, now=NOW, since=window().start, until=NOW)
    assert summary.findings == 2 and summary.delivered == 2  # the loop, to Slack and Mattermost
    for request in hook.requests:
        kind = "slack" if "/slack" in request.path else "mattermost"
        assert harm_in(request.json, kind) == [], request.path
        assert "replies repeat an" in flat(request.json) and "I need the reservation ID" in flat(request.json)
