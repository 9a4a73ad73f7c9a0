"""Error signatures: a status message with the parts that differ between occurrences masked.

"Timeout after 30012 ms calling https://api.example.com/v1/jobs/8412 (req 7f3a9c2e-...)" and the same
failure a minute later, or from another pod, must land in one group, so ids, numbers, times, addresses,
paths, pod names (a Deployment's hashes, a StatefulSet's ordinals), hex and quoted values are replaced by
placeholders. What is left names the failure, not the occurrence: HTTP statuses, exit codes, error codes,
error types and model names are kept (gemini-1.5-pro-002); a model's dated snapshot is not
(gpt-4o-<date>).

A Python traceback names its failure at the end, after frames longer than a signature: it is reduced
to the exception and the function that raised it first.
"""

from __future__ import annotations

import re
from collections.abc import Callable

SIGNATURE_CHARS = 160  # a signature is a group's name; the full message is shown beside it, shortened
# Some masks take time quadratic in the length of a run without spaces; a signature is 160 characters,
# so only the message's start (cut at a space) is masked: a megabyte of agent text costs no more.
SCAN_CHARS = 4000
# Stored tallies are keyed by signature: a masking change that changes signatures bumps this, and the
# monitor re-keys what it stored under the older version (rekey.py) instead of seeing every error as new.
SIGNATURE_VERSION = 3

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
# Kubernetes writes pod-name suffixes (and newer pod-template hashes) in this alphabet: no vowels.
_K8S = r"[bcdfghjklmnpqrstvwxz2456789]"
_K8S_NAME = r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?"
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")

# Tokens that name the failure although a mask below would take them: exit codes, errno, signals and
# SQLSTATEs after their word, error codes of capitals and digits (E11000, TS2345, ORA...), and the
# function a traceback ends in. Set aside before masking, put back after.
_KEEP = (
    re.compile(
        r"\b(?:exit(?:ed)?\s+(?:with\s+)?(?:exit\s+)?(?:status|code)|exit_?code|return\s*code|returncode"
        r"|status[\s_]code|errno|signal|sqlstate)\b[\s:=]*\[?(?P<keep>-?\d+|[0-9A-Z]{5})\b",
        re.I | re.A,
    ),
    re.compile(r"(?<![\w/\\.-])(?P<keep>[A-Z]{1,4}\d{3,5})(?![\w/\\.-])", re.A),
    re.compile(r" \(in (?P<keep>[\w.<>]+)\)$", re.A),
    # A model's name says which model failed; its version digits would make it one <id> for every
    # model (gemini-1.5-pro-002, llama-3.1-70b-instruct, qwen2.5-72b). Its date still goes (_undated).
    re.compile(
        r"(?<![\w./-])(?P<keep>(?:gpt|chatgpt|o[1-9]|claude|gemini|gemma|llama|codellama|mistral|mixtral"
        r"|codestral|ministral|pixtral|magistral|qwen|qwq|deepseek|phi|command|grok|jamba|text-embedding)"
        r"(?![a-z])(?:[.-]?[A-Za-z0-9]+)*(?:@[0-9]{8})?)(?![\w/])",
        re.I | re.A,
    ),
)


def _url(match: re.Match[str]) -> str:
    """Scheme and host stay (which service failed); credentials go, the port and an IP are masked, the
    path and query are masked, punctuation after the URL is not part of it."""
    host, port, rest = match["host"], match["port"], match["rest"] or ""
    trail = rest[len(rest.rstrip(".,;:!?)]}")) :]
    rest = rest[: len(rest) - len(trail)]
    if _IPV4_ONLY.fullmatch(host) or host.startswith("["):
        host = "<ip>"
    return f"{match['scheme']}{host}{':<port>' if port else ''}{rest if rest in ('', '/') else '/<path>'}{trail}"


def _address(match: re.Match[str]) -> str:
    return "<ip>:<port>" if match["port"] else "<ip>"


_IPV4_ONLY = re.compile(r"(?:\d{1,3}\.){3}\d{1,3}", re.A)
_STATUS_PHRASE = re.compile(r"[1-5]\d\d [A-Z][A-Za-z' -]*", re.A)  # httpx: Client error '404 Not Found'
_ERROR_TYPE_KEY = re.compile(r"""(?:['"](?:type|code)['"]\s*:|\b(?:type|code)=)\s*$""")
_IDENTIFIER = re.compile(r"[A-Za-z_][\w.-]{0,63}", re.A)


def _quoted(match: re.Match[str]) -> str:
    """A quoted value is masked, except what names the failure: the keys of a JSON or dict error body,
    its `type` and `code` values (the SDKs' 'overloaded_error', 'context_length_exceeded') and a quoted
    HTTP status."""
    quote, inner, text = match.group(0)[0], match.group(0)[1:-1], match.string
    before = text[max(0, match.start() - 24) : match.start()]
    after = text[match.end() : match.end() + 4].lstrip()
    if after.startswith(":") and before.rstrip().endswith(("{", ",")):
        return match.group(0)
    if _STATUS_PHRASE.fullmatch(inner) or (_ERROR_TYPE_KEY.search(before) and _IDENTIFIER.fullmatch(inner)):
        return match.group(0)
    return f"{quote}<value>{quote}"


