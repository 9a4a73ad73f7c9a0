"""Langfuse faults through the real pipeline: the audit monitor reads the fake Langfuse (v2 and legacy
paths, real HTTP) while it answers 429 storms, 500s, timeouts, truncated JSON or a repeating cursor.

A fault the retries ride out gives the normal alert in the same run. A fault they cannot ride out fails
the run (exit 1) with a readable error, queues nothing and leaves the watermark where it was, so the
next run reads the same window and sends the alert once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.langfuse import LangfuseSource
from monitors.store.store import Store
from monitors.support.retry import RetryPolicy
from tests.fakes.langfuse_server import FakeLangfuse
from tests.fakes.webhook_server import WebhookServer
from tests.reliability.harness import NOW, chat_settings, notifiers_for, tool_session

V2 = "/api/public/v2/observations"
LEGACY = "/api/public/observations"
LOOP = tool_session("sess-loop", [("search", {"q": "x"}), ("read", {"path": "a.py"})] * 4, agent="coder")
# 120 distinct calls in another session: more than one legacy page (100 rows), and no finding of their own.
FILLER = tool_session("sess-filler", [(f"tool-{i}", {"n": i}) for i in range(120)], agent="coder")


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def _source(lf: FakeLangfuse, sleeps: list[float], **kw) -> LangfuseSource:
    policy = RetryPolicy(attempts=4, base_delay=0.01, max_delay=30, max_total_wait=120, sleep=sleeps.append)
    return LangfuseSource(lf.url, lf.public_key, lf.secret_key, retry=policy, timeout=kw.pop("timeout", 5), **kw)


def _run(lf: FakeLangfuse, hook: WebhookServer, store: Store, minutes: int, sleeps: list[float], **kw):
    settings = chat_settings(hook, {"audit": {"runaway": {"max_tool_calls": 1000}}}, kinds=("slack",))
    deps = RunDeps(_source(lf, sleeps, **kw), store, notifiers_for(settings))
    return run_once("audit", settings, deps, now=NOW + timedelta(minutes=minutes))


# (name, how to break the server, source options, ridden out in the same run?)
FAULTS: list[tuple[str, Callable[[FakeLangfuse], None], dict, bool]] = [
    ("429 storm, Retry-After 2", lambda lf: lf.fail_next(V2, 429, retry_after=2, times=3), {}, True),
    ("500 twice", lambda lf: lf.fail_next(V2, 500, times=2), {}, True),
    ("500 persistent", lambda lf: lf.fail_next(V2, 500, times=4), {}, False),
    ("429 longer than the retries", lambda lf: lf.fail_next(V2, 429, retry_after=1, times=4), {}, False),
    ("timeout once", lambda lf: lf.delay_next(V2, 0.5), {"timeout": 0.15}, True),
    ("timeouts persistent", lambda lf: lf.delay_next(V2, 0.5, times=4), {"timeout": 0.15}, False),
    ("truncated JSON once", lambda lf: lf.malformed_next(V2), {}, True),
    ("truncated JSON persistent", lambda lf: lf.malformed_next(V2, times=4), {}, False),
    ("repeating cursor", lambda lf: setattr(lf, "repeat_cursor", True), {"page_size": 3}, False),
    ("legacy server, 429 storm", lambda lf: (setattr(lf, "legacy_only", True), lf.fail_next(LEGACY, 429, times=3)),
     {}, True),
    ("cursor that never ends", lambda lf: setattr(lf, "endless_cursor", True), {"page_size": 3, "max_pages": 100},
     False),
    # Legacy reads page by time (page=1 each time), so a server ignoring page numbers loses nothing.
    ("legacy server, pages stuck on 1", lambda lf: (setattr(lf, "legacy_only", True), setattr(lf, "ignore_page", True)),
     {}, True),
]  # fmt: skip


@pytest.mark.parametrize(("name", "fault", "options", "ridden_out"), FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_gives_one_alert_now_or_on_the_next_run(
    name: str, fault: Callable, options: dict, ridden_out: bool, hook: WebhookServer, sqlite_store: Store
) -> None:
    sleeps: list[float] = []
    with FakeLangfuse(LOOP + FILLER) as lf:
        fault(lf)
        first = _run(lf, hook, sqlite_store, 0, sleeps, **options)
        # Heal the server (faults left over, broken pagination) and run again 15 minutes later.
        lf.faults.clear()
        lf.repeat_cursor = lf.ignore_page = lf.endless_cursor = False
        second = _run(lf, hook, sqlite_store, 15, sleeps, **options)
        requests = len(lf.requests)
    assert first.requests > 0 and first.requests + second.requests == requests  # every request counted
    if ridden_out:
        assert (first.status, first.delivered) == ("ok", 1), first.error
        assert (second.status, second.queued, second.delivered) == ("ok", 0, 0)
    else:
        assert (first.status, first.exit_code, first.queued) == ("failed", 1, 0)
        assert first.error and "Langfuse" in first.error and lf.secret_key not in first.error
        assert (second.status, second.delivered) == ("ok", 1), second.error
    assert len(hook.requests) == 1  # exactly one alert, whatever happened
    assert max(sleeps, default=0) <= 30  # Retry-After honoured, capped by the policy
    if "Retry-After 2" in name:
        assert sleeps[:3] == [2.0, 2.0, 2.0]


def test_failed_run_keeps_the_watermark_and_the_heartbeat_says_failed(hook: WebhookServer, sqlite_store: Store) -> None:
    with FakeLangfuse(LOOP) as lf:
        lf.fail_next(V2, 503, times=10)
        summary = _run(lf, hook, sqlite_store, 0, [])
    assert summary.status == "failed"
    assert sqlite_store.watermark("audit") is None
    assert sqlite_store.last_runs()["audit"]["last"]["status"] == "failed"
    assert sqlite_store.outbox_counts() == {}
