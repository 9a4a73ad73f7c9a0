"""The version-1 signature masking (signature.SIGNATURE_VERSION 1), frozen: only to recognise errors
stored under it.

A group whose example was cut (a Python traceback is longer than EXAMPLE_CHARS, and its failure is at
its end) cannot be re-keyed from its example; rekey.py keys it from its old signature's text, which is
not what the current masking makes of the whole message (version 1 masked error codes, exit statuses
and error types the current one keeps). When such an error is seen again, this masking of its message
names the stored group it belongs to. Do not change it: it must give what version 1 gave.
"""

from __future__ import annotations

import re

SIGNATURE_CHARS = 160
_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    # URLs keep scheme and host (which service failed), lose path and query (which object).
    (re.compile(r"\b([a-z][a-z0-9+.-]*://[^/\s'\"<>]+)[^\s'\"<>]*", re.I), r"\1/<path>"),
    # Python's logging writes "14:02:11,123": a comma before the milliseconds.
    (re.compile(r"\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:Z|[+-]\d\d:?\d\d)?"), "<time>"),
    # re.ASCII from here on where a word boundary matters: in Chinese or Japanese text a number touches
    # the words around it ("用户123456不存在"), which are word characters to a Unicode pattern.
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I | re.A), "<uuid>"),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "<email>"),
    # Unix paths of two or more segments, and Windows paths.
    (re.compile(r"(?<![\w/])(?:~|\.{1,2})?(?:/[\w.@+-]+){2,}/?"), "<path>"),
    (re.compile(r"\b[A-Za-z]:\\[^\s'\"]+"), "<path>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I | re.A), "<hex>"),
    (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", re.I | re.A), "<hex>"),
    # Numbers, with a unit if they have one ("12.5s", "300ms", "85%", Go's "1m30.5s"). A bare 3-digit
    # HTTP status (404 vs 502) names the failure, so it stays.
    (
        re.compile(
            r"(?<![\w<.-])(?![1-5]\d\d(?![\w.,:%]))[-+]?\d+(?:[.,:]\d+)*"
            r"(?:(?:ms|s|m|h)\d+(?:\.\d+)?)*(?:ms|s|m|h|kb|mb|gb|%)?(?![\w>])",
            re.I | re.A,
        ),
        "<n>",
    ),
    # Identifier-like tokens that mix letters and 3+ digits (req_8f3a2b, call_abc123); model names
    # with fewer digits (gpt-4o, claude-3-5-sonnet) say what failed and stay.
    (re.compile(r"\b(?=[\w-]*[A-Za-z])(?=(?:[\w-]*?\d){3})[\w-]+\b", re.A), "<id>"),
    # Quoted values; an apostrophe inside a word ("can't") opens no quote.
    (re.compile(r"(?<!\w)'[^'\n]{1,200}'(?!\w)"), "'<value>'"),
    (re.compile(r'"[^"\n]{1,200}"'), '"<value>"'),
)
_TRACEBACK = "Traceback (most recent call last):"
_FRAME = re.compile(r'^\s+File "[^"\n]*", line \d+, in (\S+)')
_SPACE = re.compile(r"\s+")


def normalise_v1(message: str | None, *, fallback: str = "") -> str:
    """The signature of a status message; `fallback` (e.g. the observation's name) when it is empty."""
    text = _SPACE.sub(" ", _failure(message or "")).strip()
    if not text:
        return f"(no status message) {fallback}".strip()[:SIGNATURE_CHARS]
    for pattern, placeholder in _MASKS:
        text = pattern.sub(placeholder, text)
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= SIGNATURE_CHARS else text[: SIGNATURE_CHARS - 1].rstrip() + "…"


def _failure(message: str) -> str:
    """The part of a message that names the failure: for a Python traceback, the exception after the
    last frame and that frame's function; any other message whole."""
    if _TRACEBACK not in message:
        return message
    lines = message.splitlines()
    frames = [(i, match.group(1)) for i, line in enumerate(lines) if (match := _FRAME.match(line))]
    if not frames:
        return message
    last, function = frames[-1]
    # The frame's source line (and 3.11's ^^^ markers) are indented; the exception starts unindented.
    rest = lines[last + 1 :]
    start = next((i for i, line in enumerate(rest) if line.strip() and not line[0].isspace()), None)
    if start is None:
        return message
    exception = "\n".join(rest[start:])
    return f"{exception} (in {function})"
