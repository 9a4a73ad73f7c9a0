"""A report rerun for the same week (a CronJob retry, a person running it again) posts once per channel,
and a week whose spend Langfuse did not answer fails the run while still posting what it has."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitors.contracts.errors import SourceError
from monitors.engine.wiring import build_notifiers
from monitors.report.period import ReportWeek, parse_week
from monitors.report.run import run_report
from monitors.report.sent import needs_digest, sent_before
from monitors.store.store import Store
from tests.fakes.webhook_server import Reply, WebhookServer
from tests.report import builders as b

WEEK = parse_week("2026-W47", ZoneInfo("UTC"))


class FlakyCosts:
    """A source whose cost queries fail while `down` is set: Langfuse answering 503 for the whole run."""

    def __init__(self) -> None:
        self.replay = b.source_of([b.obs(d, b.WEEK_START + timedelta(days=d, hours=3), 20.0) for d in range(7)])
        self.stats = self.replay.stats
        self.down = False

    def costs(self, query):
        if self.down:
            raise SourceError("Langfuse Metrics v2: HTTP 503 after 5 attempts")
        return self.replay.costs(query)

    def __getattr__(self, name: str):
        return getattr(self.replay, name)


@pytest.fixture
def hooks() -> Iterator[tuple[WebhookServer, WebhookServer]]:
    with WebhookServer() as mattermost, WebhookServer() as slack:
        yield mattermost, slack


def _run(store: Store, source: FlakyCosts, hooks, tmp_path: Path, **kwargs):
    mattermost, slack = hooks
    settings = b.settings(
        {
            "ops-mm": {"kind": "mattermost", "webhook_url": mattermost.url("/hooks/mm")},
            "ops-slack": {"kind": "slack", "webhook_url": slack.url("/services/T0/B0/x")},
        }
    )
    result, _, _ = run_report(
        settings, store, source, build_notifiers(settings), WEEK, now=b.REPORT_NOW, output_dir=tmp_path, **kwargs
    )
    return result


def test_a_retry_after_one_channel_failed_posts_only_to_that_channel(sqlite_store, hooks, tmp_path) -> None:
    mattermost, slack = hooks
    mattermost.script(Reply(404, json.dumps({"id": "web.incoming_webhook.invalid.app_error"})))
    first = _run(sqlite_store, FlakyCosts(), hooks, tmp_path)
    assert (first.status, first.exit_code, first.delivered, first.failed) == ("delivery_failed", 1, 1, 1)
    assert (len(mattermost.requests), len(slack.requests)) == (1, 1)

    second = _run(sqlite_store, FlakyCosts(), hooks, tmp_path)
    assert (second.status, second.exit_code, second.delivered, second.already_sent) == ("ok", 0, 1, ["ops-slack"])
    assert (len(mattermost.requests), len(slack.requests)) == (2, 1)  # Slack did not get it twice
    assert "already_sent=ops-slack" in second.line()

    third = _run(sqlite_store, FlakyCosts(), hooks, tmp_path)
    assert (third.delivered, third.already_sent) == (0, ["ops-mm", "ops-slack"])
    assert (len(mattermost.requests), len(slack.requests)) == (2, 1)


def test_resend_posts_to_every_channel_again(sqlite_store, hooks, tmp_path) -> None:
    _run(sqlite_store, FlakyCosts(), hooks, tmp_path)
    again = _run(sqlite_store, FlakyCosts(), hooks, tmp_path, resend=True)
    assert (again.delivered, again.already_sent) == (2, [])
    assert [len(h.requests) for h in hooks] == [2, 2]


def test_unreadable_spend_fails_the_run_but_posts_and_a_later_complete_run_replaces_it(
    sqlite_store, hooks, tmp_path
) -> None:
    source = FlakyCosts()
    source.down = True
    first = _run(sqlite_store, source, hooks, tmp_path)
    assert (first.status, first.exit_code, first.delivered, first.spend) == ("failed", 1, 2, None)
    assert "HTTP 503 after 5 attempts" in first.line() and "langfuse_error=" in first.line()
    slack_text = json.dumps(hooks[1].bodies()[0])
    assert "Spend unknown" in slack_text

    still_down = _run(sqlite_store, source, hooks, tmp_path)  # the CronJob's retry, Langfuse still down
    assert (still_down.status, still_down.delivered, still_down.already_sent) == ("failed", 0, ["ops-mm", "ops-slack"])

    source.down = False
    recovered = _run(sqlite_store, source, hooks, tmp_path)
    assert (recovered.status, recovered.delivered, recovered.spend) == ("ok", 2, 140.0)
    assert "Spend $140.00" in json.dumps(hooks[1].bodies()[-1])
    assert [len(h.requests) for h in hooks] == [2, 2]

    health = sqlite_store.runs_between(b.WEEK_START, b.REPORT_NOW + timedelta(days=400))
    failed = [r for r in health if r["monitor"] == "report" and r["status"] == "failed"]
    error = failed[0]["summary"]["error"]
    assert "could not read Langfuse: total spend: Langfuse Metrics v2: HTTP 503" in error


def test_another_week_is_posted_even_when_this_one_was() -> None:
    runs = [
        {"monitor": "report", "summary": {"window": _window(WEEK), "sent": {"ops": "complete"}}},
        {"monitor": "cost", "summary": {"window": _window(WEEK), "sent": {"other": "complete"}}},
    ]
    assert sent_before(runs, WEEK) == {"ops": "complete"}
    assert sent_before(runs, WEEK.previous()) == {}


def test_an_incomplete_digest_is_replaced_only_by_a_complete_one() -> None:
    assert needs_digest("ops", {}, complete=False)
    assert not needs_digest("ops", {"ops": "incomplete"}, complete=False)
    assert needs_digest("ops", {"ops": "incomplete"}, complete=True)
    assert not needs_digest("ops", {"ops": "complete"}, complete=True)
    later = [
        {"monitor": "report", "summary": {"window": _window(WEEK), "sent": {"ops": "complete"}}},
        {"monitor": "report", "summary": {"window": _window(WEEK), "sent": {"ops": "incomplete"}}},
    ]
    assert sent_before(later, WEEK) == {"ops": "complete"}  # a complete digest is never taken back


def _window(week: ReportWeek) -> dict[str, str]:
    return {"start": week.start.isoformat(), "end": week.end.isoformat()}