_Mask = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]
_MODEL_DATES: tuple[_Mask, ...] = (
    # A dated model snapshot keeps its family (which model failed) and loses its date, which the masks
    # below would take with the name for one <id>: gpt-4o-2024-08-06, claude-3-5-sonnet-20241022,
    # claude-3-5-sonnet-v2@20241022 (Vertex); OpenAI's and Mistral's four-digit dates after their names
    # (gpt-4-0613, gpt-3.5-turbo-0125, mistral-large-2407).
    (re.compile(r"(?<=[A-Za-z0-9][-@])(?:20\d\d-[01]\d-[0-3]\d|20\d\d[01]\d[0-3]\d)(?![\w]|\.\w|-\d)", re.A), "<date>"),
    (re.compile(r"\b(?P<name>(?:gpt|pixtral|[a-z]*stral)-[\w.-]*?)-\d{4}(?![\w]|\.\w|-\d)", re.A), r"\g<name>-<date>"),
)
_MASKS: tuple[_Mask, ...] = (
    (
        re.compile(
            r"\b(?P<scheme>[a-z][a-z0-9+.-]*://)(?:[^/\s'\"<>@]*@)?(?P<host>\[[0-9a-f:.]+\]|[^/\s'\"<>:?#]+)"
            r"(?::(?P<port>\d{1,5}))?(?P<rest>[/?#][^\s'\"<>]*)?",
            re.I,
        ),
        _url,
    ),
    # HTTP dates (RFC 1123 and 850), asctime and syslog times.
    (
        re.compile(
            rf"\b(?:{_WEEKDAY},?\s+)?\d{{1,2}}[ -]{_MONTH}[ -]\d{{2,4}}\s+\d\d:\d\d(?::\d\d)?"
            rf"(?:\s*(?:GMT|UTC|Z|[+-]\d{{4}}))?\b"
            rf"|\b(?:{_WEEKDAY}\s+)?{_MONTH}\s+\d{{1,2}}\s+\d\d:\d\d:\d\d(?:\.\d+)?(?:\s+[A-Z]{{3,4}})?(?:\s+\d{{4}})?\b",
            re.A,
        ),
        "<time>",
    ),
    # ISO times (Python's logging writes "14:02:11,123", Go "14:02:11.5 +0000 UTC") and dates.
    (
        re.compile(
            r"\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:\s?(?:Z|[+-]\d\d:?\d\d)(?:\s(?:UTC|GMT))?)?"
            r"|(?<![\w.-])\d{4}-\d\d-\d\d(?![\w.-])",
            re.A,
        ),
        "<time>",
    ),
    # re.ASCII from here on where a word boundary matters: in Chinese or Japanese text a number touches
    # the words around it ("用户123456不存在"), which are word characters to a Unicode pattern.
    *_MODEL_DATES,
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I | re.A), "<uuid>"),
    # The domain ends in a name: "lodash@5.0.0" is a package version, not an address.
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z][\w-]*\b"), "<email>"),
    # IPv6: in brackets with a port ("[2001:db8::1]:443"), or bare with "::" or all eight groups.
    (re.compile(r"\[(?=[0-9a-f.]*:[0-9a-f.]*:)[0-9a-f:.]+(?:%\w+)?\](?::(?P<port>\d{1,5}))?", re.I | re.A), _address),
    (
        re.compile(
            r"(?<![\w:])(?=[0-9a-f:]*\d)(?=(?:[0-9a-f]{0,4}:){7}|[0-9a-f:]*::)(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}"
            r"(?:%\w+)?(?![\w:])",
            re.I | re.A,
        ),
        "<ip>",
    ),
    (re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::(?P<port>\d{1,5}))?(?![\w.]|\.\d)", re.A), _address),
    (re.compile(r"\blocalhost:\d{1,5}\b", re.A), "localhost:<port>"),
    # Unix paths of two or more segments (with a query), and Windows paths.
    (re.compile(r"(?<![\w/])(?:~|\.{1,2})?(?:/[\w.@+-]+){2,}/?(?:\?[^\s'\"<>]+)?"), "<path>"),
    (re.compile(r"\b[A-Za-z]:\\[^\s'\"]+"), "<path>"),
    # Kubernetes pods: <deployment>-<template hash>-<5> anywhere; <name>-<5> (a Job's) and <name>-<ordinal>
    # (a StatefulSet's: redis-0, postgres-1) after "pod", with or without a namespace, and a StatefulSet
    # pod's DNS name (postgres-1.postgres.agents.svc). The workload's name stays: which service failed.
    (
        re.compile(rf"\b(?P<name>{_K8S_NAME})-(?:{_K8S}{{6,10}}|\d{{6,10}})-{_K8S}{{5}}(?![A-Za-z0-9-])", re.A),
        r"\g<name>-<pod>",
    ),
    (
        re.compile(
            rf"(?:(?<=\bpod )|(?<=\bpod/)|(?<=\bpod=)|(?<=\bpods/))(?P<ns>{_K8S_NAME}/)?(?P<name>{_K8S_NAME})"
            rf"-(?:{_K8S}{{5}}|\d{{1,5}})(?![A-Za-z0-9-])",
            re.A,
        ),
        r"\g<ns>\g<name>-<pod>",
    ),
    (re.compile(rf"(?<![\w.-])(?P<name>{_K8S_NAME})-\d{{1,5}}(?=\.{_K8S_NAME}\.svc\b)", re.A), r"\g<name>-<pod>"),
    # Python's tempfile names: "tmp" and 8 random characters.
    (re.compile(r"\btmp(?=[a-z0-9_]{0,7}[0-9_])[a-z0-9_]{8}\b", re.A), "<tmp>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I | re.A), "<hex>"),
    # Hex ids of 7 and more (short git SHAs, request and trace ids) mix letters and digits; hex-only
    # words ("added", "decade", "facade") have no digit and stay; digits and a "b" or "d" are a size or
    # a number of days, masked as numbers below.
    (re.compile(r"\b(?!\d+[bd]\b)(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,}\b", re.I | re.A), "<hex>"),
    (re.compile(r"\?[\w.%~+-]+=[^\s'\"<>]*", re.A), "?<query>"),
    # Numbers, with a unit if they have one ("12.5s", "300ms", "85%", "12KiB", Go's "1m30.5s"). A bare
    # 3-digit HTTP status (404 vs 502) names the failure, so it stays, also at the end of a sentence.
    (
        re.compile(
            r"(?<![\w<.-])(?![1-5]\d\d(?![\w%µ]|[.,:]\d))[-+]?\d+(?:[.,:]\d+)*"
            r"(?:(?:ms|s|m|h)\d+(?:\.\d+)?)*(?:[kmgtp]i?b|[kmgtp]i|ms|µs|us|ns|[smhdbkg]|%)?(?![\w>])",
            re.I | re.A,
        ),
        "<n>",
    ),
    # Identifier-like tokens that mix letters and 3+ digits (req_8f3a2b, call_abc123); model names
    # with fewer digits (gpt-4o, claude-3-5-sonnet) say what failed and stay.
    (re.compile(r"\b(?=[\w-]*[A-Za-z])(?=(?:[\w-]*?\d){3})[\w-]+\b", re.A), "<id>"),
    # Quoted values; an apostrophe inside a word ("can't") opens no quote.
    (re.compile(r"(?<!\w)'[^'\n]{1,200}'(?!\w)"), _quoted),
    (re.compile(r'"[^"\n]{1,200}"'), _quoted),
)
_TRACEBACK = "Traceback (most recent call last):"
_FRAME = re.compile(r'^\s+File "[^"\n]*", line \d+, in (\S+)')
_SPACE = re.compile(r"\s+")


