"""The events monitor end to end through the fake Langfuse: the real source (v2 and legacy reads), the
real pipeline with its store, dedupe and outbox. Hourly runs over a day with normal noise, one error
burst and one evaluator streak: each incident alerts once, the noise never, and a run's requests do not
grow with the day's traffic.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from monitors.contracts.scores import score_to_row
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.langfuse import LangfuseSource
from monitors.store.store import Store
from monitors.support.retry import RetryPolicy
from tests.events.data import EVALUATORS, LAST_DAY, PROJECT, at, burst, daily_scores, week
from tests.fakes.langfuse_server import FakeLangfuse
from tests.fakes.scripted_monitor import RecordingNotifier

DELAY = timedelta(minutes=15)


def settings():
    raw = {
        "channels": {"ops": {"kind": "stdout"}},
        "default_route": {"channels": ["ops"], "min_severity": "warning"},
        "monitors": {"events": EVALUATORS},
    }
    return settings_from_dict(raw, env={})


def run_day(fake: FakeLangfuse, store: Store, hours: range) -> tuple[RecordingNotifier, list]:
    """One run per `hours.step` hours, each from the previous watermark, as a schedule would."""
    notifier = RecordingNotifier()
    summaries = []
    for hour in hours:
        source = LangfuseSource(fake.url, fake.public_key, fake.secret_key, retry=RetryPolicy(attempts=1))
        deps = RunDeps(source, store, {"ops": notifier})
        end = at(LAST_DAY, 0) + timedelta(hours=hour + hours.step)
        since = at(LAST_DAY, 0) if hour == hours.start else None
        summaries.append(run_once("events", settings(), deps, now=end + DELAY, since=since))
        source.close()
    return notifier, summaries


@pytest.fixture
def world() -> list:
    return week() + burst("fixer", LAST_DAY, 12)


@pytest.mark.parametrize("legacy", [False, True], ids=["v2", "legacy"])
def test_the_burst_and_the_streak_alert_once_each_and_the_noise_never(world, sqlite_store: Store, legacy: bool) -> None:
    scores = [score_to_row(s) for s in daily_scores(streak=40)]
    with FakeLangfuse(world, served_scores=scores, legacy_only=legacy, project_id=PROJECT) as fake:
        notifier, summaries = run_day(fake, sqlite_store, range(0, 24, 3))
        traces = f"{fake.url}/project/{fake.project_id}/traces"
    assert all(s.status == "ok" for s in summaries), [s.error for s in summaries if s.error]
    assert [(s.window.end.hour, s.queued) for s in summaries if s.queued] == [(15, 1), (18, 1)]
    # The streak (fixer's relevance scores 40..79, from 09:25) passes 25% failing in the run ending at
    # 15:00 (25 of 64); the burst (15:00..15:22) reaches five errors in the run ending at 18:00.
    # Each alert is sent mid-day, so it says when its counts were taken.
    assert [m.title for m in notifier.messages] == [
        "relevance: 39.1% of fixer's scores fail on 2026-11-22 so far (as of 15:00 UTC)",
        "12 errors of one kind from fixer on 2026-11-22 so far (as of 18:00 UTC)",
    ]
    burst_alert = next(m for m in notifier.messages if "errors of one kind" in m.title)
    links = [link.url for link in burst_alert.links]
    assert links == [f"{traces}/fixer-1122-{n:03d}" for n in (100, 101, 102)]
    # Later runs saw the same findings and held them: dedupe works unchanged.
    assert sum(s.suppressed for s in summaries) > 0


def test_requests_per_run_do_not_grow_with_traffic(sqlite_store: Store, tmp_path) -> None:
    """The same hours at 1x and 3x traffic (same incidents): identical request counts."""
    per_volume = []
    for copies in (1, 3):
        rows = [o for k in range(copies) for o in _copy(week(), k)] + burst("fixer", LAST_DAY, 12)
        scores = [score_to_row(s) for k in range(copies) for s in _copy_scores(daily_scores(streak=40), k)]
        store = Store.open(f"sqlite:///{tmp_path / f'state-{copies}.db'}")
        with FakeLangfuse(rows, served_scores=scores) as fake:
            _, summaries = run_day(fake, store, range(12, 18, 2))
            per_volume.append([s.requests for s in summaries])
            endpoints = Counter(r.path for r in fake.requests)
        store.close()
    assert per_volume[0] == per_volume[1], per_volume
    # Per run: 1 observations page (errors only), 1 Metrics request (observations per agent), 4 Scores v3
    # pages (one per evaluator, failing scores only), 2 Metrics requests (numeric and categorical score
    # views), and when there are failing scores or alerts, 1 trace-name lookup and 1 project lookup.
    assert max(per_volume[0]) <= 10, per_volume
    assert endpoints["/api/public/v3/scores"] >= 4


def _copy(rows, k: int):
    from dataclasses import replace

    if k == 0:
        return rows
    return [
        replace(o, id=f"{o.id}~{k}", trace_id=f"{o.trace_id}~{k}", parent_id=o.parent_id and f"{o.parent_id}~{k}")
        for o in rows
    ]


def _copy_scores(scores, k: int):
    from dataclasses import replace

    if k == 0:
        return scores
    return [replace(s, id=f"{s.id}~{k}", trace_id=f"{s.trace_id}~{k}") for s in scores]
