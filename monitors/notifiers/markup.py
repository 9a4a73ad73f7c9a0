"""Escapers for the formats of the newer channels: neutral plain text, Discord Markdown, Teams' Adaptive
Card Markdown and email HTML. Same contract as `monitors.support.safe_text` (clean, escape, then shorten
without cutting an escape), which they build on.

Every one of them "defangs" agent text the same way, because each service (or the mail client, or
whatever a generic webhook's receiver forwards to) may turn plain text into something live:

- '@' is followed by U+2060 WORD JOINER (invisible), so "@here" or "@everyone" is no mention;
- "scheme://" gets a word joiner after ':' and "www." one before '.', so no autolinker finds a URL;
- '<' and '>' become the lookalikes '‹' '›' (Discord's `<@id>` mentions, `<https://…>` links, HTML).

Links we built ourselves are never passed through these: each notifier renders them as real links.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Callable

from monitors.support.safe_text import TRUNCATED, WORD_JOINER, clean, fit

_WWW = re.compile(r"(?i)\b(www)\.")
_ANGLES = {"<": "‹", ">": "›"}
_NBSP = "\u00a0"
# Discord Markdown honours a backslash before any ASCII punctuation, so every special one is escaped.
_DISCORD_SPECIAL = frozenset("\\`*_{}[]()#+-.!|~:$&=^\"'")
# Adaptive Cards' Markdown subset has no documented escape: its syntax characters become lookalikes.
_TEAMS_LOOKALIKES = {"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ", "[": "［", "]": "］", "#": "＃", "|": "¦"}

# One character -> its escaped form, given the two characters after it and whether only spaces or
# tabs precede it on its line (where block syntax such as lists and quotes begins).
Escaper = Callable[[str, str, bool], str]


def _escape(text: object, limit: int, one: Escaper) -> str:
    raw = str(text)
    cap = 4 * max(limit, 0) + 10_000  # only the start of a huge value can be shown
    cut = len(raw) > cap
    value = _WWW.sub(rf"\1{WORD_JOINER}.", clean(raw[:cap] if cut else raw))
    value = value[: max(limit, 0) + 1]  # escaping never shortens a character
    pieces, at_start = [], True
    for i, ch in enumerate(value):
        pieces.append(one(ch, value[i + 1 : i + 3], at_start))
        at_start = ch == "\n" or (at_start and ch in " \t")
    return fit(pieces, limit, cut=cut)


def _defang(ch: str, nxt: str) -> str | None:
    if ch == "@":
        return "@" + WORD_JOINER
    if ch == ":" and nxt == "//":
        return ":" + WORD_JOINER
    return _ANGLES.get(ch)


def _neutral_char(ch: str, nxt: str, start: bool) -> str:
    return _defang(ch, nxt) or ch


def neutral(text: object, limit: int) -> str:
    """Plain text that stays plain wherever it is shown: JSON fields, PagerDuty, email text parts."""
    return _escape(text, limit, _neutral_char)


def identifier(key: str, limit: int) -> str:
    """`neutral` for a key a receiver matches on (a fingerprint, PagerDuty's dedup_key).

    A key that cannot be shown whole (too long, or holding a blob-like id that cleaning replaces with a
    placeholder) ends with a digest of all of it, so two keys that read alike stay two keys.
    """
    shown = neutral(key, limit)
    if clean(key) == key and not shown.endswith(TRUNCATED):
        return shown
    digest = f" #{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    return neutral(key, limit - len(digest)) + digest


def one_line(text: object, limit: int) -> str:
    """`neutral`, on one line: email subjects and headers (no CR/LF can start a new header).

    "=?" gets a word joiner too: Python's email package decodes RFC 2047 encoded words
    (`=?utf-8?q?...?=`) in a header value it is given, which would bring back a CR/LF (a new header)
    or an '@here' that was hidden in the encoding. Broken, the text is shown as the agent typed it.
    """
    return _escape(" ".join(str(text).split()), limit, _header_char)


def _header_char(ch: str, nxt: str, start: bool) -> str:
    return "=" + WORD_JOINER if ch == "=" and nxt.startswith("?") else _neutral_char(ch, nxt, start)


def _discord_char(ch: str, nxt: str, start: bool) -> str:
    defanged = _defang(ch, nxt)
    if defanged is not None:
        return defanged if ch != ":" else "\\" + defanged
    return "\\" + ch if ch in _DISCORD_SPECIAL else ch


def discord_markdown(text: object, limit: int) -> str:
    """For Discord embed descriptions, field values and titles."""
    return _escape(text, limit, _discord_char)


def _teams_char(ch: str, nxt: str, start: bool) -> str:
    defanged = _defang(ch, nxt)
    if defanged is not None:
        return defanged
    if start and ch in " \t":
        return _NBSP  # indentation
    if start and ch in "-+0123456789":
        return _NBSP + ch  # "- x" and "1. x" start list items only at the start of a line
    return _TEAMS_LOOKALIKES.get(ch, ch)


def teams_markdown(text: object, limit: int) -> str:
    """For Adaptive Card TextBlocks and FactSet values (both render a Markdown subset in Teams)."""
    return _escape(text, limit, _teams_char)


def html_text(text: object, limit: int) -> str:
    """For email HTML: entity-escaped (no tag, no attribute), defanged, newlines as <br>."""

    def one(ch: str, nxt: str, start: bool) -> str:
        if ch == "\n":
            return "<br>\n"
        defanged = _defang(ch, nxt)
        return html.escape(ch, quote=True) if defanged is None else defanged

    return _escape(text, limit, one)


def is_http(url: str) -> bool:
    return url.strip().lower().startswith(("https://", "http://"))


# A trace id inside a URL we built is agent-chosen: quote what could end the URL in Markdown or HTML,
# read as a mention ('@'), or hide and reorder what the reader sees (controls, bidi, zero-width, spaces).
_URL_QUOTE = {" ": "%20", '"': "%22", "'": "%27", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E", "@": "%40"}


def safe_url(url: str) -> str:
    """An http(s) URL we built, with every character quoted that could break out of or disguise it."""
    out = []
    for ch in url.strip():
        if ch in _URL_QUOTE:
            out.append(_URL_QUOTE[ch])
        elif unicodedata.category(ch)[0] in "CZ":
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass")))
        else:
            out.append(ch)
    return "".join(out)
