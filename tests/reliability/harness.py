"""Shared pieces of the reliability suite: real notifiers wired to a local webhook receiver, settings
builders, hostile strings, and checks that a delivered payload is harmless and secret-free.

Every scenario runs the real pipeline (`run_once`) against local servers; nothing here patches
`requests` or `httpx`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from monitors.contracts.findings import RunWindow
from monitors.contracts.records import Observation
from monitors.engine.config import Settings, settings_from_dict
from monitors.engine.registry import notifier_class
from monitors.support.retry import RetryPolicy
from tests.fakes.webhook_server import WebhookServer

NOW = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
LANGFUSE_HOST = "https://langfuse.example.com"
GITLAB_HOST = "https://gitlab.example.com"

# What an agent might write to get attention, links or markup into a human's chat.
HOSTILE = (
    "@channel @here @all @everyone",
    "<!channel> <!here|here> <!everyone> <@U024BE7LH> <#C024BE7LB|general>",
    "[click me](https://evil.example/phish) ![x](https://evil.example/pixel.png)",
    "<https://evil.example/login|Langfuse login> https://evil.example/bare www.evil.example",
    "\x1b[31mred\x1b[0m \x00nul \x07bell \u202eevil-bidi \u200bzero-width",
    "line one\r\n> quoted\n# heading\n    indented code\n```fence```",
    "*bold* _it_ ~strike~ `code` ||spoiler|| ~town-square",
    "<script>alert(1)</script> &lt;!channel&gt; &amp;",
    "@\u2060channel @@here @here: (@all)",
)
HOSTILE_TEXT = " | ".join(HOSTILE)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MENTION = re.compile(r"@(?:channel|here|all|everyone)\b", re.IGNORECASE)
_SLACK_SPECIAL = re.compile(r"<[!@#]")
_SLACK_LINK = re.compile(r"<([^<>|]+)\|")
# A ']' escaped by a backslash ends no label, but one after an escaped backslash (`\\]`) does.
_MD_LINK = re.compile(r"(?<!\\)(?:\\\\)*\]\(([^)\s]+)\)")


def no_wait(attempts: int = 2) -> RetryPolicy:
    """In-call retries that never really sleep."""
    return RetryPolicy(
        attempts=attempts, base_delay=0.0, max_total_wait=1000, sleep=lambda s: None, rng=random.Random(0)
    )


def chat_settings(
    hook: WebhookServer | str,
    monitors: Mapping[str, Any] | None = None,
    *,
    kinds: tuple[str, ...] = ("slack", "mattermost"),
    **extra: Any,
) -> Settings:
    """Settings whose channels (one per kind) post to `hook` (a receiver or its base URL), one path each."""
    base = hook.url("") if isinstance(hook, WebhookServer) else hook.rstrip("/")
    channels = {kind: {"kind": kind, "webhook_url": f"{base}/hooks/{kind}-SECRETPATH"} for kind in kinds}
    raw = {
        "channels": channels,
        "default_route": {"channels": list(channels), "min_severity": "warning"},
        "monitors": dict(monitors or {}),
        **extra,
    }
    return settings_from_dict(raw, env={})


def notifiers_for(settings: Settings, retry: RetryPolicy | None = None) -> dict[str, Any]:
    """The real notifiers of `settings`, with retries that do not sleep."""
    return {
        name: notifier_class(config.kind)(name, config, retry=retry or no_wait())
        for name, config in settings.channel_configs.items()
    }


def strings(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every (key, string) in a JSON document; `key` is the nearest mapping key above the string."""
    if isinstance(node, str):
        yield key, node
    elif isinstance(node, Mapping):
        plain = node.get("type") == "plain_text"  # Slack plain_text objects are never parsed
        for k, value in node.items():
            yield from strings(value, "plain_text" if plain and k == "text" else str(k))
    elif isinstance(node, list | tuple):
        for value in node:
            yield from strings(value, key)


def flat(payload: Any) -> str:
    """All the text of a payload, one string per line, for `in` checks."""
    return "\n".join(text for _, text in strings(payload))


# Keys whose text the service shows without parsing links or Markdown.
_PLAIN_KEYS = {"slack": {"plain_text"}, "mattermost": {"fallback", "footer", "title"}}


def harm_in(payload: Any, kind: str, trusted: tuple[str, ...] = (LANGFUSE_HOST, GITLAB_HOST)) -> list[str]:
    """Why `payload` (a Slack or Mattermost webhook body) is not harmless; [] when it is.

    Harmless: no working mention (@channel, <!here>, <@U..>: every '@' is followed by the invisible
    word joiner, and Slack's '<' specials are entity-escaped), no link except to hosts we built links
    for, no bare autolinkable URL from agent text, no control or bidi characters, and no raw '<' in
    Mattermost (its Slack compatibility layer rewrites `<!channel>` and `<url|label>`).
    """
    problems: list[str] = []
    links = _SLACK_LINK if kind == "slack" else _MD_LINK
    for key, text in strings(payload):
        where = f"{key}={text[:70]!r}"
        plain = key in _PLAIN_KEYS[kind]
        built = [] if plain else links.findall(text)
        rest = text if plain else links.sub("", text)
        for url in built:
            if not url.startswith(trusted):
                problems.append(f"link to {url!r}")
        if _CONTROL.search(text):
            problems.append(f"control character in {where}")
        for match in _MENTION.finditer(rest):
            problems.append(f"mention {match.group()!r} in {where}")
        if "@" in "".join(built):
            problems.append(f"'@' in a link URL in {where}")
        if _SLACK_SPECIAL.search(rest):
            problems.append(f"Slack special in {where}")
        if kind == "mattermost" and not plain and re.search(r"<|>", rest):
            problems.append(f"raw angle bracket in Mattermost Markdown {where}")
        # Slack mrkdwn is sent with verbatim=true (no autolinking) and "scheme://" is broken; Mattermost
        # autolinks "www." names too, so their '.' must be escaped there.
        bare = r"https?://evil" if kind == "slack" else r"https?://evil|(?<!\\)\bwww\.evil"
        if not plain and re.search(bare, rest):
            problems.append(f"bare autolinkable URL in {where}")
    return problems


def window(hours: int = 24) -> RunWindow:
    return RunWindow(NOW - timedelta(hours=hours), NOW)


def tool_session(
    session: str,
    calls: list[tuple[str, Any]],
    *,
    start: datetime | None = None,
    agent: str = "agent",
    metadata: Mapping[str, Any] | None = None,
) -> list[Observation]:
    """A session of TOOL observations, one second apart, inside `window()`."""
    start = start or NOW - timedelta(hours=2)
    return [
        Observation(
            id=f"{session}-{i}",
            trace_id=f"trace-{session}",
            type="TOOL",
            start_time=start + timedelta(seconds=i),
            end_time=start + timedelta(seconds=i, milliseconds=500),
            project_id="proj-1",
            name=name,
            session_id=session,
            trace_name=agent,
            metadata=dict(metadata or {"feature": agent}),
            input=args,
            output="ok",
        )
        for i, (name, args) in enumerate(calls)
    ]
