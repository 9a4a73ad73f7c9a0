"""Make untrusted plain text safe to show in each alert format.

Every string in a `Message` may come from an agent (objectives, commit messages, tool arguments, trace
names), so each notifier passes every string through one of these functions before it goes into a
payload. Each function:

1. cleans the text (`clean`): drops control and invisible format characters (keeping newline and tab),
   normalises line ends, masks credentials an agent's text may carry (see `scrub_credentials`), and
   replaces long base64/hex blobs or binary-looking text with a short placeholder;
2. escapes it for the target format, so it can neither mention anyone nor inject links or markup;
3. shortens it to `limit` characters *after* escaping, never cutting an escape sequence in half, and
   says so with a visible marker (`TRUNCATED`).

Mentions are broken by putting U+2060 WORD JOINER right after every '@'. It is invisible, so
"@here" still reads as "@here", but Mattermost's mention parser splits words on anything that is not a
letter, digit or one of ``.-_:@``, so the server sees "@" and "here", and no keyword matches. Slack's
`<!here>`-style mentions need '<', which is always entity-escaped. We chose the joiner over a
backslash (Mattermost may or may not apply Markdown escapes before mention parsing) and over a lookalike
such as '＠' (a client that applies NFKC normalisation would turn it back into '@').

Slack: https://api.slack.com/reference/surfaces/formatting#escaping
Mattermost: https://docs.mattermost.com/collaborate/format-messages.html
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

TRUNCATED = "… (truncated)"
WORD_JOINER = "\u2060"
_NBSP = "\u00a0"

# 40-hex commit SHAs and 64-hex SHA-256 digests are legitimate in commit messages; longer runs are blobs.
_HEX_BLOB = re.compile(r"[0-9A-Fa-f]{65,}")
_B64_BLOB = re.compile(r"[A-Za-z0-9+/_-]{80,}={0,2}")
# Above this share of unprintable characters a string is treated as binary and not shown at all.
_BINARY_RATIO = 0.2
# Unicode categories that are never shown: controls, format (zero-width, bidi overrides), surrogates,
# private use, unassigned.
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_KEEP = frozenset("\n\t")

# Every ASCII punctuation character that means something in Mattermost's Markdown (emphasis, links,
# images, headings, lists, tables, quotes, code, HTML and entities, emoji ':x:', '~channel' links,
# LaTeX '$'). CommonMark lets any ASCII punctuation be backslash-escaped, so escaping them all is safe.
_MARKDOWN_SPECIAL = frozenset("\\`*_{}[]()#+-.!|<>~:$&=^\"'")
# Slack mrkdwn has no escape character: the formatting characters are swapped for lookalikes.
_SLACK_LOOKALIKES = {"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"}
_SLACK_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Mattermost rewrites Slack-style `<!channel>` and `<url|label>` before rendering, so no raw '<' or '>'
# may reach it; entities render as the characters and a leading "&gt;" is not a block quote.
_MARKDOWN_ENTITIES = {"<": "&lt;", ">": "&gt;"}
_ANGLE_LOOKALIKES = {"<": "‹", ">": "›"}


# Credentials that agents' error messages, tool arguments and commits carry (a database URL in a stack
# trace, an SDK echoing its key, an env dump): the value is masked, what it was stays readable. A value
# must hold a digit to be masked, so prose ("password: required", "the api key is missing") is left alone.
# Every pattern is linear: no look-ahead over the rest of a run, and a value that fails the digit test is
# consumed with its match, so agent text of any length is scanned once per pattern.
_KEY_NAME = (
    r"api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret|secret[_-]?(?:access[_-]?)?key"
    r"|private[_-]?key|password|passwd"
)
# The value after a name and ':' or '=' (a query string's '&' and a list's ',' end it).
_VALUE = r"([^\s\"'&,;]{4,})"


def _masked(keep: Callable[[str], bool]) -> Callable[[re.Match[str]], str]:
    """A replacement that masks the value (group 1, which ends the match) when `keep` says it is a
    credential, and else leaves the match as it was."""

    def mask(match: re.Match[str]) -> str:
        if not keep(match.group(1)):
            return match.group()
        return match.group()[: match.start(1) - match.start()] + "***"

    return mask


def _has_digit(value: str) -> bool:
    return any(c.isdigit() for c in value)


def _letters_and_digits(value: str) -> bool:
    # "token=128000" is a count, "token=EXAMPLE0token" a token.
    return _has_digit(value) and any(c.isalpha() for c in value)


_CREDENTIALS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # A private key file: its body goes, the armour lines stay (a key cut short is masked to its end).
    (
        re.compile(r"(-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----)\s(?:[^-]|-(?!----END)){0,20000}"),
        "\\1\n***\n",
    ),
    # scheme://user:password@host, also with an empty user (redis://:password@host)
    (re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]{0,31}://)[^\s/@:]*:[^\s/@]+@"), "\\1***@"),
    # A JSON Web Token wherever it stands
    (
        re.compile(r"(?<![A-Za-z0-9_-])eyJ([A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"),
        _masked(_has_digit),
    ),
    # Authorization header values
    (re.compile(r"\b(?:[Bb]earer|BEARER|Basic|[Tt]oken) ([A-Za-z0-9._~+/=-]{16,})"), _masked(_has_digit)),
    # keys with a vendor prefix: OpenAI, Anthropic, Langfuse, Stripe, GitHub, GitLab, Slack, AWS, Google,
    # Hugging Face, npm
    (
        re.compile(
            r"(?<![A-Za-z0-9_-])(?:sk-(?:proj-|ant-(?:api\d\d-)?|lf-)?|pk-lf-|[sr]k_(?:live|test)_|gh[pousr]_|github_pat_|glpat-"
            r"|xox[abpors]-|AKIA|AIza|hf_|npm_)([A-Za-z0-9_-]{8,})"
        ),
        _masked(_has_digit),
    ),
    # api_key=..., "password": "...", DB_PASSWORD=..., AWS_SECRET_ACCESS_KEY=... (a prefix before the name)
    (
        re.compile(r"(?i)(?<![a-z0-9/.])(?:" + _KEY_NAME + r")[\"']?\s*[:=]\s*[\"']?" + _VALUE),
        _masked(_has_digit),
    ),
    # token=..., GITHUB_TOKEN=..., secret: ...: the bare words are also counts and prose, so the value
    # must mix letters and digits
    (
        re.compile(r"(?i)(?<![a-z0-9/.])(?:token|secret)[\"']?\s*[:=]\s*[\"']?" + _VALUE),
        _masked(_letters_and_digits),
    ),
)


def scrub_credentials(text: str) -> str:
    """`text` with the credentials it seems to carry masked as `***` (their names and prefixes kept)."""
    for pattern, replacement in _CREDENTIALS:
        text = pattern.sub(replacement, text)
    return text


def clean(text: object) -> str:
    """Untrusted value -> printable text: no control characters, no credentials, no blobs, '\\n' line ends."""
    value = str(text).replace("\r\n", "\n").replace("\r", "\n")
    if _looks_binary(value):
        return f"[binary-looking text, {len(value)} chars omitted]"
    value = "".join(ch for ch in value if ch in _KEEP or unicodedata.category(ch) not in _DROP_CATEGORIES)
    value = scrub_credentials(value)
    value = _HEX_BLOB.sub(lambda m: f"[hex data, {len(m.group())} chars]", value)
    return _B64_BLOB.sub(_b64_placeholder, value)


def _b64_placeholder(match: re.Match[str]) -> str:
    blob = match.group()
    # A ruler line or "aaaa..." has no digits; a URL path has short segments between slashes.
    mixed = any(c.isdigit() for c in blob) and any(c.isalpha() for c in blob)
    if mixed and max(len(part) for part in blob.split("/")) >= 40:
        return f"[encoded data, {len(blob)} chars]"
    return blob


def _looks_binary(value: str) -> bool:
    if len(value) < 8:
        return False
    bad = sum(
        1
        for ch in value
        if ch == "\ufffd" or (ch not in _KEEP and unicodedata.category(ch) in _DROP_CATEGORIES - {"Cf"})
    )
    return bad / len(value) > _BINARY_RATIO


def fit(pieces: list[str], limit: int, *, cut: bool = False) -> str:
    """Join escaped pieces, cutting whole pieces (never inside an escape) to stay within `limit`.

    `cut` says the input was already shortened, so the marker is added even if everything fits.
    """
    if sum(len(p) for p in pieces) <= limit and not cut:
        return "".join(pieces)
    marker = TRUNCATED if limit >= len(TRUNCATED) + 1 else "…"[:limit]
    budget = limit - len(marker)
    kept: list[str] = []
    for piece in pieces:
        if len(piece) > budget:
            break
        kept.append(piece)
        budget -= len(piece)
    return "".join(kept).rstrip(" \n\t") + marker


def truncate(text: str, limit: int) -> str:
    """Shorten already-safe text to `limit` characters with the visible marker."""
    return fit(list(text), limit)


# One character -> its escaped form, given the two characters after it, whether only spaces or tabs
# precede it on its line (block markup such as quotes and code indents only works there) and the
# character before it ("" at the start).
Escaper = Callable[[str, str, bool, str], str]


def _escape(text: object, limit: int, one: Escaper) -> str:
    raw = str(text)
    # Only the start of a huge value can be shown: do not clean megabytes to keep a few thousand chars.
    cap = 4 * max(limit, 0) + 10_000
    cut = len(raw) > cap
    value = clean(raw[:cap] if cut else raw)
    # Escaping never shortens a character, so nothing past limit + 1 input characters can be kept.
    value = value[: max(limit, 0) + 1]
    pieces, at_start = [], True
    for i, ch in enumerate(value):
        pieces.append(one(ch, value[i + 1 : i + 3], at_start, value[i - 1] if i else ""))
        at_start = ch == "\n" or (at_start and ch in " \t")
    return fit(pieces, limit, cut=cut)


def _break_mention(ch: str) -> str:
    return ch + WORD_JOINER if ch == "@" else ch


def plain(text: object, limit: int) -> str:
    """For terminals and logs: cleaned and shortened; nothing is interpreted there."""
    return _escape(text, limit, lambda ch, nxt, start, prev: ch)


def _plain_with_lookalikes(ch: str, nxt: str, start: bool, prev: str) -> str:
    return _ANGLE_LOOKALIKES.get(ch) or _break_mention(ch)


def mattermost_plain(text: object, limit: int) -> str:
    """For Mattermost fields shown without Markdown (attachment fallback, field titles, footer).

    '<' and '>' become lookalikes because Mattermost's Slack compatibility rewrites `<!channel>` into
    @channel and `<url|label>` into a link in incoming webhook payloads.
    """
    return _escape(text, limit, _plain_with_lookalikes)


def _markdown_char(ch: str, nxt: str, start: bool, prev: str) -> str:
    if start and ch in " \t":
        return _NBSP if ch == " " else _NBSP * 4  # indentation would start a code block
    if ch in _MARKDOWN_ENTITIES:
        return _MARKDOWN_ENTITIES[ch]
    if ch in _MARKDOWN_SPECIAL:
        # Escaping ':' and '.' also stops bare URLs and www. names from becoming autolinks.
        return "\\" + ch
    return _break_mention(ch)


def mattermost_markdown(text: object, limit: int) -> str:
    """For Mattermost Markdown (message text, attachment text, field values)."""
    return _escape(text, limit, _markdown_char)


def slack_plain(text: object, limit: int) -> str:
    """For Slack `plain_text` objects (header, context). Slack does not parse them for mentions or
    links; we still swap '<' '>' for lookalikes and break '@' so no client or future change can."""
    return _escape(text, limit, _plain_with_lookalikes)


def _mrkdwn_char(ch: str, nxt: str, start: bool, prev: str) -> str:
    if ch == "_" and _is_word_char(prev) and _is_word_char(nxt[:1]):
        # Inside a word (read_file, mr_iid) Slack never starts or ends italics: the identifier stays
        # exact, so it can be copied from the alert and searched for.
        return ch
    if ch == ">" and start:
        return "›"  # '>' opening a line is a block quote even when entity-escaped
    if ch in _SLACK_ENTITIES:
        return _SLACK_ENTITIES[ch]
    if ch in _SLACK_LOOKALIKES:
        return _SLACK_LOOKALIKES[ch]
    if ch == ":" and nxt == "//":
        return ":" + WORD_JOINER  # no "scheme://" left for the autolinker in the fallback text
    return _break_mention(ch)


def _is_word_char(ch: str) -> bool:
    # ASCII only: what Slack counts as a word character around emphasis markers.
    return len(ch) == 1 and ch.isascii() and ch.isalnum()


def slack_mrkdwn(text: object, limit: int) -> str:
    """For Slack `mrkdwn` objects (send them with verbatim=true) and the top-level `text` fallback."""
    return _escape(text, limit, _mrkdwn_char)


def slack_link(url: str, label: str, limit: int = 500) -> str | None:
    """A mrkdwn link `<url|label>` for a URL we built; None unless it is http(s)."""
    if not _is_http(url):
        return None
    safe_url = "".join(_SLACK_URL_QUOTE.get(c) or _quote_invisible(c) for c in url.strip())
    return f"<{safe_url}|{slack_mrkdwn(label, limit)}>"


def markdown_link(url: str, label: str, limit: int = 500) -> str | None:
    """A Markdown link `[label](url)` for a URL we built; None unless it is http(s)."""
    if not _is_http(url):
        return None
    safe_url = "".join(_URL_QUOTE.get(c) or _quote_invisible(c) for c in url.strip())
    return f"[{mattermost_markdown(label, limit)}]({safe_url})"


# Characters that would end or break the link syntax; our URLs should not hold them, but never trust that.
# '@' too: a trace id is agent-chosen, and "traces/x-@here" in a link target must not read as a mention.
_URL_QUOTE = {" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E", "\n": "%0A", "\t": "%09", "@": "%40"}
_SLACK_URL_QUOTE = {**_URL_QUOTE, "(": "(", ")": ")", "&": "&amp;", "|": "%7C"}


def _quote_invisible(ch: str) -> str:
    """Percent-encode control, format (bidi, zero-width) and separator characters: a trace id in a URL
    is agent-chosen, and such characters would hide or reorder what the reader sees."""
    if unicodedata.category(ch) in _DROP_CATEGORIES or unicodedata.category(ch).startswith("Z"):
        return "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
    return ch


def _is_http(url: str) -> bool:
    return url.strip().lower().startswith(("https://", "http://"))
