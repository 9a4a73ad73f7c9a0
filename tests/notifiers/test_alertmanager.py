"""The alertmanager channel against a local Alertmanager that validates every body against the spec."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from click.testing import CliRunner

from monitors.app.after_runs import after_runs
from monitors.app.cli.main import cli
from monitors.contracts.errors import ConfigError
from monitors.contracts.findings import Severity
from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.engine.render import test_message
from monitors.engine.wiring import build_notifiers
from monitors.notifiers.alertmanager import AlertmanagerNotifier, OpenFinding
from monitors.sources.replay import ReplaySource
from monitors.store.rows import RunCommit
from monitors.store.store import Store
from monitors.support.retry import RetryPolicy
from tests.fakes.alertmanager import FakeAlertmanager
from tests.notifiers.conftest import HOSTILE
from tests.reliability.harness import _CONTROL as CONTROL
from tests.reliability.harness import _MENTION as MENTION
from tests.reliability.harness import HOSTILE as HOSTILE_CORPUS

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LANGFUSE_TRACE = "https://cloud.langfuse.com/project/p1/traces/t-42"


@pytest.fixture
def am() -> Iterator[FakeAlertmanager]:
    with FakeAlertmanager() as server:
        yield server


@pytest.fixture(autouse=True)
def _scripted_monitor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "scripted", "tests.fakes.scripted_monitor:ScriptedMonitor")


def _notifier(am: FakeAlertmanager, **config: object) -> AlertmanagerNotifier:
    cfg = AlertmanagerNotifier.Config.model_validate({"url": am.url, **config})
    session = requests.Session()
    session.trust_env = False
    no_wait = RetryPolicy(attempts=3, base_delay=0, max_delay=0, max_total_wait=1, sleep=lambda _s: None)
    return AlertmanagerNotifier("am", cfg, retry=no_wait, session=session, clock=lambda: NOW)


def _finding(**overrides: object) -> OpenFinding:
    values: dict = {
        "monitor": "drift",
        "dedupe_key": "trace-7f3e:commit-9c1a",
        "kind": "drift",
        "severity": Severity.CRITICAL,
        "title": "Goal drift in merge request !12",
        "summary": "The final commit does not match the objective.",
        "fields": (("Objective", "fix the login bug"), ("Score", "-0.31")),
        "links": (("Trace", LANGFUSE_TRACE), ("Merge request", "https://gitlab.example/g/r/-/merge_requests/12")),
        "first_seen": NOW - timedelta(hours=2),
        "last_seen": NOW,
    }
    return OpenFinding(**(values | overrides))


def test_the_fake_refuses_what_the_spec_and_alertmanager_refuse(am: FakeAlertmanager) -> None:
    session = requests.Session()
    session.trust_env = False
    bad_bodies = [
        {"labels": {"a": "b"}},  # not an array
        [{"annotations": {"a": "b"}}],  # labels are required
        [{"labels": {"a": 1}}],  # label values are strings
        [{"labels": {"a": "b"}, "startsAt": "yesterday"}],  # date-time
        [{"labels": {}}],  # Alertmanager: at least one label pair
        [{"labels": {"bad-name": "x"}}],
        [{"labels": {"a": "b"}, "startsAt": "2026-11-23T09:00:00Z", "endsAt": "2026-11-23T08:00:00Z"}],
    ]
    for body in bad_bodies:
        assert session.post(f"{am.url}/api/v2/alerts", json=body).status_code == 400, body
    assert session.post(f"{am.url}/api/v2/alerts", json=[{"labels": {"a": "b"}}]).status_code == 200


def test_a_finding_becomes_an_alert_with_labels_annotations_and_the_langfuse_link(am: FakeAlertmanager) -> None:
    notifier = _notifier(am, labels={"team": "ml"})
    [result] = notifier.deliver_alerts([notifier.alert(_finding())])
    assert result.ok, result.reason
    [post] = am.posts
    assert post.status == 200 and post.problems == ()
    [alert] = post.body
    assert alert["labels"] == {
        "alertname": "langfuse_drift_drift",
        "monitor": "drift",
        "check": "drift",
        "severity": "critical",
        "key": "trace-7f3e:commit-9c1a",
        "team": "ml",
    }
    assert alert["generatorURL"] == LANGFUSE_TRACE
    assert alert["annotations"]["summary"] == "Goal drift in merge request !12"
    assert alert["annotations"]["description"] == "The final commit does not match the objective."
    assert alert["annotations"]["details"] == "Objective: fix the login bug\nScore: -0.31"
    assert alert["startsAt"] == "2026-11-23T07:00:00Z"
    assert alert["endsAt"] == "2026-11-23T10:00:00Z"  # last seen + expire_after (1h)


@pytest.mark.parametrize("text", [HOSTILE, *HOSTILE_CORPUS])
def test_agent_text_cannot_mention_link_or_inject_in_labels_or_annotations(am: FakeAlertmanager, text: str) -> None:
    # Alertmanager hands labels and annotations to its Slack, Mattermost, e-mail and webhook templates.
    notifier = _notifier(am)
    hostile = _finding(title=text, summary=text, dedupe_key=f"user:{text}", kind=text, fields=(("Objective", text),))
    [result] = notifier.deliver_alerts([notifier.alert(hostile)])
    assert result.ok, result.reason
    [alert] = am.posts[0].body
    texts = [*alert["labels"].values(), *(v for k, v in alert["annotations"].items() if k != "links")]
    for value in texts:
        assert not CONTROL.search(value), value
        assert not MENTION.search(value), value  # every '@' is followed by the invisible word joiner
        assert "<" not in value and ">" not in value, value  # no <!channel>, <@U..>, <url|label>
        assert not re.search(r"https?://evil|\bwww\.evil", value, re.IGNORECASE), value  # nothing to autolink
    assert alert["annotations"]["links"].split("\n")[0] == f"Trace: {LANGFUSE_TRACE}"  # our own links intact


def test_server_errors_are_retried_and_a_refusal_is_permanent_with_its_reason(am: FakeAlertmanager) -> None:
    notifier = _notifier(am)
    am.fail_with(500)
    [result] = notifier.deliver_alerts([notifier.alert(_finding())])
    assert result.ok and result.attempts == 2
    [refused] = notifier.deliver_alerts([{"labels": {}}])
    assert not refused.ok and not refused.retryable and refused.status == 400
    assert "at least one label pair required" in refused.reason
    assert am.url.split("//")[1] not in refused.reason


def test_test_alert_is_accepted_and_resolves_by_itself(am: FakeAlertmanager) -> None:
    result = _notifier(am).deliver(test_message())
    assert result.ok
    [alert] = am.posts[0].body
    assert alert["labels"]["alertname"] == "langfuse_monitors_test"
    assert alert["endsAt"] == "2026-11-23T09:05:00Z"


def test_an_alertmanager_channel_takes_no_routes() -> None:
    raw = {
        "channels": {"am": {"kind": "alertmanager", "url": "http://am:9093"}},
        "routes": [{"channels": ["am"]}],
    }
    with pytest.raises(ConfigError) as info:
        settings_from_dict(raw, env={})
    assert any("routes.0.channels" in p and "alertmanager channel" in p for p in info.value.problems)


def _settings(am: FakeAlertmanager, findings: list[dict]) -> object:
    raw = {
        "channels": {"am": {"kind": "alertmanager", "url": am.url, "expire_after": "1h"}},
        "monitors": {"scripted": {"findings": findings}},
        "alerting": {"retries_per_run": 0},  # one attempt per run: the next run is the retry
    }
    return settings_from_dict(raw, env={})


def _run_and_sync(settings: object, store: Store, now: datetime) -> int:
    notifiers = build_notifiers(settings)
    notifiers["am"].session.trust_env = False
    deps = RunDeps(ReplaySource.from_observations([]), store, notifiers)
    run_once("scripted", settings, deps, now=now)
    return after_runs(settings, store, notifiers, ["scripted"], now=now, echo=lambda _line: None)


def test_open_findings_are_resent_every_run_and_expire_once_no_run_sees_them(
    am: FakeAlertmanager, sqlite_store: Store
) -> None:
    loop = {"key": "session-9:loop", "kind": "loop", "severity": "critical"}
    info = {"key": "session-9:note", "kind": "note", "severity": "info"}  # below min_severity (warning)
    for i in range(3):  # three runs 15 minutes apart, each still observing the loop
        now = NOW + timedelta(minutes=15 * i)
        assert _run_and_sync(_settings(am, [loop | {"at": now.isoformat()}, info]), sqlite_store, now) == 0
    assert [len(p.body) for p in am.posts] == [1, 1, 1]  # re-sent each run; the info finding never
    ends = [p.body[0]["endsAt"] for p in am.posts]
    assert ends == ["2026-11-23T10:00:00Z", "2026-11-23T10:15:00Z", "2026-11-23T10:30:00Z"]
    assert {p.body[0]["startsAt"] for p in am.posts} == {"2026-11-23T09:00:00Z"}  # when it was first seen
    # The monitor stops observing it: later runs re-send it until its last sighting + 1h, then stop.
    quiet = _settings(am, [])
    _run_and_sync(quiet, sqlite_store, NOW + timedelta(minutes=45))
    assert am.posts[-1].body[0]["endsAt"] == "2026-11-23T10:30:00Z"  # unchanged: it was not seen again
    posts = len(am.posts)
    _run_and_sync(quiet, sqlite_store, NOW + timedelta(minutes=95))
    assert len(am.posts) == posts  # nothing open any more
    assert am.active(NOW + timedelta(minutes=95)) == []  # and Alertmanager has resolved it


def test_an_alertmanager_that_was_down_gets_every_open_alert_on_the_next_run(
    am: FakeAlertmanager, sqlite_store: Store
) -> None:
    finding = {"key": "budget:global", "kind": "budget", "severity": "warning", "at": NOW.isoformat()}
    am.fail_with(503)  # the first run's one attempt
    assert _run_and_sync(_settings(am, [finding]), sqlite_store, NOW) == 1  # the command exits 1
    later = NOW + timedelta(minutes=15)
    assert _run_and_sync(_settings(am, []), sqlite_store, later) == 0
    assert am.posts[-1].status == 200
    assert [a["labels"]["key"] for a in am.posts[-1].body] == ["budget:global"]


def test_silenced_findings_are_not_posted(am: FakeAlertmanager, sqlite_store: Store) -> None:
    sqlite_store.add_silence("scripted", "muted", NOW + timedelta(hours=2), now=NOW)
    findings = [
        {"key": "muted", "severity": "critical", "at": NOW.isoformat()},
        {"key": "loud", "severity": "critical", "at": NOW.isoformat()},
    ]
    _run_and_sync(_settings(am, findings), sqlite_store, NOW)
    assert [a["labels"]["key"] for a in am.posts[-1].body] == ["loud"]


def test_an_alert_firing_before_a_silence_still_ends_and_one_silenced_from_the_start_never_opens(
    am: FakeAlertmanager, sqlite_store: Store
) -> None:
    # The PagerDuty sequence (alert, silence, resolution): Alertmanager keeps no incident open either.
    loop = {"key": "session-9:loop", "kind": "loop", "severity": "critical", "at": NOW.isoformat()}
    _run_and_sync(_settings(am, [loop]), sqlite_store, NOW)
    assert am.posts[-1].body[0]["endsAt"] == "2026-11-23T10:00:00Z"
    sqlite_store.add_silence("scripted", "session-9", NOW + timedelta(days=1), now=NOW + timedelta(minutes=5))
    sqlite_store.add_silence("scripted", "session-10", NOW + timedelta(days=1), now=NOW + timedelta(minutes=5))
    later = NOW + timedelta(minutes=15)
    muted = {"key": "session-10:loop", "kind": "loop", "severity": "critical", "at": later.isoformat()}
    _run_and_sync(_settings(am, [loop | {"at": later.isoformat()}, muted]), sqlite_store, later)
    assert len(am.posts) == 1  # neither is posted while silenced
    _run_and_sync(_settings(am, []), sqlite_store, NOW + timedelta(minutes=30))  # the loop no longer holds
    assert len(am.posts) == 1
    assert [a["labels"]["key"] for a in am.active(NOW + timedelta(minutes=59))] == ["session-9:loop"]
    assert am.active(NOW + timedelta(hours=1)) == []  # ended at the endsAt it was last posted with


def test_long_keys_that_share_a_beginning_stay_separate_alerts(am: FakeAlertmanager) -> None:
    notifier = _notifier(am)
    base = "user:" + "x" * 300
    alerts = [notifier.alert(_finding(dedupe_key=f"{base}:{n}")) for n in range(2)]
    assert alerts[0]["labels"]["key"] != alerts[1]["labels"]["key"]
    assert all(len(a["labels"]["key"]) <= 220 for a in alerts)
    assert notifier.deliver_alerts(alerts)[0].ok and len(am.alerts) == 2


def test_run_monitor_test_alert_reaches_alertmanager(am: FakeAlertmanager, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    config = tmp_path / "monitors.yaml"
    config.write_text(f"channels:\n  am: {{kind: alertmanager, url: '{am.url}'}}\n")
    result = CliRunner().invoke(cli, ["test-alert", "-c", str(config), "--channel", "am"])
    assert result.exit_code == 0, result.output
    assert [a["labels"]["alertname"] for a in am.posts[0].body] == ["langfuse_monitors_test"]


def test_a_resolution_in_the_finding_log_ends_the_alert_at_once(am: FakeAlertmanager, sqlite_store: Store) -> None:
    loop = {"key": "session-9:loop", "kind": "loop", "severity": "critical", "at": NOW.isoformat()}
    _run_and_sync(_settings(am, [loop]), sqlite_store, NOW)
    assert am.posts[-1].body[0]["endsAt"] == "2026-11-23T10:00:00Z"
    # What the engine logs when a monitor says the finding no longer holds (ctx.resolve).
    later = NOW + timedelta(minutes=15)
    [event] = sqlite_store.events_between(NOW, later)
    resolution = {**event, "observed_at": later, "decision": "resolved; notice queued"}
    sqlite_store.commit_run(RunCommit("scripted", later, None, [], [], [resolution], {}))
    after_runs(_settings(am, []), sqlite_store, build_notifiers(_settings(am, [])), [], now=later, echo=print)
    [alert] = am.posts[-1].body
    assert alert["endsAt"] == "2026-11-23T09:15:00Z" and alert["startsAt"] == "2026-11-23T09:00:00Z"
    assert am.active(later + timedelta(seconds=1)) == []


def _lifecycle(am: FakeAlertmanager, findings: list[dict], resolved: list[str] = (), routes: list | None = None):
    raw: dict = {
        "channels": {"am": {"kind": "alertmanager", "url": am.url, "expire_after": "1h"}},
        "monitors": {"scripted": {"findings": findings, "resolved": list(resolved)}},
    }
    if routes is not None:  # a chat channel beside Alertmanager, so the finding is notified there too
        raw["channels"]["chat"] = {"kind": "stdout"}
        raw["routes"] = routes
    return settings_from_dict(raw, env={})


@pytest.mark.parametrize("with_chat", [False, True], ids=["alertmanager only", "alertmanager and a chat"])
def test_a_finding_the_monitor_resolves_ends_its_alert_at_once_not_at_expiry(
    am: FakeAlertmanager, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch, with_chat: bool
) -> None:
    # Through the real pipeline: the monitor says the finding no longer holds (ctx.resolve), and the
    # sync after that run posts the alert ending then. Before, nothing logged the resolution, so the
    # alert stayed active for expire_after (1 h) after its last sighting.
    monkeypatch.setitem(registry.MONITORS, "scripted", "tests.engine.lifecycle_monitor:LifecycleMonitor")
    routes = [{"channels": ["chat"]}] if with_chat else None
    runaway = [{"key": "runaway", "severity": "warning"}]  # as the monitor resolves it (same labels)
    _run_and_sync(_lifecycle(am, runaway, routes=routes), sqlite_store, NOW)
    assert am.active(NOW + timedelta(minutes=1)) != []
    later = NOW + timedelta(minutes=15)
    _run_and_sync(_lifecycle(am, [], resolved=["runaway"], routes=routes), sqlite_store, later)
    [alert] = am.posts[-1].body
    assert alert["endsAt"] == "2026-11-23T09:15:00Z"  # when it resolved, not 10:00 (sighting + 1 h)
    assert am.active(later + timedelta(seconds=1)) == []
    # An ending is not a finding: the run's findings count and the week's findings leave it out.
    assert [e["decision"] for e in sqlite_store.events_between(NOW, later + timedelta(seconds=1))][-1].startswith(
        "resolved"
    )
    week = sqlite_store.events_about(NOW - timedelta(days=1), NOW + timedelta(days=1), unplaced_observed=(NOW, NOW))
    assert [e["decision"].startswith("resolved") for e in week] == [False]
