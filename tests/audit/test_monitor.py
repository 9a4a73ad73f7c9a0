"""The audit monitor end to end: real trajectories through ReplaySource, config, state, extreme input."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from monitors.audit.monitor import HISTORY_KEY, ToolSequenceConfig, ToolSequenceMonitor
from monitors.contracts.findings import RunWindow, Severity
from monitors.contracts.monitor import MemoryState, RunContext
from monitors.contracts.records import Observation
from monitors.sources.replay import ReplaySource
from monitors.sources.trajectories import convert_file
from tests.audit.helpers import T0, TRAJECTORIES, session_observations

WINDOW = RunWindow(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def run(observations, config=None, state=None, host="https://langfuse.example"):
    source = ReplaySource.from_observations(observations, host=host, project_id="proj")
    ctx = RunContext(window=WINDOW, now=NOW, source=source, state=state or MemoryState())
    findings = list(ToolSequenceMonitor(ToolSequenceConfig.model_validate(config or {})).run(ctx))
    return findings, ctx


@pytest.fixture(scope="module")
def real():
    return run(list(convert_file(TRAJECTORIES)))


def test_counts_over_the_real_trajectories(real):
    findings, ctx = real
    assert ctx.counters["audit.sessions_audited"] == 326 - 92  # 92 have fewer than 5 tool calls
    # Of those, the ones that reply to the user are still read by the conversation checks.
    short = ctx.counters["audit.sessions_audited_talk_only"], ctx.counters["audit.sessions_skipped_short"]
    assert sum(short) == 92 and short[0] > 0 and short[1] > 0
    kinds = Counter(f.kind for f in findings)
    assert kinds["repeat"] >= 10 and kinds["loop"] >= 1
    assert len({f.fingerprint for f in findings}) == len(findings)


def test_known_repeat_is_found_with_its_evidence(real):
    findings, _ = real
    (eps,) = [f for f in findings if f.dedupe_key == "swe-agent/demonstrations/ctf/crypto/eps:repeat"]
    assert eps.severity is Severity.INFO
    assert eps.evidence["steps"] == [11, 12, 13] and eps.evidence["wasted_steps"] == 3
    assert eps.evidence["seconds"] is None  # synthetic times are not reported as seconds
    assert eps.evidence["tokens"] > 0 and eps.evidence["usd"] > 0
    assert dict(eps.fields)["Calls"].startswith("#11 submit(flag{")
    assert eps.links[0].url.startswith("https://langfuse.example/project/proj/traces/")


def test_loops_alert_and_the_rest_is_info(real):
    # These sessions are over: conversation loops in them are report material, not pages; a claim
    # of work no call did would page (none of these sessions has one).
    findings, _ = real
    for f in findings:
        assert (f.severity > Severity.INFO) == (f.kind in ("loop", "runaway", "claimed_not_done")), f.dedupe_key
        assert f.rank == int(f.severity)


def test_alert_set_is_configurable():
    obs = session_observations("s", ["a", "b", "c", "d", "e"])
    obs += [replace(o, id=o.id + "x", start_time=o.start_time + timedelta(minutes=1)) for o in obs if o.name == "a"]
    findings, _ = run(obs)
    assert [(f.kind, f.severity) for f in findings] == [("repeat", Severity.INFO)]
    findings, _ = run(obs, {"alert_checks": ["repeat"]})
    assert [(f.kind, f.severity) for f in findings] == [("repeat", Severity.WARNING)]
    findings, _ = run(obs, {"repeat": {"enabled": False}})
    assert findings == []


def test_short_sessions_are_skipped_and_counted():
    findings, ctx = run(session_observations("s", ["a", "a", "a"]), {"min_tool_calls": 5})
    assert findings == [] and ctx.counters["audit.sessions_skipped_short"] == 1


def test_interleaved_newest_first_sessions_are_audited_separately():
    loop = ["open", "search", "open", "search", "open", "search"]
    a = session_observations("a", loop)
    a = [replace(o, input={"q": o.name}, output="same") if o.type == "TOOL" else o for o in a]
    b = session_observations("b", ["l1", "l2", "l3", "l4", "l5", "l6"], start=T0 + timedelta(seconds=3))
    stream = sorted(a + b, key=lambda o: o.start_time, reverse=True)
    findings, ctx = run(stream)
    assert [(f.dedupe_key, f.evidence["steps"]) for f in findings] == [("a:loop", [3, 4, 5, 6])]
    assert ctx.counters["audit.sessions_audited"] == 2


def test_runaway_against_the_agents_usual_count():
    state = MemoryState({HISTORY_KEY: {"bot": [6] * 10}})
    names = [f"t{i}" for i in range(30)]
    findings, _ = run(session_observations("big", names), state=state)
    (runaway,) = findings
    assert runaway.kind == "runaway" and runaway.severity is Severity.CRITICAL  # 24 wasted >= 10
    assert runaway.evidence["steps"][0] == 7
    assert state.dirty[HISTORY_KEY]["bot"][-1][1] == 30
    findings, _ = run(session_observations("big", names), state=MemoryState())  # no history: no verdict
    assert findings == []


def test_ten_thousand_calls_do_not_crash():
    names = [f"tool{i % 7}" for i in range(10_000)]
    findings, _ = run(session_observations("huge", names, gap=1.0))
    (runaway,) = [f for f in findings if f.kind == "runaway"]
    assert runaway.severity is Severity.CRITICAL and runaway.evidence["wasted_steps"] == 9_900
    assert len(dict(runaway.fields)["Wasted steps"]) < 200  # the step list is cut for the alert


def test_malformed_and_odd_observations_are_survived():
    base = session_observations("s", ["a", "b", "c", "d", "e"])
    odd = [
        replace(base[1], name=None, input=None, output=None),
        replace(base[3], input={"nested": [{"deep": {"x": [1, 2, None]}}]}, output=12345),
        replace(base[5], input="x" * 100_000, level="ERROR", metadata={"args_sha1": ["not", "a", "str"]}),
        replace(base[7], metadata={"plan": {"not": "a list"}}),
        replace(base[8], usage={}, total_cost=0.0),
        Observation(id="lonely", trace_id="t2", type="TOOL", start_time=T0),
    ]
    findings, ctx = run(base[:1] + odd + base[9:])
    assert ctx.counters["audit.sessions_audited"] == 1
    assert all(len(f.summary) < 2000 for f in findings)


def test_plan_divergence_is_reported_and_scored():
    obs = session_observations("p", ["read_file", "delete_file", "deploy", "deploy2", "deploy3"])
    plan = [{"name": "read_file"}, {"name": "edit_file"}, {"name": "run_tests"}]
    obs = [replace(o, metadata={**o.metadata, "plan": plan}) for o in obs]
    findings, ctx = run(obs)
    (finding,) = [f for f in findings if f.kind == "plan"]
    assert finding.evidence["score"] == pytest.approx(0.75 * 2 / 3 + 0.25 * 4 / 5)
    assert finding.evidence["missed"] == 2 and finding.severity is Severity.INFO
    (score,) = ctx.scores
    assert (score.trace_id, score.name, score.value) == ("trace-p", "audit_plan_divergence", finding.evidence["score"])
    _, again = run(obs)
    assert again.scores[0].id == score.id  # deterministic: a rerun overwrites


def test_prose_plans_are_skipped_unless_enabled():
    obs = session_observations("p", ["read_file", "a", "b", "c", "d"])
    prose = "I will read the config file, then fix the timeout value."
    obs = [replace(o, metadata={**o.metadata, "plan": prose}) for o in obs]
    _, ctx = run(obs)
    assert ctx.counters["audit.plans_prose_skipped"] == 1 and ctx.scores == []
    _, ctx = run(obs, {"plan": {"free_text": True}})
    assert len(ctx.scores) == 1


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"alert_checks": ["loops"]}, ("alert_checks",)),
        ({"repeat": {"window": "soon"}}, ("repeat", "window")),
        ({"backtrack": {"operations": {"trash": "destroy"}}}, ("backtrack", "operations")),
        ({"loop": {"min_cycles": 1}}, ("loop", "min_cycles")),
        ({"surprise": 1}, ("surprise",)),
    ],
)
def test_bad_config_is_rejected_with_its_path(config, path):
    with pytest.raises(ValidationError) as info:
        ToolSequenceConfig.model_validate(config)
    assert info.value.errors()[0]["loc"][: len(path)] == path


def test_durations_parse():
    assert ToolSequenceConfig.model_validate({"repeat": {"window": "90s"}}).repeat.window == timedelta(seconds=90)


def test_a_session_across_the_window_start_is_audited_whole_in_the_next_run():
    # A B C | A B C with the same arguments each time: a loop only when both halves are read together.
    # Ten minutes apart from 23:30, so the daily window boundary at midnight cuts it in two.
    midnight = datetime(2026, 1, 2, tzinfo=UTC)
    calls = session_observations(
        "night", ["run_tests", "search_code", "get_pipeline_logs"] * 2, start=midnight - timedelta(minutes=30), gap=600
    )
    calls = [replace(o, input={"path": "app.py"}, output="same") if o.type == "TOOL" else o for o in calls]
    earlier = session_observations("evening", ["list_dir", "read_file"] * 3, start=midnight - timedelta(hours=3))
    source = ReplaySource.from_observations(calls + earlier, host="https://langfuse.example", project_id="proj")
    state, monitor = MemoryState(), ToolSequenceMonitor(ToolSequenceConfig())

    def audit(start: datetime) -> tuple[list, RunContext]:
        ctx = RunContext(window=RunWindow(start, start + timedelta(days=1)), now=NOW, source=source, state=state)
        return list(monitor.run(ctx)), ctx

    first, ctx1 = audit(midnight - timedelta(days=1))  # sees 3 calls of "night": too short to audit
    assert [f for f in first if "night" in f.dedupe_key] == []
    second, ctx2 = audit(midnight)
    assert [f.kind for f in second if f.dedupe_key.startswith("night:")] == ["loop"]
    # "evening" ended before midnight: the first run audited it, the second leaves it alone.
    assert ctx1.counters["audit.sessions_audited"] == 1 and ctx2.counters["audit.sessions_audited"] == 1


def _chat(session, replies, *, start, actions=()):
    """TOOL observations: the given actions, then `respond` turns with these texts, 30 s apart."""
    out = []
    turns = [(name, args, "{}") for name, args in actions] + [("respond", {"content": r}, "ok") for r in replies]
    for i, (name, args, output) in enumerate(turns):
        when = start + timedelta(seconds=30 * i)
        out.append(
            Observation(
                id=f"{session}-{i}", trace_id=f"t-{session}", type="TOOL", start_time=when,
                end_time=when + timedelta(seconds=1), name=name, session_id=session, trace_name="support-bot",
                metadata={"feature": "support-bot"}, input=args, output=output,
            )
        )  # fmt: skip
    return out


ASKS = [
    "Could you please provide your user ID and the reservation ID?",
    "I need the reservation ID to access and modify your reservation.",
    "To proceed, I need the reservation ID. Please check your email for the reservation ID.",
    "You're welcome! Feel free to reach out whenever you have the reservation ID. Have a great day!",
    "You're welcome! If you need anything else, feel free to reach out. Have a great day!",
]


@pytest.mark.parametrize(
    ("ends_before_window_end", "severity"),
    [(timedelta(minutes=2), Severity.WARNING), (timedelta(hours=3), Severity.INFO)],
    ids=["still running: sent now", "over: weekly report"],
)
def test_conversation_loop_pages_only_while_running(ends_before_window_end, severity):
    start = WINDOW.end - ends_before_window_end - timedelta(seconds=30 * len(ASKS))
    findings, _ = run(_chat("chat", ASKS, start=start))
    (loop,) = [f for f in findings if f.kind == "conversation_loop"]
    assert loop.severity is severity
    assert loop.evidence["wasted_steps"] == 2 and '"To proceed, I need the reservation ID.' in loop.summary


@pytest.mark.parametrize(
    ("ends_before_window_end", "severity"),
    [(timedelta(hours=3), Severity.WARNING), (timedelta(minutes=2), Severity.INFO)],
    ids=["session over: sent now", "still running: it may still do it"],
)
def test_claimed_not_done_pages_once_the_session_ended(ends_before_window_end, severity):
    replies = ["Let me look.", "Your reservation has been successfully cancelled.", "Anything else?", "Bye!"]
    start = WINDOW.end - ends_before_window_end - timedelta(minutes=3)
    lookup = ("get_reservation_details", {"reservation_id": "3RK2T9"})
    findings, _ = run(_chat("claim", replies, start=start, actions=[lookup]))
    (claim,) = [f for f in findings if f.kind == "claimed_not_done"]
    assert claim.severity is severity
    assert claim.evidence["steps"] == [3] and "has been successfully cancelled" in claim.summary


def test_monologue_without_tool_calls_is_audited():
    texts = ["I will check the config file for the timeout."] * 2 + ["I will check the config file timeout now."] * 2
    gens = [
        Observation(
            id=f"m{i}", trace_id="t-m", type="GENERATION", start_time=T0 + timedelta(seconds=i), session_id="mono",
            trace_name="bot", metadata={"feature": "bot"}, output=text, usage={"total": 200}, total_cost=0.01,
        )
        for i, text in enumerate(texts)
    ]  # fmt: skip
    findings, _ = run(gens)
    (mono,) = findings
    assert mono.kind == "monologue" and mono.evidence["wasted_steps"] == 3
    assert mono.evidence["tokens"] == 600 and mono.evidence["usd"] == pytest.approx(0.03)


def test_short_sessions_are_still_read_for_conversation_loops():
    # Four replies and no tool call: under min_tool_calls (5), yet a loop in what the agent says.
    asks = [ASKS[1], ASKS[2], ASKS[1], ASKS[2]]
    findings, ctx = run(_chat("chat", asks, start=WINDOW.end - timedelta(hours=3)))
    assert [f.kind for f in findings] == ["conversation_loop"]
    assert ctx.counters["audit.sessions_audited_talk_only"] == 1 and "audit.sessions_audited" not in ctx.counters


def test_short_sessions_get_no_call_checks():
    # The same lookup three times and one reply: too few calls to judge the calls, so no repeat.
    lookup = ("get_reservation_details", {"reservation_id": "3RK2T9"})
    findings, ctx = run(_chat("s", ["Your reservation is a basic economy one."], start=T0, actions=[lookup] * 3))
    assert findings == [] and ctx.counters["audit.sessions_audited_talk_only"] == 1
    # With no reply at all there is nothing to read: skipped, as before.
    findings, ctx = run(_chat("s", [], start=T0, actions=[lookup] * 3))
    assert findings == [] and ctx.counters["audit.sessions_skipped_short"] == 1
