"""Trace ids are agent-chosen: in a "Langfuse trace" link each one is a single percent-encoded path
segment, so an id like "../../settings" cannot point the link at another page of the Langfuse host."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import pytest

from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.langfuse import LangfuseSource
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from monitors.support.links import langfuse_trace_url
from tests.fakes.webhook_server import WebhookServer
from tests.reliability.harness import LANGFUSE_HOST, NOW, chat_settings, notifiers_for, tool_session

EVIL_IDS = ["../../settings/api-keys", "x?view=admin#top", "..", "%2e%2e", "a/b", "@here <b>"]


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


@pytest.mark.parametrize("trace_id", EVIL_IDS)
def test_a_trace_id_is_one_encoded_segment(trace_id: str) -> None:
    url = langfuse_trace_url(LANGFUSE_HOST, "proj-1", trace_id)
    path = urlsplit(url).path
    assert urlsplit(url).query == "" and urlsplit(url).fragment == ""
    assert path.startswith("/project/proj-1/traces/") and path.count("/") == 4
    last = path.rsplit("/", 1)[1]
    assert last not in (".", "..") and unquote(last) == trace_id


def test_both_sources_build_the_same_encoded_link() -> None:
    replay = ReplaySource.from_observations([], host=LANGFUSE_HOST, project_id="proj-1")
    live = LangfuseSource(LANGFUSE_HOST, "pk", "sk", timeout=1)
    live._project_id, live._project_looked_up = "proj-1", True  # no server: the id is known
    assert replay.trace_url("../x") == live.trace_url("../x") == f"{LANGFUSE_HOST}/project/proj-1/traces/..%2Fx"


def test_an_alert_for_a_hostile_trace_id_links_only_to_that_trace(hook: WebhookServer, sqlite_store: Store) -> None:
    calls = [("search", {"q": "x"}), ("read", {"path": "a.py"})] * 4
    loop = [dataclasses.replace(o, trace_id="../../settings/api-keys") for o in tool_session("s1", calls)]
    settings = chat_settings(hook, kinds=("mattermost",))
    source = ReplaySource.from_observations(loop, host=LANGFUSE_HOST, project_id="proj-1")
    summary = run_once("audit", settings, RunDeps(source, sqlite_store, notifiers_for(settings)), now=NOW)
    assert summary.delivered == 1, summary.error
    text = hook.requests[0].body.decode()
    assert "/project/proj-1/traces/..%2F..%2Fsettings%2Fapi-keys" in text
    assert "/settings/api-keys" not in text
