"""GitLab faults under goal-drift, through the real pipeline and python-gitlab against the fake GitLab.

401/403/404 cannot be retried: the trace becomes an INFO "unverifiable" finding with the reason (kept
for the weekly report, not sent), and the run is ok. 5xx and 429 are retried in the run; when GitLab
stays down for every merge request the run fails (exit 1), the watermark stays, and the next run
sends the drift alert once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from monitors.contracts.records import Observation
from monitors.engine import registry
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.gitlab import GitLabSource
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from monitors.support.retry import RetryPolicy
from tests.fakes.gitlab_server import FakeGitLab, Fault, running
from tests.fakes.webhook_server import WebhookServer
from tests.reliability.harness import LANGFUSE_HOST, NOW, chat_settings, notifiers_for
from tests.test_goal_drift import TOKEN, commit


def _traces() -> list[Observation]:
    meta = {"objective": "Fix the login page", "mr_iid": 20, "repo": "group/app"}
    return [
        Observation(
            id=f"o{i}",
            trace_id="t-drift",
            type="SPAN",
            start_time=NOW - timedelta(hours=3, seconds=-i),
            project_id="proj-1",
            name="login-bot",
            trace_name="login-bot",
            metadata=meta,
            is_root=i == 0,
        )
        for i in range(2)
    ]


@pytest.fixture(autouse=True)
def _topic_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "drift", "tests.test_goal_drift_e2e:TopicDriftMonitor")


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    state = FakeGitLab(token=TOKEN)
    state.add_mr("group/app", 20, [commit("bill9", "2026-03-12T06:00:00Z", "Rewrite the billing export")])
    with running(state):
        yield state


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def _run(gitlab: FakeGitLab, hook: WebhookServer, store: Store, minutes: int, token: str, sleeps: list[float]):
    settings = chat_settings(hook, {"drift": {"did_text": "final_commit"}}, kinds=("slack",))
    policy = RetryPolicy(attempts=3, base_delay=0.01, max_total_wait=100, sleep=sleeps.append)
    source = ReplaySource.from_observations(_traces(), host=LANGFUSE_HOST, project_id="proj-1")
    deps = RunDeps(source, store, notifiers_for(settings), lambda: GitLabSource(gitlab.url, token, retry=policy))
    return run_once("drift", settings, deps, now=NOW + timedelta(minutes=minutes))


def _forbid(gitlab: FakeGitLab) -> None:
    gitlab.forbidden.add("group/app")


def _missing(gitlab: FakeGitLab) -> None:
    gitlab.projects["group/app"]["merge_requests"].pop("20")


# (name, break GitLab, token, reason recorded when unverifiable)
PERMANENT: list[tuple[str, Callable[[FakeGitLab], None], str, str]] = [
    ("403 no access", _forbid, TOKEN, "no access to this project (403)"),
    ("404 merge request gone", _missing, TOKEN, "not found, or the token cannot see this project (404)"),
]


@pytest.mark.parametrize(("name", "fault", "token", "reason"), PERMANENT, ids=[p[0] for p in PERMANENT])
def test_permanent_gitlab_errors_are_recorded_not_sent(
    name: str, fault: Callable, token: str, reason: str, gitlab: FakeGitLab, hook: WebhookServer, sqlite_store: Store
) -> None:
    fault(gitlab)
    summary = _run(gitlab, hook, sqlite_store, 0, token, [])
    assert (summary.status, summary.findings, summary.queued) == ("ok", 1, 0), summary.error
    assert summary.counters["unverifiable"] == 1
    [event] = sqlite_store.events_between(NOW - timedelta(days=2), NOW + timedelta(days=1))
    assert event["kind"] == "unverifiable" and reason in event["finding"]["summary"]
    assert hook.requests == []
    assert token not in str(event) and TOKEN not in str(event)


def test_revoked_token_fails_the_run_instead_of_turning_drift_off_silently(
    gitlab: FakeGitLab, hook: WebhookServer, sqlite_store: Store
) -> None:
    summary = _run(gitlab, hook, sqlite_store, 0, "glpat-REVOKED", [])
    assert (summary.status, summary.exit_code, summary.queued) == ("failed", 1, 0)
    assert "GitLab rejected the token" in summary.error and "gitlab.token" in summary.error
    assert "glpat-REVOKED" not in summary.line()
    assert sqlite_store.watermark("drift") is None  # the window is read again once the token is fixed
    assert hook.requests == []


# (name, fault, ridden out in the run?)
TRANSIENT: list[tuple[str, Fault, bool]] = [
    ("500 once", Fault(match="merge_requests", status=500, times=1), True),
    ("429 with Retry-After", Fault(match="merge_requests", status=429, times=2, headers={"Retry-After": "3"}), True),
    ("500 persistent", Fault(match="merge_requests", status=500, times=3), False),
    ("502 on the commits list", Fault(match="/commits", status=502, times=3), False),
]


@pytest.mark.parametrize(("name", "fault", "ridden_out"), TRANSIENT, ids=[t[0] for t in TRANSIENT])
def test_transient_gitlab_errors_alert_once_now_or_next_run(
    name: str, fault: Fault, ridden_out: bool, gitlab: FakeGitLab, hook: WebhookServer, sqlite_store: Store
) -> None:
    gitlab.faults.append(fault)
    sleeps: list[float] = []
    first = _run(gitlab, hook, sqlite_store, 0, TOKEN, sleeps)
    if ridden_out:
        assert (first.status, first.delivered) == ("ok", 1), first.error
    else:
        assert (first.status, first.exit_code, first.queued) == ("failed", 1, 0)
        assert "GitLab unavailable" in (first.error or "") and TOKEN not in (first.error or "")
        assert sqlite_store.watermark("drift") is None
    gitlab.faults.clear()
    second = _run(gitlab, hook, sqlite_store, 15, TOKEN, sleeps)
    assert second.status == "ok", second.error
    assert len(hook.requests) == 1  # the drift alert, exactly once
    assert "login-bot" in hook.requests[0].json["blocks"][0]["text"]["text"]
    if "Retry-After" in name:
        assert sleeps == [3.0, 3.0]
