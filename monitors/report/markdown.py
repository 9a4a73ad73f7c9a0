"""Markdown text for the full report file: only what Markdown would read as markup is escaped.

The report is a file people open in an editor as often as in a renderer, so "$195.71 (+34%)" stays as it
is, not "\\$195\\.71 \\(\\+34%\\)". What CommonMark and GitHub's extensions (tables, strikethrough,
autolinks, math) would act on is still neutralised, so agent text can neither link, mention, run HTML
nor break the layout:

- links and images: '[' and ']' are escaped; '<' and '>' become entities (no HTML, no <url> autolink);
  the ':' of 'http://' / 'https://' / 'ftp://' and the '.' of a word-initial 'www.' are escaped, so an
  autolinker finds no URL;
- mentions: '@' is followed by an invisible word joiner, as in chat (which also breaks e-mail autolinks);
- entities: '&' before a letter, digit or '#' becomes '&amp;';
- emphasis, code, strikethrough, math: '*', '`', '~', '\\' always; '_' unless inside a word (read_file
  stays read_file: Markdown never emphasises there); '$' unless a digit follows (money stays as it is,
  and a '$' closing math is always escaped);
- tables: '|' is escaped (the caller folds line breaks in a cell);
- blocks, outside table cells and headings: leading spaces become no-break spaces (no code block) and a
  heading, list, quote or rule marker opening a line ('#', '-', '+', '=', '1.', '1)') is escaped.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from monitors.support.safe_text import WORD_JOINER, clean, fit

_NBSP = "\u00a0"
_ALWAYS = frozenset("\\`*[]|~")
_ENTITIES = {"<": "&lt;", ">": "&gt;"}
# A block marker at the start of a line (after spaces): the marker character itself is escaped.
_BLOCK_MARKER = re.compile(r"(?m)^[ \t]*([#+=-]|\d{1,9}[.)])")
# What an autolinker takes for a URL: the ':' of a scheme followed by '//', the '.' of 'www.'.
_AUTOLINK = re.compile(r"(?i)\b(?:https?|ftp)(:)//|(?<![\w.-])www(\.)")
# Characters left as they are in a link target: a URL's own syntax. Everything else (spaces, brackets,
# '<' '>', '@', quotes, control and invisible characters, non-ASCII) is percent-encoded.
_URL_SAFE = ":/?#&=%+~,;!*'$.-_"


def _escaped_at(value: str, *, blocks: bool) -> set[int]:
    """Positions of characters that only their context makes markup (URL parts, block markers)."""
    at = {m.start(g) for m in _AUTOLINK.finditer(value) for g in (1, 2) if m.group(g)}
    if blocks:
        at |= {m.end(1) - 1 for m in _BLOCK_MARKER.finditer(value)}
    return at


def _one(ch: str, prev: str, nxt: str, context: bool) -> str:
    if ch in _ENTITIES:
        return _ENTITIES[ch]
    if ch in _ALWAYS or context:
        return "\\" + ch
    if ch == "_" and not (_is_word(prev) and _is_word(nxt)):
        return "\\_"
    if ch == "$" and not nxt.isdigit():
        return "\\$"
    if ch == "&" and (nxt.isalnum() or nxt == "#"):
        return "&amp;"
    if ch == "@":
        return "@" + WORD_JOINER
    return ch


def _is_word(ch: str) -> bool:
    return bool(ch) and (ch.isalnum() or ch == "_")


def md_text(text: object, limit: int, *, inline: bool = False) -> str:
    """`text` as Markdown that renders as the same plain text, at most `limit` characters after
    escaping. `inline`: it goes inside a table cell or a heading, where no block can start."""
    raw = str(text)
    cap = 4 * max(limit, 0) + 10_000  # only the start of a huge value can be shown
    cut = len(raw) > cap
    value = clean(raw[:cap] if cut else raw)[: max(limit, 0) + 1]  # escaping never shortens a character
    context = _escaped_at(value, blocks=not inline)
    pieces, line_start = [], True
    for i, ch in enumerate(value):
        if line_start and not inline and ch in " \t":
            pieces.append(_NBSP if ch == " " else _NBSP * 4)  # indentation would start a code block
        else:
            pieces.append(_one(ch, value[i - 1] if i else "", value[i + 1 : i + 2], i in context))
        line_start = ch == "\n" or (line_start and ch in " \t")
    return fit(pieces, limit, cut=cut)


def md_link(url: str, label: str, limit: int = 200) -> str | None:
    """`[label](url)` for a URL we built; None unless it is http(s)."""
    target = url.strip()
    if not target.lower().startswith(("https://", "http://")):
        return None
    return f"[{md_text(label, limit, inline=True)}]({quote(target, safe=_URL_SAFE)})"
