"""Goal-drift through the real pipeline: the fake Langfuse (v2 API via LangfuseSource), the fake GitLab
through python-gitlab, the SQLite store and a recording notifier. Two runs over the same window: one
alert in total, and each trace's score written back once (the second run overwrites by id).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import pytest

from monitors.drift.monitor import GoalDriftConfig, GoalDriftMonitor, score_id
from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.gitlab import GitLabSource
from monitors.sources.langfuse import LangfuseSource
from monitors.store.store import Store
from monitors.support.retry import RetryPolicy
from tests.fakes.gitlab_server import FakeGitLab, running
from tests.fakes.langfuse_server import FakeLangfuse
from tests.fakes.scripted_monitor import RecordingNotifier
from tests.test_goal_drift import TOKEN, WINDOW, TopicEmbedder, all_traces, gitlab_state


class TopicDriftMonitor(GoalDriftMonitor):
    """The real monitor with the hand-made embedder (the pipeline builds monitors from config only)."""

    def __init__(self, config: GoalDriftConfig) -> None:
        super().__init__(config, embedder=TopicEmbedder())


@pytest.fixture(autouse=True)
def _topic_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "drift", "tests.test_goal_drift_e2e:TopicDriftMonitor")


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with running(gitlab_state()) as server:
        yield server


def test_pipeline_alerts_once_and_writes_each_score_once(
    sqlite_store: Store, gitlab: FakeGitLab, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_from_dict(
        {
            "channels": {"ops": {"kind": "stdout"}},
            "default_route": {"channels": ["ops"], "min_severity": "warning"},
            "monitors": {"drift": {"did_text": "final_commit"}},
        },
        env={},
    )
    notifier = RecordingNotifier()
    no_wait = RetryPolicy(attempts=2, sleep=lambda s: None, rng=random.Random(0))
    with FakeLangfuse(all_traces()) as lf:
        source = LangfuseSource(lf.url, lf.public_key, lf.secret_key, retry=no_wait)

        def factory() -> GitLabSource:
            return GitLabSource(gitlab.url, TOKEN, retry=no_wait)

        deps = RunDeps(source, sqlite_store, {"ops": notifier}, gitlab_factory=factory)
        runs = [
            run_once("drift", settings, deps, now=WINDOW.end + timedelta(hours=h), since=WINDOW.start, until=WINDOW.end)
            for h in (1, 2)
        ]
        scores = dict(lf.scores)
        v2_reads = lf.requests_to("/api/public/v2/observations")
    assert [r.status for r in runs] == ["ok", "ok"], [r.error for r in runs]
    assert len(notifier.messages) == 1
    assert notifier.messages[0].title.startswith("Goal drift: login-bot on group/app!20 (score -")
    score_field = dict(notifier.messages[0].fields)["Score"]
    # The score explains itself: what it is, and the two parts it is made of.
    assert "log-odds that the change request does what was asked, from its final commit (csls " in score_field
    assert (runs[0].queued, runs[1].queued, runs[1].suppressed) == (1, 0, runs[1].findings)
    assert set(scores) == {score_id(t, "goal_drift_similarity") for t in ("t-good", "t-drift")}
    assert {s["traceId"] for s in scores.values()} == {"t-good", "t-drift"}
    assert all(s["name"] == "goal_drift_similarity" for s in scores.values())
    assert runs[0].counters["unverifiable"] == 6 and runs[0].counters["gitlab_requests"] > 0
    # Both reads filter on a metadata key server-side, and expand the objective.
    assert all(r.param("expandMetadata") == "objective" for r in v2_reads)
    assert TOKEN not in caplog.text and lf.secret_key not in caplog.text
