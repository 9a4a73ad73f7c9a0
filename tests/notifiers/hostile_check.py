"""Is a payload of one of the newer channels harmless? The checks behind the hostile-text suite.

Harmless: no working mention (every '@' before a mention keyword is broken by U+2060), no link except to
hosts we built links for (only in the fields that hold our links), no bare autolinkable URL or www. name,
no control or bidi characters, and no markup from agent text for the format: Discord Markdown (unescaped
emphasis, code, spoilers, masked links, `<@id>`/`<#id>`/`<t:…>` tags), Adaptive Card Markdown, email HTML
(only our own tags, links only to trusted hosts, no images).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

from tests.reliability.harness import GITLAB_HOST, LANGFUSE_HOST

TRUSTED = (LANGFUSE_HOST, GITLAB_HOST, "https://cloud.langfuse.com")
LINK_KEYS = {"url", "href"}  # where the JSON formats carry links we built
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MENTION = re.compile(r"@(?:channel|here|all|everyone)\b", re.IGNORECASE)
_ANGLE_TAG = re.compile(r"<[!@#/a-zA-Z]|<https?:|<t:")
_BARE_URL = re.compile(r"https?://evil|(?<![\\\u2060])\bwww\.evil", re.IGNORECASE)
_DISCORD_MARKUP = re.compile(r"(?<!\\)(\*|_|~~|\|\||`)")
_DISCORD_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\((?P<url>[^)\s]+)\)")
_TEAMS_MARKUP = re.compile(r"[*_`~\[\]]")
ALLOWED_TAGS = {"html", "body", "h2", "h3", "p", "br", "table", "tr", "th", "td", "a", "small"}


def strings(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, str):
        yield key, node
    elif isinstance(node, Mapping):
        for k, value in node.items():
            yield from strings(value, str(k))
    elif isinstance(node, list | tuple):
        for value in node:
            yield from strings(value, key)


def _common(text: str, where: str) -> list[str]:
    problems = []
    if _CONTROL.search(text):
        problems.append(f"control character in {where}")
    problems += [f"mention {m.group()!r} in {where}" for m in _MENTION.finditer(text)]
    if _ANGLE_TAG.search(text):
        problems.append(f"raw tag or Discord/Slack special in {where}")
    if _BARE_URL.search(text):
        problems.append(f"bare autolinkable URL in {where}")
    return problems


def harm_in_json(payload: Any, kind: str) -> list[str]:
    """Problems in a webhook, PagerDuty, Discord or Teams body; [] when it is harmless."""
    problems: list[str] = []
    for key, text in strings(payload):
        where = f"{key}={text[:60]!r}"
        if key in LINK_KEYS:
            if not text.startswith(TRUSTED):
                problems.append(f"link to {text!r}")
            continue
        if key == "$schema":
            continue
        rest = text
        if kind == "discord":
            for match in _DISCORD_LINK.finditer(text):
                if not match.group("url").startswith(TRUSTED):
                    problems.append(f"masked link to {match.group('url')!r} in {where}")
            rest = _DISCORD_LINK.sub("", text)
            problems += [f"Discord markup {m.group()!r} in {where}" for m in _DISCORD_MARKUP.finditer(rest)]
        if kind == "teams" and _TEAMS_MARKUP.search(text):
            problems.append(f"Adaptive Card Markdown in {where}")
        problems += _common(rest, where)
    return problems


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}> in the HTML part")
        for name, value in attrs:
            if tag == "a" and name == "href":
                if not (value or "").startswith(TRUSTED):
                    self.problems.append(f"link to {value!r}")
            elif name not in ("align", "valign"):
                self.problems.append(f"attribute {name}= on <{tag}>")

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def harm_in_email(email: EmailMessage) -> list[str]:
    problems: list[str] = []
    subject = email["Subject"]
    if "\n" in subject or "\r" in subject:
        problems.append("line break in the subject")
    problems += _common(subject, "subject")
    # SMTP line ends are CRLF; any other CR would be a control character from agent text.
    problems += _common(email.get_body(("plain",)).get_content().replace("\r\n", "\n"), "text part")
    tags = _Tags()
    tags.feed(email.get_body(("html",)).get_content().replace("\r\n", "\n"))
    problems += tags.problems
    for text in tags.texts:
        problems += _common(text, f"HTML text {text[:60]!r}")
    return problems
