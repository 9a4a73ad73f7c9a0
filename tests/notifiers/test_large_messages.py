"""Messages far larger than an alert usually is, as the local receivers got them: a runaway agent's
group of 200 audit findings with long tool arguments, and a finding written in a language whose every
character takes three bytes. Each channel must shorten them with a note, never send what its service
refuses, and never drop a part without saying so."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import timedelta

import pytest

from monitors.contracts.findings import Finding, Link, Severity, Status
from monitors.engine.render import group_message, message_for
from monitors.notifiers import teams
from monitors.support.safe_text import TRUNCATED
from tests.fakes.pagerduty_server import PagerDutyServer, schema_errors
from tests.notifiers.channels import http_notifier
from tests.notifiers.conftest import WHEN

PAGERDUTY_MAX_BYTES = 512 * 1024  # PagerDuty refuses an event larger than this
ARGUMENTS = '{"path": "src/billing/export.py", "pattern": "def export_.*", "context": 40} ' * 40  # ~3 KB


def loop_finding(i: int, *, title: str | None = None) -> Finding:
    """An audit finding the way a runaway agent's session produces them: long tool arguments."""
    return Finding(
        monitor="audit",
        dedupe_key=f"sess-{i:03d}:loop",
        severity=Severity.CRITICAL if i % 7 == 0 else Severity.WARNING,
        title=title or f"llm-fix repeats grep_files in session sess-{i:03d}",
        summary="The session called the same tool with the same arguments 12 times in a row.",
        observed_at=WHEN + timedelta(minutes=i),
        kind="loop",
        fields=(("Tool", "grep_files"), ("Arguments", ARGUMENTS), ("Last answer", ARGUMENTS), ("Calls", "12")),
        links=(Link("Trace", f"https://cloud.langfuse.com/project/p/traces/t-{i}"),),
        labels={"agent": "llm-fix", "day": "2026-03-02"},
        evidence={"session": f"sess-{i:03d}", "agent": "llm-fix"},
    )


def runaway_group(parts: int, **kw: str) -> object:
    return group_message([message_for(loop_finding(i, **kw)) for i in range(parts)], "agent=llm-fix day=2026-03-02")


def test_pagerduty_event_of_a_200_part_group_stays_under_512_kb_and_says_what_it_left_out(session, retry):
    with PagerDutyServer() as pd:
        assert http_notifier("pagerduty", pd, retry, session).deliver(runaway_group(200)).ok
    request = pd.requests[0]
    assert len(request.body) <= PAGERDUTY_MAX_BYTES
    assert schema_errors(request.json) == []
    details = request.json["payload"]["custom_details"]
    shown = [name for name in details if name.startswith(("[CRITICAL]", "[WARNING]"))]
    assert 0 < len(shown) < 200
    assert details[TRUNCATED] == f"{200 - len(shown)} more part(s) not shown"


def test_pagerduty_keeps_every_part_of_a_group_whose_parts_share_a_title(session, retry):
    # The same check of the same agent in several sessions, titled alike: each part is its own detail.
    with PagerDutyServer() as pd:
        assert http_notifier("pagerduty", pd, retry, session).deliver(runaway_group(5, title="llm-fix loops")).ok
    details = pd.requests[0].json["payload"]["custom_details"]
    parts = [value for name, value in details.items() if "llm-fix loops" in name]
    assert len(parts) == 5
    assert sorted(next(line for line in lines if line.startswith("Next step")) for lines in parts) == [
        f"Next step: stop session sess-{i:03d} of llm-fix: it repeats the same tool calls; "
        f"mute: run-monitor silence audit --key sess-{i:03d} --for 4h"
        for i in range(5)
    ]


def test_teams_card_of_a_finding_in_chinese_fits_the_size_limit(hook, session, retry):
    # Every CJK character is three bytes: fields at their character limit alone pass Teams' 28 KB.
    text = "代理反复调用同一个工具，参数完全相同，没有任何进展。" * 80
    finding = replace(loop_finding(1), summary=text, fields=tuple((f"参数 {i}", text) for i in range(8)))
    assert http_notifier("teams", hook, retry, session).deliver(message_for(finding)).ok
    card = hook.requests[0].json["attachments"][0]["content"]
    assert len(json.dumps(card, ensure_ascii=False).encode("utf-8")) <= teams.MAX_PAYLOAD_BYTES
    facts = card["body"][2]["facts"]
    assert [fact["title"] for fact in facts[:8]] == [f"参数 {i}" for i in range(8)]  # every field still named
    assert all(fact["value"].endswith(TRUNCATED) for fact in facts[:8])
    assert card["actions"][0]["url"].endswith("traces/t-1")


@pytest.mark.parametrize(
    "sessions",
    [
        [f"github.com/acme/payments/pull/4711/agents/llm-fix/{'step/' * 60}{n}" for n in (1, 2)],
        [hashlib.sha512(f"session {n}".encode()).hexdigest() for n in (1, 2)],  # shown as "[hex data, …]"
    ],
    ids=["long keys with one beginning", "keys shown as a placeholder"],
)
def test_pagerduty_findings_whose_keys_read_alike_are_two_incidents(sessions, session, retry):
    # Session ids are chosen by the agent: a long one, or one that looks like a blob, is still its own.
    first, second = (replace(loop_finding(0), dedupe_key=f"{s}:loop") for s in sessions)
    with PagerDutyServer() as pd:
        notifier = http_notifier("pagerduty", pd, retry, session)
        assert notifier.deliver(message_for(first)).ok and notifier.deliver(message_for(second)).ok
        assert notifier.deliver(message_for(replace(first, status=Status.RESOLVED))).ok
    assert sorted(pd.incidents.values()) == ["resolved", "triggered"]
    assert all(len(key) <= 255 for key in pd.incidents)


def test_webhook_envelopes_of_findings_whose_keys_read_alike_carry_two_fingerprints(hook, session, retry):
    sessions = [hashlib.sha512(f"session {n}".encode()).hexdigest() for n in (1, 2)]
    findings = [replace(loop_finding(0), dedupe_key=f"{s}:loop") for s in sessions]
    notifier = http_notifier("webhook", hook, retry, session)
    assert all(notifier.deliver(message_for(finding)).ok for finding in findings)
    grouped = group_message([message_for(finding) for finding in findings], "agent=llm-fix")
    assert notifier.deliver(grouped).ok
    single, other, group = hook.bodies()
    assert single["fingerprint"] != other["fingerprint"]
    assert group["parts"] == [single["fingerprint"], other["fingerprint"]]
