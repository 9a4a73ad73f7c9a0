"""Inputs a real deployment meets that the sample week does not: a rerun after a failed report, the week
still in progress or not begun, agent text with carriage returns in the Markdown tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitors.contracts.errors import ConfigError
from monitors.contracts.findings import Severity
from monitors.engine.wiring import build_notifiers
from monitors.report.build import build_week_report
from monitors.report.digest import build_digest_message
from monitors.report.full import render_markdown
from monitors.report.period import parse_week
from monitors.report.run import run_report
from monitors.store.store import Store
from tests.fakes.webhook_server import WebhookServer
from tests.report import builders as b
from tests.report.test_rerun import FlakyCosts

UTC_TZ = ZoneInfo("UTC")
WEEK = parse_week("2026-W47", UTC_TZ)


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def _run(store: Store, source, hook: WebhookServer, tmp_path: Path, week=WEEK, now=b.REPORT_NOW):
    settings = b.settings({"ops": {"kind": "mattermost", "webhook_url": hook.url("/hooks/mm")}})
    output_dir = tmp_path / "reports"
    result, _, message = run_report(
        settings, store, source, build_notifiers(settings), week, now=now, output_dir=output_dir
    )
    return result, message


def test_a_rerun_after_langfuse_failed_does_not_report_its_own_earlier_failure(
    sqlite_store: Store, hook: WebhookServer, tmp_path: Path
) -> None:
    b.record_run(sqlite_store, "cost")
    source = FlakyCosts()
    source.down = True
    _run(sqlite_store, source, hook, tmp_path)  # Langfuse down: the digest says so, the run fails
    source.down = False
    rerun, message = _run(sqlite_store, source, hook, tmp_path)  # the CronJob's retry, Langfuse back

    assert rerun.status == "ok" and rerun.delivered == 1
    text = json.dumps(hook.bodies()[-1])
    assert message.summary.startswith("Quiet week") and "$140.00" in message.summary
    # The corrected digest is about the week's monitors: not about the report run it replaces.
    assert "failed run(s) or read(s)" not in message.summary
    assert "could not read Langfuse" not in text and "FAILING" not in text
    assert [s.heading for s in message.sections if s.heading == "Checks that could not run"] == []


def test_the_current_week_is_posted_as_in_progress_and_the_scheduled_run_still_posts_it(
    sqlite_store: Store, hook: WebhookServer, tmp_path: Path
) -> None:
    midweek = b.WEEK_START + timedelta(days=2, hours=10)  # Wednesday: someone asks for this week so far
    early, message = _run(sqlite_store, FlakyCosts(), hook, tmp_path, now=midweek)
    assert early.delivered == 1
    assert "in progress" in message.title

    scheduled, message = _run(sqlite_store, FlakyCosts(), hook, tmp_path)  # Thursday after the week
    assert (scheduled.delivered, scheduled.already_sent) == (1, [])
    assert "in progress" not in message.title
    assert len(hook.requests) == 2


def test_a_week_that_has_not_begun_is_refused_as_a_bad_week(
    sqlite_store: Store, hook: WebhookServer, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        _run(sqlite_store, FlakyCosts(), hook, tmp_path, week=parse_week("2026-W49", UTC_TZ))
    assert "--week" in str(info.value) and "2026-W49" in str(info.value)
    assert hook.requests == [] and not (tmp_path / "reports").exists()
    assert [r for r in sqlite_store.runs_between(b.WEEK_START, b.REPORT_NOW + timedelta(days=60))] == []


def test_agent_text_with_carriage_returns_keeps_each_markdown_table_row_on_one_line(sqlite_store: Store) -> None:
    # An agent name or session id read from a trace may hold "\r" (a Windows tool's output pasted in).
    session, agent = "sess-7\rinjected | row", "llm-fix\r\nsecond line"
    loop = b.finding(
        "audit",
        "sess-7:loop",
        "loop",
        Severity.CRITICAL,
        b.WEEK_END + b.DELAY,
        rank=2,
        title="llm-fix: tool-call loop",
        evidence={"session": session, "agent": agent, "usd": 0.5, "wasted_steps": 12},
    )
    b.store_events(sqlite_store, "audit", b.event(loop))
    report = build_week_report(sqlite_store, b.source_of([]), b.settings(), WEEK, now=b.REPORT_NOW)
    markdown = render_markdown(report)
    table_lines = [line for line in markdown.splitlines() if "sess" in line or "second line" in line]
    assert table_lines, markdown
    for line in table_lines:  # every row that holds the agent text starts and ends as a row
        assert line.startswith("| ") and line.endswith(" |"), line
    assert "\r" not in markdown
    assert build_digest_message(report).title.startswith("Weekly report 2026-W47")