def normalise(message: str | None, *, fallback: str = "") -> str:
    """The signature of a status message; `fallback` (e.g. the observation's name) when it is empty."""
    text = _SPACE.sub(" ", _failure(message or "")).strip()
    if not text:
        return f"(no status message) {fallback}".strip()[:SIGNATURE_CHARS]
    text, kept = _set_aside(_PRIVATE_USE.sub("?", _head(text)))
    for pattern, placeholder in _MASKS:
        text = pattern.sub(placeholder, text)
    text = _SPACE.sub(" ", _PRIVATE_USE.sub(lambda m: kept[ord(m.group()) - 0xE000], text)).strip()
    return text if len(text) <= SIGNATURE_CHARS else text[: SIGNATURE_CHARS - 1].rstrip() + "…"


def _head(text: str) -> str:
    """The first SCAN_CHARS characters, cut at a space when the second half of them has one."""
    if len(text) <= SCAN_CHARS:
        return text
    space = text.rfind(" ", SCAN_CHARS // 2, SCAN_CHARS + 1)
    return text[: space if space > 0 else SCAN_CHARS]


def _set_aside(text: str) -> tuple[str, list[str]]:
    """`text` with each kept token replaced by one private-use character no mask matches."""
    kept: list[str] = []

    def hold(match: re.Match[str]) -> str:
        if len(kept) >= 0x1800:  # the private-use block's size; more kept tokens are simply masked
            return match.group(0)
        start, end = match.span("keep")
        kept.append(_undated(match.group("keep")))
        whole = match.group(0)
        return whole[: start - match.start()] + chr(0xE000 + len(kept) - 1) + whole[end - match.start() :]

    for pattern in _KEEP:
        text = pattern.sub(hold, text)
    return text, kept


def _undated(token: str) -> str:
    """A kept model name without its snapshot's date (the first two masks); other kept tokens as they are."""
    for pattern, placeholder in _MODEL_DATES:
        token = pattern.sub(placeholder, token)
    return token


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
