"""Golden tests: the exact JSON each notifier POSTs, as received by a local webhook receiver.

Regenerate after an intended change with `UPDATE_GOLDEN=1 pytest tests/notifiers/test_golden.py`, then
review the diff of tests/golden/ like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from monitors.contracts.findings import Severity
from monitors.contracts.message import Message
from monitors.engine.render import message_for
from monitors.notifiers.mattermost import MattermostNotifier
from monitors.notifiers.slack import SlackNotifier
from monitors.notifiers.stdout import StdoutNotifier, render_text
from tests.notifiers.conftest import critical_finding, warning_finding

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

FINDINGS = {"warning": warning_finding, "critical": critical_finding}


def _check(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8")


def _dump(body: object) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("severity", sorted(FINDINGS))
def test_slack_payload_matches_golden(hook, session, retry, severity):
    notifier = SlackNotifier("ops", SlackNotifier.Config(webhook_url=hook.url()), retry=retry, session=session)
    assert notifier.deliver(message_for(FINDINGS[severity]())).ok
    assert len(hook.requests) == 1
    assert hook.requests[0].headers["Content-Type"] == "application/json"
    _check(f"slack_{severity}.json", _dump(hook.requests[0].json))


@pytest.mark.parametrize("severity", sorted(FINDINGS))
def test_mattermost_payload_matches_golden(hook, session, retry, severity):
    config = MattermostNotifier.Config(
        webhook_url=hook.url(), username="monitors", icon_url="https://example.com/bot.png", channel="agents"
    )
    notifier = MattermostNotifier("ops", config, retry=retry, session=session)
    assert notifier.deliver(message_for(FINDINGS[severity]())).ok
    assert len(hook.requests) == 1
    _check(f"mattermost_{severity}.json", _dump(hook.requests[0].json))


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_stdout_rendering_matches_golden(capsys, fmt):
    notifier = StdoutNotifier("console", StdoutNotifier.Config(format=fmt))
    assert notifier.deliver(message_for(critical_finding())).ok
    _check(f"stdout_critical.{'txt' if fmt == 'text' else 'json'}", capsys.readouterr().out)


MENTIONS = ("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C1>", "<!subteam", "@here", "@all", "@channel")


def _strings(node: object, key: str = "", plain: bool = False) -> list[tuple[str, str, bool]]:
    """(key, text, shown_as_plain_text) for every string in a payload."""
    if isinstance(node, dict):
        plain = node.get("type") == "plain_text"
        return [t for k, v in node.items() for t in _strings(v, k, plain or k in MATTERMOST_PLAIN_KEYS)]
    if isinstance(node, list):
        return [t for v in node for t in _strings(v, key, plain)]
    return [(key, node, plain)] if isinstance(node, str) else []


# Mattermost shows these attachment keys as plain text (no Markdown), so Markdown syntax there is inert.
MATTERMOST_PLAIN_KEYS = {"fallback", "footer", "title", "username", "icon_url", "channel", "color"}


@pytest.mark.parametrize("name", ["slack_critical.json", "mattermost_critical.json"])
def test_hostile_text_is_harmless_in_golden(name):
    """Belt and braces over the stored goldens: no live mention, link or markup survives."""
    body = json.loads((GOLDEN / name).read_text(encoding="utf-8"))
    for key, text, plain in _strings(body):
        for mention in MENTIONS:
            assert mention not in text, (key, mention)
        if plain:
            # No '<' at all: Slack's `<!channel>` and Mattermost's Slack-compat rewriting both need it.
            assert "<" not in text and ">" not in text, key
            continue
        assert "](http://evil)" not in text and "<http://evil" not in text, key
        assert "**bold**" not in text and "http://evil" not in text, key


def test_a_field_of_several_lines_keeps_to_its_value_column_on_a_terminal() -> None:
    message = Message(
        title="Goal drift: fixer on platform/billing!345",
        severity=Severity.WARNING,
        fields=(("Objective", "Fix flaky test"), ("Why", "score -0.85 below -0.55\noutside scope: 2 of 3 files")),
    )
    text = render_text(message)
    assert "  Why:       score -0.85 below -0.55\n             outside scope: 2 of 3 files\n" in text
