"""Malformed and extreme input (hypothesis): rows off the wire, odd-but-valid records fed to every
monitor, findings with arbitrary text fed to every renderer, and a session of 10,000 tool calls.

Rows that cannot be records raise MalformedRecord only (sources count and skip them); records that
parse, however odd (negative costs, nulls, huge or hostile strings, times out of order), never crash
a monitor; every alert renders to a bounded, JSON-serialisable, harmless payload.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitors.audit.monitor import ToolSequenceConfig, ToolSequenceMonitor
from monitors.contracts.findings import Finding, Link, RunWindow, Severity
from monitors.contracts.monitor import MemoryState, RunContext
from monitors.contracts.records import MalformedRecord, Observation, parse_observation
from monitors.cost.monitor import CostConfig, CostSpikeMonitor
from monitors.drift.monitor import GoalDriftConfig, GoalDriftMonitor
from monitors.engine.render import message_for
from monitors.events.config import EventsConfig
from monitors.events.monitor import EventsMonitor
from monitors.notifiers.mattermost import MattermostNotifier
from monitors.notifiers.slack import SlackNotifier
from monitors.notifiers.stdout import StdoutNotifier
from monitors.sources.gitlab import OfflineGitLab
from monitors.sources.replay import ReplaySource
from tests.reliability.harness import HOSTILE, LANGFUSE_HOST, NOW, harm_in, tool_session
from tests.test_goal_drift import TopicEmbedder

WINDOW = RunWindow(NOW - timedelta(days=2), NOW)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- rows off the wire ------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**400, -(10**400), 2**63]),  # beyond float and int64
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "yesterday", "2026-13-45T99:00:00Z", "2026-03-12T09:00:00Z", "1e999", "NaN", *HOSTILE]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
FIELDS = ["id", "traceId", "type", "startTime", "endTime", "name", "sessionId", "traceName", "userId", "tags",
          "model", "usageDetails", "costDetails", "totalCost", "metadata", "input", "output", "level",
          "isRootObservation", "projectId", "parentObservationId"]  # fmt: skip
rows = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=len(FIELDS)) | json_values


BASE = {"id": "o", "traceId": "t", "type": "TOOL", "startTime": "2026-03-12T09:00:00Z"}


@FAST
@given(rows)
@example({**BASE, "totalCost": 10**400})  # past float range: was an OverflowError
@example({**BASE, "costDetails": {"total": 10**400}})
@example({**BASE, "usageDetails": {"input": math.inf}})  # JSON's Infinity: was an OverflowError
@example({**BASE, "startTime": "9999-12-31T23:59:59-05:00"})  # past year 9999 in UTC: was an OverflowError
@example({**BASE, "totalCost": -1})
@example({**BASE, "tags": "not-a-list"})
def test_a_row_becomes_a_record_or_malformed_never_anything_else(row: Any) -> None:
    try:
        obs = parse_observation(row)
    except MalformedRecord:
        return
    assert isinstance(obs, Observation) and math.isfinite(obs.total_cost) and obs.total_cost >= 0


@FAST
@given(st.lists(st.one_of(rows.map(lambda r: json.dumps(r, default=str)), st.text(max_size=30)), max_size=12))
def test_replay_file_counts_every_bad_line(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> None:
    good = [tool_session("s", [("t", {})])[0]]
    path = tmp_path_factory.mktemp("replay") / "rows.jsonl"
    from monitors.contracts.records import observation_to_row

    body = [json.dumps(observation_to_row(good[0])), *(line.replace("\n", " ").replace("\r", " ") for line in lines)]
    path.write_text("\n".join(body) + "\n")
    source = ReplaySource(path)
    read = list(source.observations(_everything()))
    non_blank = [line for line in body if line.strip()]
    assert len(read) + source.stats.malformed == len(non_blank)
    assert read[0].id == good[0].id


def _everything() -> Any:
    from monitors.contracts.source import ObservationQuery

    return ObservationQuery(window=RunWindow(datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)))


# --- odd but valid records through every monitor ----------------------------------------------------

texts = st.one_of(st.text(max_size=30), st.sampled_from(HOSTILE), st.just("x" * 100_000), st.none())
meta_values = st.one_of(texts, st.integers(), st.floats(allow_nan=False), st.lists(st.integers(), max_size=3),
                        st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2))  # fmt: skip


@st.composite
def observations(draw: st.DrawFn) -> Observation:
    start = NOW - timedelta(seconds=draw(st.integers(min_value=-3600, max_value=3 * 86400)))
    end = draw(st.one_of(st.none(), st.just(start - timedelta(hours=1)), st.just(start + timedelta(seconds=5))))
    return Observation(
        id=draw(st.text(min_size=1, max_size=8)),
        trace_id=draw(st.sampled_from(["t1", "t2", "t@here", "t" * 300])),
        type=draw(st.sampled_from(["TOOL", "GENERATION", "SPAN", "EVENT", "weird"])),
        start_time=start,
        end_time=end,
        project_id=draw(st.sampled_from([None, "proj-1"])),
        name=draw(texts),
        level=draw(st.sampled_from(["DEFAULT", "ERROR", "WARNING", ""])),
        session_id=draw(st.sampled_from([None, "s1", "s2", "<!channel>"])),
        trace_name=draw(texts),
        user_id=draw(texts),
        model=draw(texts),
        total_cost=draw(st.floats(min_value=-5, max_value=1e6, allow_nan=False)),
        usage=draw(st.dictionaries(st.sampled_from(["input", "output", "total"]), st.integers(-10, 10**9), max_size=3)),
        metadata=draw(
            st.dictionaries(st.sampled_from(["feature", "objective", "mr_iid", "repo", "plan"]), meta_values)
        ),
        input=draw(st.one_of(texts, st.dictionaries(st.text(max_size=5), texts, max_size=3))),
        output=draw(texts),
    )


def _ctx(batch: list[Observation], gitlab: OfflineGitLab | None = None) -> RunContext:
    source = ReplaySource.from_observations(batch, host=LANGFUSE_HOST, project_id="proj-1")
    return RunContext(window=WINDOW, now=NOW, source=source, state=MemoryState(), gitlab_factory=lambda: gitlab)


def _render_all(findings: list[Finding]) -> None:
    for finding in findings:
        assert isinstance(finding, Finding)
        _check_rendering(finding)


GITLAB = OfflineGitLab(data={"projects": {"group/app": {"merge_requests": {"20": {
    "title": "<!channel>", "description": "", "web_url": "https://gitlab.example.com/g/a/-/merge_requests/20",
    "state": "merged", "commits": [{"id": "c1", "title": "@here", "message": HOSTILE[2],
                                    "committed_date": "2026-03-12T06:00:00Z"}]}}}}})  # fmt: skip

MONITORS = {
    "cost": lambda: CostSpikeMonitor(CostConfig(budgets=[{"name": "all", "daily_cap": 1},
                                                         {"name": "agents", "daily_cap": 1, "scope": "agent",
                                                          "per_value": True}])),
    "audit": lambda: ToolSequenceMonitor(ToolSequenceConfig(min_tool_calls=1)),
    "drift": lambda: GoalDriftMonitor(GoalDriftConfig(), embedder=TopicEmbedder()),
    "events": lambda: EventsMonitor(EventsConfig(errors={"min_count": 1, "min_observations": 0,
                                                         "levels": ["ERROR", "WARNING"]})),
}  # fmt: skip


@pytest.mark.parametrize("name", list(MONITORS))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(observations(), max_size=25))
def test_monitors_never_crash_on_odd_records(name: str, batch: list[Observation]) -> None:
    ctx = _ctx(batch, GITLAB)
    findings = list(MONITORS[name]().run(ctx))
    _render_all(findings)


def test_a_session_of_ten_thousand_tool_calls(tmp_path: Path) -> None:
    calls = [(f"tool-{i % 7}", {"step": i}) for i in range(10_000)]
    batch = tool_session("huge", calls, start=NOW - timedelta(hours=4))
    ctx = _ctx(batch)
    findings = list(ToolSequenceMonitor(ToolSequenceConfig()).run(ctx))
    kinds = {f.kind for f in findings}
    assert "runaway" in kinds
    assert ctx.counters["audit.sessions_audited"] == 1
    _render_all(findings)


# --- renderers ---------------------------------------------------------------------------------------

SLACK = SlackNotifier("s", SlackNotifier.Config(webhook_url="https://hooks.slack.com/services/T/B/x"))
STDOUT = StdoutNotifier("t", StdoutNotifier.Config(kind="stdout"))
MATTERMOST = MattermostNotifier("m", MattermostNotifier.Config(webhook_url="https://mm.example.com/hooks/x"))


def _check_rendering(finding: Finding) -> None:
    message = message_for(finding)
    for kind, notifier in (("slack", SLACK), ("mattermost", MATTERMOST)):
        payload = notifier.payload(message)
        body = json.dumps(payload, ensure_ascii=False)
        # Bounded whatever the input: Slack's per-block limits (50 blocks, 10 fields x 2000) allow ~200k.
        assert len(body) < 250_000
        if kind == "mattermost":
            assert len(payload["text"]) <= 16383
        assert harm_in(payload, kind) == [], (kind, harm_in(payload, kind)[:3])
    text = STDOUT.render(message)
    assert "\x1b" not in text and "\x00" not in text and len(text) < 250_000


hostile_text = st.one_of(
    st.text(max_size=200), st.sampled_from(HOSTILE), st.text(alphabet="@<>![]()|*_~`:/\\&\n\x00\u202e", max_size=60)
)


@settings(max_examples=100, deadline=None)
@given(
    title=hostile_text,
    summary=hostile_text,
    fields=st.lists(st.tuples(hostile_text, hostile_text), max_size=30),
    key=hostile_text,
)
def test_any_finding_text_renders_harmless_and_bounded(title: str, summary: str, fields: list, key: str) -> None:
    finding = Finding(
        monitor="audit", dedupe_key=key, severity=Severity.CRITICAL, title=title, summary=summary,
        observed_at=NOW, kind="loop", fields=tuple(fields),
        links=(Link(title or "trace", f"{LANGFUSE_HOST}/project/p/traces/{key}"),),
    )  # fmt: skip
    _check_rendering(finding)


def test_a_huge_hostile_summary_renders_bounded() -> None:
    finding = Finding(
        monitor="audit", dedupe_key="k", severity=Severity.WARNING, title="@here " * 1000,
        summary="<!channel> @here [x](https://evil.example) " * 50_000, observed_at=NOW,
        fields=tuple(("@all", "x" * 100_000) for _ in range(100)),
    )  # fmt: skip
    _check_rendering(finding)
