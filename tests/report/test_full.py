"""The full report: HTML is self-contained with three embedded charts; hostile text is escaped everywhere."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

from monitors.contracts.findings import Link, Severity
from monitors.report.build import build_week_report, write_full_report
from monitors.report.period import parse_week
from monitors.store.store import Store
from tests.report import builders as b

WEEK = parse_week("2026-W47", ZoneInfo("UTC"))
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> $5$ **bold** | pipe @channel'


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _report(store: Store):
    evil = b.finding(
        "audit", "evil:loop", "loop", Severity.CRITICAL, b.WEEK_END + b.DELAY,
        title=HOSTILE, summary=HOSTILE,
        evidence={"session": HOSTILE, "agent": HOSTILE, "usd": 1.0},
        links=(Link("trace", "javascript:alert(1)"), Link("ok", "https://langfuse.example.com/t/1?a=1&b=<2>")),
    )  # fmt: skip
    b.store_events(store, "audit", b.event(evil))
    b.store_events(store, "drift", b.event(b.drift_finding(7, -0.4, HOSTILE, HOSTILE, agent=HOSTILE)))
    b.store_events(store, "cost", b.event(b.budget_finding("2026-11-20", 100, 52.0, value=HOSTILE)))
    rows = [
        b.obs(d, b.WEEK_START + timedelta(days=d), 30.0 + 5 * d, agent=HOSTILE if d == 4 else "llm-fix")
        for d in range(7)
    ]
    return build_week_report(store, b.source_of(rows), b.settings(), WEEK, now=b.REPORT_NOW)


def test_html_is_self_contained_with_three_png_charts(sqlite_store: Store, tmp_path: Path) -> None:
    md_path, html_path = write_full_report(_report(sqlite_store), tmp_path / "out")
    assert (md_path.name, html_path.name) == ("report-2026-W47.md", "report-2026-W47.html")
    page = html_path.read_text()
    parser = _Collect()
    parser.feed(page)
    images = [attrs["src"] or "" for tag, attrs in parser.tags if tag == "img"]
    assert len(images) == 3
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [t for t, a in parser.tags if t in ("script", "link", "iframe")]
    external = [a.get("src") for t, a in parser.tags if a.get("src") and not str(a.get("src")).startswith("data:")]
    assert external == []
    assert "Daily spend against the cap" in page and "Spend by agent" in page and "Findings by kind" in page
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_hostile_text_is_escaped_in_html(sqlite_store: Store) -> None:
    from monitors.report.full import render_html

    page = render_html(_report(sqlite_store), charts=False)
    parser = _Collect()
    parser.feed(page)
    assert [t for t, _ in parser.tags if t in ("script", "img")] == []
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    hrefs = [a["href"] for t, a in parser.tags if t == "a"]
    assert hrefs and all(h.startswith("https://") for h in hrefs)
    assert "javascript:" not in page
    assert 'href="https://langfuse.example.com/t/1?a=1&amp;b=&lt;2&gt;"' in page
    assert all(a.get("rel") == "noopener noreferrer" for t, a in parser.tags if t == "a")


def test_hostile_text_is_escaped_in_markdown(sqlite_store: Store) -> None:
    from monitors.report.full import render_markdown

    text = render_markdown(_report(sqlite_store))
    assert "<script>" not in text and "<img" not in text
    assert "javascript:" not in text
    assert "**bold**" not in text and "\\*\\*bold\\*\\*" in text
    assert "@channel" not in text  # the mention is broken with a word joiner
    for row in (line for line in text.splitlines() if line.startswith("| ") and "evil" not in line):
        cells = re.split(r"(?<!\\)\|", row)
        assert len(cells) >= 3  # an escaped pipe inside a cell never adds a column


def test_charts_draw_hostile_labels_and_empty_weeks(sqlite_store: Store) -> None:
    from monitors.report.charts import all_charts

    busy = all_charts(_report(sqlite_store))
    empty = all_charts(
        build_week_report(Store.open("sqlite://"), b.source_of([]), b.settings(), WEEK, now=b.REPORT_NOW)
    )
    assert (
        [t for t, _ in busy]
        == [t for t, _ in empty]
        == ["Daily spend against the cap", "Spend by agent", "Findings by kind"]
    )
    assert all(uri.startswith("data:image/png;base64,") for _, uri in [*busy, *empty])
