"""The Markdown report escapes only what Markdown reads as markup: plain words and punctuation stay as
they are, while agent text still cannot link, mention, run HTML, format or break a table.

Rendered with markdown-it-py (CommonMark plus GitHub's tables and strikethrough); GitHub's autolinks
are checked on the text, as markdown-it-py has no autolinker without an extra package.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import markdown_it  # the dev extra: the escaping is judged by a real renderer

from monitors.contracts.findings import Link, Severity
from monitors.report.build import build_week_report
from monitors.report.full import _cards, render_markdown
from monitors.report.markdown import md_link, md_text
from monitors.report.period import parse_week
from monitors.store.store import Store
from monitors.support.safe_text import WORD_JOINER
from tests.report import builders as b

WEEK = parse_week("2026-W47", ZoneInfo("UTC"))
HOSTILE = (
    "[click](https://evil.example/a) ![img](https://evil.example/i.png) <script>alert(1)</script> <b>b</b> "
    "&lt;i&gt; &#60;u&#62; **bold** _it_ `code` ~~gone~~ $x$ @channel @here a | b https://evil.example/x "
    "www.evil.example <https://evil.example/y> [ref]: https://evil.example/z"
)
BLOCKS = "# heading\n- item\n+ item\n1. item\n2) item\n> quote\n    code\n---\n===\n***\n___"


def _render(text: str) -> str:
    return markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_plain_words_and_punctuation_are_left_as_they_are() -> None:
    for text in (
        "Spend $195.71 (+34% vs the week before); 1 day(s) over budget.",
        "llm-fix: runaway in session llm-fix-1121-4883 (critical; $22.47 spent on 203 wasted step(s))",
        "polled read_file 40 times over 52 min: 2026-W47, platform/web!92 (open), acme-labs/agent-sdk#58",
        'it\'s "quoted" = {braces} ^caret, a.b: c! 50% + 5 - 3',
    ):
        assert md_text(text, 2000) == text
        assert md_text(text, 2000, inline=True) == text


def test_agent_text_cannot_link_mention_run_html_format_or_break_a_table() -> None:
    cell = md_text(HOSTILE, 2000, inline=True)
    page = _render(f"| one | two |\n|---|---|\n| {cell} | x |\n")
    tags = [t for t, _ in _tags(page)]
    assert [t for t in tags if t not in ("table", "thead", "tbody", "tr", "th", "td")] == []
    assert page.count("<td>") == 2  # the pipe did not add a column
    for autolink in ("https://", "http://", "www."):  # GitHub would link these
        assert autolink not in cell
    assert f"@{WORD_JOINER}channel" in cell and f"@{WORD_JOINER}here" in cell
    # What the reader sees is the text the agent wrote (entities shown as typed, not decoded).
    visible = re.sub(r"<[^>]+>", "", page).replace(WORD_JOINER, "")
    assert "&amp;lt;i&amp;gt; &amp;#60;u&amp;#62;" in visible and "**bold** _it_ `code` ~~gone~~ $x$" in visible


def test_no_block_can_start_from_agent_text_in_a_paragraph() -> None:
    page = _render(md_text(BLOCKS, 2000))
    assert [t for t, _ in _tags(page) if t != "p"] == []  # no heading, list, quote, code block or rule


def test_links_we_build_keep_their_target_and_refuse_other_schemes() -> None:
    link = md_link("https://langfuse.example.com/t/1?a=1&b=<2> (x)@here", "trace [1] @channel")
    [(tag, attrs)] = _tags(_render(link or ""))[1:]
    assert tag == "a" and attrs["href"] == "https://langfuse.example.com/t/1?a=1&b=%3C2%3E%20%28x%29%40here"
    assert md_link("javascript:alert(1)", "x") is None


def test_the_report_file_reads_as_plain_text_and_only_our_links_are_links(sqlite_store: Store) -> None:
    evil = b.finding(
        "audit", "evil:loop", "loop", Severity.CRITICAL, b.WEEK_END + b.DELAY,
        title=HOSTILE, summary=HOSTILE, evidence={"session": HOSTILE, "agent": HOSTILE, "usd": 1.0},
        links=(Link("trace", "https://langfuse.example.com/t/1"),),
    )  # fmt: skip
    b.store_events(sqlite_store, "audit", b.event(evil))
    b.store_events(sqlite_store, "drift", b.event(b.drift_finding(7, -0.4, BLOCKS, HOSTILE, agent=HOSTILE)))
    rows = [b.obs(d, b.WEEK_START + timedelta(days=d), 30.0 + 5 * d) for d in range(7)]
    report = build_week_report(sqlite_store, b.source_of(rows), b.settings(), WEEK, now=b.REPORT_NOW)
    text = render_markdown(report)
    assert "# Weekly report 2026-W47 (16-22 Nov 2026)" in text
    assert "| Mon 16 Nov | $30.00 | $40.00 |" in text  # no '\$30\.00'
    page = _render(text)
    hrefs = [a["href"] or "" for t, a in _tags(page) if t == "a"]
    assert hrefs and all(h.startswith(("https://langfuse.example.com/", "https://gitlab.example.com/")) for h in hrefs)
    assert not [t for t, _ in _tags(page) if t in ("script", "img", "b", "em", "code", "del", "pre")]
    strong = re.findall(r"<strong>(.*?)</strong>", page)
    assert len(strong) == len(_cards(report)) and all(
        re.fullmatch(r"\$?[\d,.]+", s) for s in strong
    )  # the cards' figures only
    assert not [t for t, _ in _tags(page) if t in ("h3", "h4", "blockquote", "ol", "hr")]
