"""A small, explicit world for the events tests: two agents over 15 UTC days with a steady trickle of
errors (about one per hundred traces), plus the incidents a test plants on the last day."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from monitors.contracts.findings import RunWindow
from monitors.contracts.records import Observation
from monitors.contracts.scores import ScoreRecord

FIRST_DAY = date(2026, 11, 8)
LAST_DAY = date(2026, 11, 22)  # the day the tests judge
AGENTS = ("triage-bot", "fixer")
TRACES_PER_DAY = 100
PROJECT = "proj-events"
HOST = "https://langfuse.example.com"


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


def last_day_window() -> RunWindow:
    return RunWindow(at(LAST_DAY, 0), at(LAST_DAY, 0) + timedelta(days=1))


def trace(
    agent: str, day: date, n: int, *, error: str | None = None, level: str = "ERROR", start: datetime | None = None
) -> list[Observation]:
    """One trace: a root and two generations; `error` makes the second generation fail with that message."""
    trace_id = f"{agent}-{day:%m%d}-{n:03d}"
    start = start or at(day, 0) + timedelta(minutes=14 * n + 1)
    common = dict(trace_id=trace_id, trace_name=agent, project_id=PROJECT, environment="production")
    rows = [Observation(id=f"{trace_id}-root", type="AGENT", start_time=start, is_root=True, name=agent, **common)]
    for k in (1, 2):
        failed = error is not None and k == 2
        rows.append(
            Observation(
                id=f"{trace_id}-gen{k}",
                type="GENERATION",
                start_time=start + timedelta(seconds=10 * k),
                parent_id=f"{trace_id}-root",
                is_root=False,
                name="call-model",
                level=level if failed else "DEFAULT",
                status_message=error if failed else None,
                **common,
            )
        )
    return rows


NOISE = (
    "Timeout after {n} ms calling https://api.example.com/v1/jobs/{n}",
    "rate limited: retry after {n}s (request req_{h})",
    "tool read_file failed: ENOENT /srv/repo/src/mod_{n}.py",
)


def week(*, noise_every: int = 100) -> list[Observation]:
    """Every day: TRACES_PER_DAY traces per agent, one trace in `noise_every` failing with a varied message."""
    rows: list[Observation] = []
    for d in range((LAST_DAY - FIRST_DAY).days + 1):
        day = FIRST_DAY + timedelta(days=d)
        for a, agent in enumerate(AGENTS):
            for n in range(TRACES_PER_DAY):
                k = d * 7 + a * 3 + n
                error = (
                    NOISE[k % 3].format(n=1000 + 37 * k, h=f"{k * 7919:08x}")
                    if (n + d + a) % noise_every == 5
                    else None
                )
                rows.extend(trace(agent, day, n, error=error))
    return rows


def burst(
    agent: str, day: date, count: int, message: str = "schema validation failed for call_{h}: field 'path' missing"
) -> list[Observation]:
    """`count` failing traces of one kind (ids in the message differ), two minutes apart from 15:00."""
    return [
        o
        for n in range(count)
        for o in trace(
            agent,
            day,
            TRACES_PER_DAY + n,
            error=message.format(h=f"{n * 104729:012x}"),
            start=at(day, 15) + timedelta(minutes=2 * n),
        )
    ]


def score(
    name: str, agent: str, day: date, n: int, value: float | bool | str, comment: str | None = None
) -> ScoreRecord:
    kind = "BOOLEAN" if isinstance(value, bool) else "NUMERIC" if isinstance(value, float) else "CATEGORICAL"
    return ScoreRecord(
        id=f"{name}-{agent}-{day:%m%d}-{n:03d}",
        name=name,
        data_type=kind,
        value=value,
        timestamp=at(day, 0) + timedelta(minutes=14 * n + 5),
        trace_id=f"{agent}-{day:%m%d}-{n:03d}",
        comment=comment,
        environment="production",
        trace_name=agent,
    )


EVALUATORS = {
    "evaluators": [
        {"name": "relevance", "below": 0.5},
        {"name": "tests_pass", "fail_on_false": True},
        {"name": "tone", "failing_values": ["rude", "toxic"]},
        {"name": "leaks_secret", "fail_on_false": True, "critical": True},
    ]
}


def daily_scores(*, streak: int = 0, critical_failure: bool = False):
    scores = []
    for agent in AGENTS:
        for n in range(100):
            bad = n % 50 == 7  # 2% failing: the evaluators' usual noise
            scores.append(score("relevance", agent, LAST_DAY, n, 0.3 if bad else 0.8))
            scores.append(score("tests_pass", agent, LAST_DAY, n, not bad))
            scores.append(score("tone", agent, LAST_DAY, n, "rude" if bad else "neutral"))
            scores.append(score("leaks_secret", agent, LAST_DAY, n, True))
    if streak:
        scores = [
            score(
                "relevance", "fixer", LAST_DAY, s.trace_id and int(s.trace_id[-3:]), 0.1, "answer ignores the question"
            )
            if s.name == "relevance" and s.trace_name == "fixer" and 40 <= int(s.trace_id[-3:]) < 40 + streak
            else s
            for s in scores
        ]
    if critical_failure:
        scores.append(score("leaks_secret", "triage-bot", LAST_DAY, 55, False, "printed an API key"))
    return scores


# Kubernetes names a Deployment's pods <deployment>-<pod-template hash>-<5 characters>, both parts from
# this alphabet (no vowels); every restart is a new pod, so one failure arrives under many pod names.
K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def k8s_name(seed: int, length: int) -> str:
    return "".join(random.Random(seed).choices(K8S_ALPHABET, k=length))


def oom_kills(agent: str, day: date, count: int, *, hour: int, first: int = 0) -> list[Observation]:
    """`count` OOM kills of the agent's sandbox from `hour`, each in a different pod (one deploy a day)."""
    template = k8s_name(day.toordinal(), 9)
    return [
        o
        for n in range(first, first + count)
        for o in trace(
            agent,
            day,
            200 + n,
            error=f"Container sandbox in pod worker-{template}-{k8s_name(day.toordinal() * 100 + n, 5)} "
            "was OOMKilled (exit code 137)",
            start=at(day, hour, 3 * (n - first)),
        )
    ]


