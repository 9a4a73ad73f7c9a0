"""render.message_for / test_message: the one place findings become messages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from monitors.contracts.findings import Finding, Link, RunWindow, Severity, Status
from monitors.contracts.message import Message
from monitors.engine.render import group_message, message_for, test_message
from monitors.notifiers.mattermost import MattermostNotifier
from monitors.notifiers.slack import SlackNotifier

WHEN = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def finding(**changes) -> Finding:
    base = Finding(
        monitor="audit",
        dedupe_key="session-9:loop",
        severity=Severity.CRITICAL,
        title="Tool-call loop in session-9",
        summary="search_code was called 14 times with the same arguments.",
        observed_at=WHEN,
        kind="loop",
        fields=(("Tool", "search_code"), ("Calls", "14")),
        links=(Link("Session", "https://cloud.langfuse.com/project/p/sessions/session-9"),),
    )
    return replace(base, **changes)


def test_message_carries_the_finding():
    message = message_for(finding())
    assert message.title == "Tool-call loop in session-9"
    assert message.severity is Severity.CRITICAL
    assert message.summary.startswith("search_code was called 14 times")
    assert message.fields[:2] == (("Tool", "search_code"), ("Calls", "14"))
    label, step = message.fields[-1]
    assert label == "Next step" and step.endswith("mute: run-monitor silence audit --key session-9 --for 4h")
    assert message.links == (Link("Session", "https://cloud.langfuse.com/project/p/sessions/session-9"),)


def test_footer_names_monitor_check_key_and_time():
    footer = message_for(finding()).footer
    assert "monitor: audit" in footer and "check: loop" in footer
    assert "key: session-9:loop" in footer and "2026-03-02 14:30 UTC" in footer


def test_footer_time_is_utc_even_for_other_zones():
    local = WHEN.astimezone(timezone(timedelta(hours=2)))
    assert "2026-03-02 14:30 UTC" in message_for(finding(observed_at=local)).footer


def test_window_becomes_a_field():
    window = RunWindow(datetime(2026, 3, 2, 14, 0, tzinfo=UTC), WHEN)
    message = message_for(finding(window=window))
    assert message.fields[-2] == ("Window", "2026-03-02T14:00:00Z..2026-03-02T14:30:00Z")


def test_blank_title_falls_back_to_monitor_and_kind():
    assert message_for(finding(title="   ")).title == "audit loop finding"
    assert message_for(finding(title="", kind="")).title == "audit finding"


def test_message_survives_the_outbox_round_trip():
    message = message_for(finding(window=RunWindow(WHEN - timedelta(hours=1), WHEN)))
    assert Message.from_dict(message.to_dict()) == message


def test_untrusted_text_is_left_plain_for_the_notifiers_to_escape():
    hostile = "<!channel> **x**"
    message = message_for(finding(title=hostile, summary=hostile))
    assert message.title == hostile and message.summary == hostile


def test_test_message_is_harmless():
    message = test_message()
    assert message.severity is Severity.INFO
    assert message.links == () and "no action is needed" in message.summary
    for cls in (SlackNotifier, MattermostNotifier):
        payload = cls("t", cls.Config(webhook_url="https://hooks.example.com/x")).payload(message)
        assert "@" not in str(payload) and "<!" not in str(payload)


def test_drift_next_step_names_the_forges_own_word_for_the_change():
    from monitors.engine.render import next_step

    github = finding(monitor="drift", kind="drift", evidence={"forge": "github", "repo": "o/r", "mr_iid": 5})
    gitlab = finding(monitor="drift", kind="drift", evidence={"forge": "gitlab", "repo": "g/a", "mr_iid": 5})
    assert next_step(github).startswith("review the pull request against its objective")
    assert next_step(gitlab).startswith("review the merge request against its objective")


def test_every_check_has_a_next_step_of_its_own():
    from monitors.engine.render import next_step

    session = {"session": "s-42", "agent": "support-bot"}
    kinds = {
        **dict.fromkeys(
            ["loop", "repeat", "runaway", "backtrack", "error_storm", "soft_failure", "conversation_loop",
             "monologue", "claimed_not_done", "plan"],
            session,
        ),
        "error_burst": {"agent": "fixer", "signature": "Timeout after <n> ms"},
        "error_share": {"agent": "fixer"},
        "failing_scores": {"agent": "fixer", "evaluator": "helpfulness"},
        "critical_score": {"agent": "fixer", "evaluator": "pii-leak"},
    }  # fmt: skip
    for kind, evidence in kinds.items():
        action = next_step(finding(kind=kind, evidence=evidence)).partition("; mute:")[0]
        assert "finding's details" not in action and "?" not in action, (kind, action)
        assert evidence["agent"] in action, (kind, action)


def test_a_drift_alerts_mute_command_mutes_the_change_request_at_every_head():
    from monitors.engine.render import next_step
    from monitors.store.rows import Silence

    head = "acme/sdk#58@59690c414caabaccfe6f59d90019211b4dcb932c"
    drifted = finding(monitor="drift", kind="drift", dedupe_key=head, evidence={"forge": "github"})
    command = next_step(drifted).partition("; mute: ")[2]
    assert command == "run-monitor silence drift --key 'acme/sdk#58' --for 4h"
    # A push after the alert is a new head (a new key); the offered silence still covers it.
    offered = Silence(1, "drift", "acme/sdk#58", WHEN + timedelta(hours=4), None)
    assert offered.covers("drift", "acme/sdk#58@0123456789abcdef") and not offered.covers("drift", "acme/sdk#581@aa")


def test_a_groups_header_says_its_mute_command_mutes_only_the_loudest_part():
    loop = message_for(finding())
    repeat = message_for(finding(dedupe_key="session-9:repeat", severity=Severity.WARNING, kind="repeat"))
    grouped = group_message([repeat, loop], "agent=llm-fix")
    [(label, step)] = grouped.fields
    assert label == "Next step"
    assert "; mute this part: run-monitor silence audit --key session-9 --for 4h (each part below has its own)" in step
    # Each part keeps its own full command; a group of one firing part (here: with a resolved notice) needs no note.
    assert all(any(line.startswith("Next step:") for line in s.lines) for s in grouped.sections)
    ended = message_for(finding(dedupe_key="session-8:loop", status=Status.RESOLVED, title="Resolved: loop"))
    alone = group_message([loop, ended], "agent=llm-fix")
    assert alone.fields[0][1].endswith("mute: run-monitor silence audit --key session-9 --for 4h")
