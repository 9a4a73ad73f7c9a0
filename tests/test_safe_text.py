"""Escaping of untrusted text: table-driven hostile inputs plus property checks on random text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.support.safe_text import (
    TRUNCATED,
    WORD_JOINER,
    clean,
    markdown_link,
    mattermost_markdown,
    mattermost_plain,
    plain,
    scrub_credentials,
    slack_link,
    slack_mrkdwn,
    slack_plain,
)

HOSTILE = "<!channel> @here [click](http://evil) **bold**"

# (input, substrings that must not survive slack_mrkdwn, substrings that must not survive mattermost_markdown)
CASES = [
    (HOSTILE, ["<!channel>", "@here", "http://evil", "**"], ["<!channel>", "@here", "](http", "**bold**"]),
    ("<!here> <!everyone> <!channel|channel>", ["<!"], ["<!"]),
    ("ping <@U123> and <#C1> and <!subteam^S9|team>", ["<@", "<#", "<!subteam"], ["<@", "<#", "<!"]),
    ("@channel @all @someone", ["@channel", "@all", "@someone"], ["@channel", "@all", "@someone"]),
    ("<http://evil|click me>", ["<http", "http://"], ["<http", "http://"]),
    ("*bold* _it_ ~strike~ `code` ```block```", ["*", "_it_", "~", "`"], ["*bold*", "_it_", "~strike~", "`code`"]),
    ("# heading\n> quote\n| a | b |\n|---|---|", ["\n>", "\n&gt;"], ["\n> quote", "| a |", "\n|---"]),
    ("<script>alert(1)</script> &amp; &#64;channel", ["<script>", "&#64;"], ["<script>", "&#64;"]),
    ("![pixel](http://evil/p.png) www.evil.com", ["http://"], ["![", "](http", "www.evil.com"]),
    ("line\u202eoverride\u200b zero\x1b[31m ansi\x07", ["\u202e", "\u200b", "\x1b", "\x07"], ["\u202e", "\x1b"]),
]


@pytest.mark.parametrize(("text", "slack_bad", "mm_bad"), CASES)
def test_hostile_input_is_neutralised(text, slack_bad, mm_bad):
    s, m = slack_mrkdwn(text, 3000), mattermost_markdown(text, 3000)
    for bad in slack_bad:
        assert bad not in s, (bad, s)
    for bad in mm_bad:
        assert bad not in m, (bad, m)


def _unescape_markdown(text: str) -> str:
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).replace("&lt;", "<").replace("&gt;", ">")
    return text.replace(WORD_JOINER, "").replace("\u00a0", " ")


def _unescape_slack(text: str) -> str:
    for lookalike, ch in {"∗": "*", "ˍ": "_", "∼": "~", "ˋ": "`", "›": ">"}.items():
        text = text.replace(lookalike, ch)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text.replace(WORD_JOINER, "")


def test_hostile_example_stays_readable():
    """What a reader sees after the client decodes escapes is the original text."""
    assert _unescape_markdown(mattermost_markdown(HOSTILE, 3000)) == HOSTILE
    assert _unescape_slack(slack_mrkdwn(HOSTILE, 3000)) == HOSTILE
    assert plain(HOSTILE, 3000) == HOSTILE
    assert slack_plain(HOSTILE, 3000) == "‹!channel› @\u2060here [click](http://evil) **bold**"


@pytest.mark.parametrize("fn", [slack_plain, mattermost_plain])
def test_plain_variants_have_no_angle_brackets_or_live_mentions(fn):
    out = fn("<!channel> <http://evil|x> @all", 500)
    assert "<" not in out and ">" not in out and "@all" not in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("keep\nnew\tlines", "keep\nnew\tlines"),
        ("crlf\r\nand\rcr", "crlf\nand\ncr"),
        ("nul\x00bell\x07esc\x1b[0m", "nulbellesc[0m"),
        ("bidi\u202eevil\u2066x\u2069", "bidievilx"),
        ("commit 9c1a2b3c4d5e6f708192a3b4c5d6e7f809a1b2c3 ok", "commit 9c1a2b3c4d5e6f708192a3b4c5d6e7f809a1b2c3 ok"),
        ("sha256 " + "ab" * 32, "sha256 " + "ab" * 32),
        ("blob " + "0123456789abcdef" * 8 + " end", "blob [hex data, 128 chars] end"),
        ("ruler " + "=" * 100, "ruler " + "=" * 100),
        ("path /project/clx1abc/traces/7f3e9a1b2c3d4e5f/observations/123", None),
    ],
)
def test_clean(text, expected):
    assert clean(text) == (text if expected is None else expected)


def test_clean_replaces_base64_blobs():
    blob = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkwYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY3ODkw"
    assert clean(f"data: {blob}") == f"data: [encoded data, {len(blob)} chars]"


def test_binary_looking_text_becomes_a_placeholder():
    binary = bytes(range(256)).decode("latin-1")
    assert clean(binary) == "[binary-looking text, 256 chars omitted]"
    assert clean("\ufffd" * 20 + "abc") == "[binary-looking text, 23 chars omitted]"
    assert clean("mostly fine text\x00") == "mostly fine text"


@pytest.mark.parametrize("fn", [plain, slack_plain, slack_mrkdwn, mattermost_plain, mattermost_markdown])
def test_truncation_is_visible_and_within_limit(fn):
    out = fn("word " * 1000, 100)
    assert len(out) <= 100 and out.endswith(TRUNCATED)
    assert fn("short", 100) == "short"


@pytest.mark.parametrize("fn", [slack_mrkdwn, mattermost_markdown, mattermost_plain])
def test_truncation_never_cuts_an_escape(fn):
    text = "<&>*_.@" * 50
    for limit in range(14, 60):
        out = fn(text, limit).removesuffix(TRUNCATED)
        assert len(out) + len(TRUNCATED) <= limit
        # the kept part is exactly the escaping of a prefix of the input: no half escape, no lone '@'
        assert any(out == fn(text[:k], 10**6) for k in range(len(text)))


@pytest.mark.parametrize("line", ["# heading", "- item", "1. item", "> quote", "=== setext", "    code"])
def test_mattermost_block_markup_at_line_start_is_escaped(line):
    out = mattermost_markdown(f"first\n{line}", 500).split("\n")[1]
    assert out[0] not in " \t"
    assert out[0] in "\\&\u00a0" or (out[0].isalnum() and "\\." in out)


def test_tiny_limits_do_not_break():
    assert plain("abcdef", 3) == "ab…"
    assert plain("abcdef", 1) == "…"
    assert plain("abcdef", 0) == ""


def test_links_only_for_http_urls():
    assert slack_link("javascript:alert(1)", "x") is None
    assert markdown_link("data:text/html,hi", "x") is None
    assert slack_link("https://h/a?b=1&c=2|x>", "<b>") == "<https://h/a?b=1&amp;c=2%7Cx%3E|&lt;b&gt;>"
    assert markdown_link("https://h/a (b)", "[x]") == "[\\[x\\]](https://h/a%20%28b%29)"


_MENTION = re.compile(r"@(channel|here|all|everyone)\b")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>!@&*_~`[]()#|:/.\\ \nahcnlertp1UC^$=-")), max_size=200))
def test_no_markup_survives_random_hostile_text(text):
    s = slack_mrkdwn(text, 5000)
    assert "<" not in s and ">" not in s and not _MENTION.search(s)
    assert not any(ch in s for ch in "*~`")
    # An underscore survives only inside a word (read_file), where Slack never opens or closes italics.
    assert not re.search(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", s)
    m = mattermost_markdown(text, 5000)
    assert "<" not in m and ">" not in m and not _MENTION.search(m)
    # every Markdown-special character is backslash-escaped
    unescaped = re.sub(r"\\.", "", m.replace("&lt;", "").replace("&gt;", ""))
    assert not any(ch in unescaped for ch in "*_~`[]()#|!\\")
    assert _unescape_markdown(m) == clean(text)
    assert _unescape_slack(s) == clean(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=0, max_value=120))
def test_every_function_respects_its_limit(text, limit):
    for fn in (plain, slack_plain, slack_mrkdwn, mattermost_plain, mattermost_markdown):
        assert len(fn(text, limit)) <= limit


def test_huge_input_is_cut_before_cleaning_and_still_marked():
    assert plain("\u200b" * 50_000 + "tail", 100) == TRUNCATED
    out = mattermost_markdown("x" * 5_000_000, 3000)
    assert len(out) == 3000 and out.endswith(TRUNCATED)


@pytest.mark.parametrize("identifier", ["read_file", "mr_iid", "test_invoice_totals", "a_b_c", "v2_api_1"])
def test_slack_keeps_identifiers_exact(identifier):
    """An underscore inside a word never italicises in Slack: a tool name copied from an alert must match
    (it used to read 'readˍfile', a look-alike character that matches nothing)."""
    assert f" {identifier} " in slack_mrkdwn(f"the agent called {identifier} twice", 3000)


def test_slack_still_neutralises_underscore_emphasis():
    s = slack_mrkdwn("_it_ and x _y_z_ w", 3000)
    assert "_it_" not in s and " _y" not in s and "z_ " not in s
    assert "y_z" in s


# (agent text, what must not reach any channel, what must still read). Every value is a made-up
# placeholder in the shape of the real thing (prefix, length, a digit), never a real credential.
CREDENTIALS = [
    (
        "connect postgresql://app:PLACEHOLDER0pw@db.internal:5432/prod failed",
        "PLACEHOLDER0pw",
        "postgresql://***@db.internal",
    ),
    ("Authorization: Bearer EXAMPLE0TOKEN.EXAMPLE0BODY.EXAMPLE0SIG", "EXAMPLE0TOKEN", "Bearer ***"),
    ("Incorrect API key provided: sk-proj-EXAMPLE000placeholder", "EXAMPLE000placeholder", "sk-proj-***"),
    (
        "git push https://x-access-token:ghs_EXAMPLE0000placeholder00@github.com/a/b",
        "ghs_EXAMPLE0000",
        "https://***@github.com",
    ),
    ("token ghp_EXAMPLE0000000000placeholder000000000", "EXAMPLE0000000000", "token ***"),
    ("curl -H 'PRIVATE-TOKEN: glpat-EXAMPLE0placeholder'", "EXAMPLE0placeholder", "glpat-***"),
    ("LANGFUSE_SECRET_KEY=sk-lf-EXAMPLE0-placeholder", "EXAMPLE0-placeholder", "sk-lf-***"),
    ("requests.get(url, params={'api_key': 'EXAMPLE0key'})", "EXAMPLE0key", "'api_key': '***'"),
    ('{"password": "placeholder0", "user": "bob"}', "placeholder0", '"password": "***", "user": "bob"'),
    ("aws: AKIAEXAMPLE0000000000 denied", "EXAMPLE0000000000", "AKIA***"),
    # A URL with an empty user name (Redis's usual form).
    ("redis.exceptions.AuthenticationError: redis://:placeholder0@cache:6379/0", "placeholder0", "redis://***@cache"),
    # Environment variables and .env lines: the name has a prefix before the key word.
    ("DB_PASSWORD=placeholder0 python manage.py migrate", "placeholder0", "DB_PASSWORD=***"),
    ("export OPENAI_API_KEY=EXAMPLE0key", "EXAMPLE0key", "OPENAI_API_KEY=***"),
    (
        "AWS_SECRET_ACCESS_KEY=EXAMPLE0/placeholder/0000000000000000000",
        "EXAMPLE0/placeholder",
        "AWS_SECRET_ACCESS_KEY=***",
    ),
    ("GITHUB_TOKEN=EXAMPLE0placeholder", "EXAMPLE0placeholder", "GITHUB_TOKEN=***"),
    ("GET /v1/files?token=EXAMPLE0token&page=2", "EXAMPLE0token", "token=***&page=2"),
    ("Authorization: bearer EXAMPLE0000placeholder0000", "EXAMPLE0000placeholder", "bearer ***"),
    # A JWT without its header name, and vendors' keys: Stripe, Google, npm.
    (
        "invalid token: eyJFWEFNUExFMA.eyJQTEFDRUhPTERFUjA.EXAMPLE0signature0placeholder",
        "EXAMPLE0signature",
        "invalid token: eyJ***",
    ),
    ("stripe.error.AuthenticationError: sk_live_EXAMPLE0placeholder", "EXAMPLE0placeholder", "sk_live_***"),
    ("key=AIzaEXAMPLE0000000000placeholder00000", "EXAMPLE0000000000", "AIza***"),
    ("//registry.npmjs.org/:_authToken=npm_EXAMPLE0000000000placeholder000000", "EXAMPLE0000000000", "npm_***"),
    # A private key file an agent printed: its body goes, the armour lines stay.
    (
        "-----BEGIN RSA PRIVATE KEY-----\nEXAMPLE0PLACEHOLDER0NOT0A0KEY0EXAMPLE0PLACEHOLDER0NOT0A0KEY0AB\n"
        "-----END RSA PRIVATE KEY-----",
        "EXAMPLE0PLACEHOLDER0NOT",
        "-----BEGIN RSA PRIVATE KEY-----\n***\n-----END RSA PRIVATE KEY-----",
    ),
]
# Prose and identifiers that look a little like credentials and must stay as they are.
NOT_CREDENTIALS = [
    "password: required",
    "the api key is missing; set OPENAI_API_KEY",
    "git@github.com:acme/repo.git",
    "https://user@host/x",
    "use sk-learn for task-12345678 and risk-assessment 2024",
    "Bearer token expired",
    # Package pins, token counts and our own figures and links.
    "pip install hf_transfer==0.1.4 sk-learn-1.2.0; task-sk-12345678 done",
    "max_tokens=4096 exceeds the limit; input_token: 12000, token=128000",
    "commit 3f2a9c1e4b5d6a7f8e9d0c1b2a3f4e5d6c7b8a9f: rotate the token cache",
    "https://cloud.langfuse.com/project/clx9a8b7c/traces/7f3a9c2e4b5d6a7f8e9d0c1b2a3f4e5d?timestamp=2026-12-01T10:00:00Z",
    "https://gitlab.com/acme/app/-/merge_requests/42 and https://github.com/acme/app/pull/17",
    'read_file {"path": "/srv/app/auth/token_store.py", "offset": 120}',
    "spent $40.50 of the $1000 cap (80%)",
]


@pytest.mark.parametrize(("text", "secret", "kept"), CREDENTIALS)
def test_credentials_in_agent_text_are_masked_in_every_format(text: str, secret: str, kept: str) -> None:
    assert kept in clean(text) and secret not in clean(text)
    for escape in (plain, slack_plain, slack_mrkdwn, mattermost_plain, mattermost_markdown):
        assert secret not in escape(text, 500)


@pytest.mark.parametrize("text", NOT_CREDENTIALS)
def test_prose_that_only_looks_like_a_credential_is_left_alone(text: str) -> None:
    assert clean(text) == text


# Each is 100 kB with no credential: every pattern must give up on it in one pass. Some of them took
# seconds to tens of seconds when a pattern looked ahead over the rest of a long run from each start.
ADVERSARIAL = [
    "sk-" * 33_000,
    "password=" * 11_000,
    "a+" * 50_000 + ":",
    "eyJ" * 33_000,
    "Bearer " * 14_000,
    "-----BEGIN PRIVATE KEY-----" * 3_700,
    "x://:" * 20_000,
    "token=" * 16_000,
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=lambda t: t[:12])
def test_long_runs_that_only_look_like_credentials_are_left_alone(text: str) -> None:
    assert scrub_credentials(text) == text
