"""Size limits: each payload stays within its service's limits, says it truncated, and keeps the links."""

from __future__ import annotations

from dataclasses import replace

import pytest

from monitors.contracts.findings import Link
from monitors.contracts.message import Message, Section
from monitors.engine.render import message_for
from monitors.notifiers import mattermost, slack
from monitors.notifiers.mattermost import MattermostNotifier
from monitors.notifiers.slack import SlackNotifier
from monitors.support.safe_text import TRUNCATED
from tests.notifiers.conftest import critical_finding

HUGE = "The agent kept retrying the same tool call. " * 5000  # ~220k characters


def huge_message(**changes) -> Message:
    return replace(message_for(critical_finding()), **changes)


def check_block_kit(body: dict) -> None:
    """Slack's documented Block Kit limits."""
    blocks = body["blocks"]
    assert len(blocks) <= slack.MAX_BLOCKS
    for block in blocks:
        if block["type"] == "header":
            assert 1 <= len(block["text"]["text"]) <= slack.HEADER_MAX
        if "text" in block and block["type"] == "section":
            assert 1 <= len(block["text"]["text"]) <= slack.SECTION_TEXT_MAX
        for item in block.get("fields", []):
            assert 1 <= len(item["text"]) <= slack.FIELD_TEXT_MAX
        assert len(block.get("fields", [])) <= slack.FIELDS_PER_SECTION
        assert len(block.get("elements", [])) <= 10


def link_texts(body: dict) -> str:
    return " ".join(b["text"]["text"] for b in body["blocks"] if b["type"] == "section" and "text" in b)


def make(cls, hook, session, retry):
    return cls("ops", cls.Config(webhook_url=hook.url()), retry=retry, session=session)


def test_slack_huge_summary_is_truncated_visibly_and_keeps_links(hook, session, retry):
    assert make(SlackNotifier, hook, session, retry).deliver(huge_message(summary=HUGE, title=HUGE)).ok
    body = hook.requests[0].json
    check_block_kit(body)
    summary = body["blocks"][1]["text"]["text"]
    assert summary.endswith(TRUNCATED) and len(summary) == slack.SECTION_TEXT_MAX
    assert body["blocks"][0]["text"]["text"].endswith(TRUNCATED)
    texts = link_texts(body)
    assert "<https://cloud.langfuse.com/project/proj-1/traces/7f3e|Trace>" in texts
    assert "merge_requests/42|Merge request !42>" in texts
    assert len(body["text"]) <= 500


def test_mattermost_huge_summary_is_truncated_visibly_and_keeps_links(hook, session, retry):
    assert make(MattermostNotifier, hook, session, retry).deliver(huge_message(summary=HUGE)).ok
    body = hook.requests[0].json
    assert len(body["text"]) <= mattermost.POST_MAX and body["text"].endswith(TRUNCATED)
    attachment = body["attachments"][0]
    assert "[Trace](https://cloud.langfuse.com/project/proj-1/traces/7f3e)" in attachment["text"]


def test_mattermost_attachment_stays_within_budget(hook, session, retry):
    fields = tuple((f"Field {i}", HUGE[:3000]) for i in range(40))
    sections = tuple(Section(f"Day {i}", (HUGE[:5000],)) for i in range(10))
    message = huge_message(fields=fields, sections=sections)
    assert make(MattermostNotifier, hook, session, retry).deliver(message).ok
    attachment = hook.requests[0].json["attachments"][0]
    size = sum(len(f["title"]) + len(f["value"]) for f in attachment["fields"]) + len(attachment["text"])
    assert size <= mattermost.ATTACHMENT_MAX
    assert attachment["fields"][-1]["title"] == TRUNCATED
    assert "more field(s) not shown" in attachment["fields"][-1]["value"]
    assert "merge_requests/42" in attachment["text"]


@pytest.mark.parametrize(("count", "truncated"), [(9, False), (10, False), (11, False), (600, True)])
def test_slack_many_fields_and_sections_stay_within_block_limits(count, truncated, hook, session, retry):
    fields = tuple((f"Field {i}", f"value {i}") for i in range(count))
    sections = tuple(Section(f"Section {i}", ("line",)) for i in range(count // 10))
    assert make(SlackNotifier, hook, session, retry).deliver(huge_message(fields=fields, sections=sections)).ok
    body = hook.requests[0].json
    check_block_kit(body)
    shown = sum(len(b.get("fields", [])) for b in body["blocks"])
    assert "Trace>" in link_texts(body)
    notes = [e["text"] for b in body["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert any("more block(s)" in n for n in notes) == truncated
    if truncated:
        assert 0 < shown < count and len(body["blocks"]) == slack.MAX_BLOCKS
    else:
        assert shown == count


@pytest.mark.parametrize("cls", [SlackNotifier, MattermostNotifier])
def test_many_links_are_cut_between_links_with_a_note(cls, hook, session, retry):
    links = tuple(Link(f"Trace {i}", f"https://cloud.langfuse.com/project/p/traces/{i:032d}") for i in range(300))
    assert make(cls, hook, session, retry).deliver(huge_message(links=links)).ok
    body = hook.requests[0].json
    text = link_texts(body) if cls is SlackNotifier else body["attachments"][0]["text"]
    assert "more link(s))" in text
    assert "Trace 0" in text and "Trace 299" not in text
    if cls is SlackNotifier:
        check_block_kit(body)


@pytest.mark.parametrize("cls", [SlackNotifier, MattermostNotifier])
def test_non_http_links_are_dropped(cls, hook, session, retry):
    links = (Link("evil", "javascript:alert(1)"), Link("ok", "https://example.com/a b(c)"))
    assert make(cls, hook, session, retry).deliver(huge_message(links=links)).ok
    raw = hook.requests[0].body.decode()
    assert "javascript" not in raw
    body = hook.requests[0].json
    if cls is SlackNotifier:
        assert "<https://example.com/a%20b(c)|ok>" in link_texts(body)
    else:
        assert "[ok](https://example.com/a%20b%28c%29)" in body["attachments"][0]["text"]
