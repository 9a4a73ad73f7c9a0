"""The full weekly report: Markdown, and a self-contained HTML page (inline CSS, charts as data URIs).

All text may be agent-written: HTML goes through `html.escape` after control characters are dropped,
Markdown through monitors/report/markdown.py, which escapes only what Markdown would read as markup (so
the file reads as plain text too). Only http(s) links are ever written, and HTML links open with
rel="noopener noreferrer".
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from monitors.contracts.findings import Link
from monitors.report.data import WeekReport
from monitors.report.digest import NOT_LINKED, NOT_LINKED_WHY, build_digest_message
from monitors.report.findings import event_alerts
from monitors.report.fmt import delta, money, sparkline
from monitors.report.markdown import md_link, md_text
from monitors.report.tables import Cell, Table, report_tables
from monitors.support.safe_text import clean

MD_CELL = 2000

CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0;background:#f4f6f9;color:#1d2733}
main{max-width:1120px;margin:0 auto;padding:24px 32px 48px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:19px;margin:32px 0 10px;border-bottom:2px solid #dde3ea;padding-bottom:4px}
.sub{color:#5b6b7d;margin:0 0 18px}.headline{font-size:16px;background:#fff;border-left:4px solid #F5A623;
padding:10px 14px;border-radius:4px}.quiet{border-left-color:#4caf50}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:18px 0}.card{background:#fff;border-radius:6px;padding:12px 16px;
min-width:150px;box-shadow:0 1px 2px rgba(0,0,0,.08)}.card b{display:block;font-size:22px}
.card span{color:#5b6b7d;font-size:13px}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:16px}.chart{background:#fff;border-radius:6px;padding:10px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}.chart.wide{grid-column:1/3}.chart img{max-width:100%;display:block;margin:auto}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e6eaef;vertical-align:top;overflow-wrap:break-word}
.nw{white-space:nowrap}.grid{overflow-x:auto}
th{background:#eef2f6;font-weight:600}tr:nth-child(even) td{background:#fafbfc}.note{color:#5b6b7d;font-size:13px}
details summary{cursor:pointer;color:#2a5db0;margin:6px 0}a{color:#2a5db0}.spark{font-size:20px;letter-spacing:2px}
footer{margin-top:36px;color:#7a8899;font-size:12px}
"""


def _h(text: object) -> str:
    return html.escape(clean(text), quote=True)


# A word with a hyphen or slash in it (an agent, a session id, a date, llm-fix-1121-4883) is one name:
# browsers may break a line after the hyphen, which reads as two names. Longer tokens may wrap.
_NAME_LIKE = re.compile(r"[-/–]")
NAME_MAX = 48


def _h_words(text: object) -> str:
    """Escaped text whose hyphenated words never break across lines in a table cell."""
    out = []
    for token in re.split(r"(\s+)", clean(text)):
        escaped = html.escape(token, quote=True)
        keep = token and not token.isspace() and len(token) <= NAME_MAX and _NAME_LIKE.search(token)
        out.append(f'<span class="nw">{escaped}</span>' if keep else escaped)
    return "".join(out)


def _html_links(links: Sequence[Link]) -> str:
    out = []
    for link in links:
        if link.url.strip().lower().startswith(("https://", "http://")):
            out.append(f'<a href="{_h(link.url.strip())}" rel="noopener noreferrer">{_h_words(link.label)}</a>')
    return " · ".join(out)


def _html_cell(cell: Cell) -> str:
    return _html_links(cell) if isinstance(cell, tuple) else _h_words(cell)


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{_h(h)}</th>" for h in table.headers)
    body = "".join("<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in table.rows)
    note = f'<p class="note">{_h(table.note)}</p>' if table.note else ""
    grid = f'<div class="grid"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    if table.collapsed:
        grid = f"<details><summary>Show {len(table.rows)} rows</summary>{grid}</details>"
    return f"<h2>{_h(table.title)}</h2>{note}{grid}"


def _cards(report: WeekReport) -> list[tuple[str, str]]:
    spend = report.spend
    return [
        (money(spend.total), f"spend ({delta(spend.total, spend.previous_total)} vs {money(spend.previous_total)})")
        if spend.known
        else ("unknown", "spend (could not be read)"),
        (str(report.days_over_budget), "day(s) over budget"),  # as the headline: unalerted days over the cap too
        (str(len(report.drift)), "goal-drift alert(s)"),
        (str(len(report.audit)), "audit finding(s)"),
        (str(len(event_alerts(report.findings))), "error/evaluation alert(s)"),
        (f"{report.unchecked_traces:,}", "trace(s) goal drift could not check"),
        (f"{report.not_linked_traces:,}", f"trace(s) {NOT_LINKED} ({NOT_LINKED_WHY})"),
    ]


def render_html(report: WeekReport, *, charts: bool = True) -> str:
    """The self-contained HTML page (no external resources at all)."""
    from monitors.report.charts import all_charts

    digest = build_digest_message(report)
    cards = "".join(f'<div class="card"><b>{_h(v)}</b><span>{_h(k)}</span></div>' for v, k in _cards(report))
    spark = _daily_spark(report)
    figures = ""
    if charts:
        items = [
            f'<div class="chart{" wide" if i == 0 else ""}"><img alt="{_h(title)}" src="{uri}"></div>'
            for i, (title, uri) in enumerate(all_charts(report))
        ]
        figures = f'<h2>Charts</h2><div class="charts">{"".join(items)}</div>'
    tables = "".join(_html_table(t) for t in report_tables(report))
    quiet = " quiet" if report.quiet else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_h(digest.title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{_h(digest.title)}</h1>"
        f'<p class="sub">Generated {report.generated_at:%Y-%m-%d %H:%M} UTC · time zone {_h(report.week.tz.key)} · '
        f'daily spend Mon-Sun <span class="spark">{_h(spark)}</span></p>'
        f'<p class="headline{quiet}">{_h(digest.summary)}</p><div class="cards">{cards}</div>'
        f"{figures}{tables}<footer>{_h(digest.footer)}</footer></main></body></html>\n"
    )


def _md(text: object, *, inline: bool = False) -> str:
    return md_text(text, MD_CELL, inline=inline)


def _md_cell(cell: Cell) -> str:
    if isinstance(cell, tuple):
        return " · ".join(link for link in (md_link(x.url, x.label) for x in cell) if link)
    # Every line break, "\r" included (Markdown ends a table row at either), folds to a space.
    return _md(" ".join(str(cell).splitlines()), inline=True) or " "


def _md_table(table: Table) -> list[str]:
    lines = [f"## {_md(table.title, inline=True)}", ""]
    if table.note:
        lines += [_md(table.note), ""]
    lines.append("| " + " | ".join(_md(h, inline=True) for h in table.headers) + " |")
    lines.append("|" + "---|" * len(table.headers))
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return [*lines, ""]


def _daily_spark(report: WeekReport) -> str:
    # An unread week drawn as seven lowest bars would read as seven $0 days.
    return sparkline([c for _, c in report.spend.daily]) if report.spend.known else "unknown"


def render_markdown(report: WeekReport) -> str:
    """The Markdown report: the digest's headline, then every table."""
    digest = build_digest_message(report)
    lines = [f"# {_md(digest.title, inline=True)}", "", _md(digest.summary), ""]
    lines += [f"- {_md(k)}: **{_md(v)}**" for v, k in _cards(report)]
    lines += ["", f"Daily spend Mon-Sun: {_daily_spark(report)}", ""]
    for table in report_tables(report):
        lines += _md_table(table)
    lines.append(_md(digest.footer))
    return "\n".join(lines) + "\n"