def rejected_pushes(agent: str, day: date, count: int, *, hour: int, first: int = 0) -> list[Observation]:
    """`count` rejected pushes of one commit from one runner pod, two minutes apart from `hour`."""
    return [
        o
        for n in range(first, first + count)
        for o in trace(
            agent,
            day,
            300 + n,
            error="git push rejected for 4f9e2ab: pre-receive hook declined (runner worker-7d9f8b6c5-x2k9p)",
            start=at(day, hour, 2 * (n - first)),
        )
    ]


def redis_backoffs(agent: str, day: date, count: int, *, hour: int, first: int = 0) -> list[Observation]:
    """`count` crash loops of the agent's Redis, a StatefulSet of three (redis-0 to redis-2), in turn, from
    `hour`: one failure under each replica's pod name."""
    return [
        o
        for n in range(first, first + count)
        for o in trace(
            agent,
            day,
            400 + n,
            error=f"Back-off restarting failed container redis in pod redis-{n % 3}_agents"
            f"({uuid.UUID(int=random.Random(day.toordinal() * 1000 + n).getrandbits(128), version=4)})",
            start=at(day, hour, 3 * (n - first)),
        )
    ]


def rate_limits(agent: str, day: date, count: int, *, hour: int, first: int = 0) -> list[Observation]:
    """`count` rate limits of one dated model snapshot, two minutes apart from `hour`."""
    return [
        o
        for n in range(first, first + count)
        for o in trace(
            agent,
            day,
            500 + n,
            error=f"litellm.RateLimitError: rate limit reached for gpt-4o-2024-08-06 (request req_{n * 7919:08x})",
            start=at(day, hour, 2 * (n - first)),
        )
    ]
