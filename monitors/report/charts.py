"""Charts for the full report, drawn with matplotlib and embedded as PNG data URIs (no files, no network).

matplotlib is imported inside the functions with the Agg backend, so `run-monitor --help` and the
monitors never pay for it. Labels may be agent-written (trace names): '$' is escaped so matplotlib does
not read them as mathtext (which would fail to draw on unbalanced input), and they are shortened.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from collections.abc import Sequence
from typing import Any

from monitors.contracts.findings import Severity
from monitors.report.data import WeekReport
from monitors.report.fmt import short

SEVERITY_COLORS = {Severity.CRITICAL: "#D0021B", Severity.WARNING: "#F5A623", Severity.INFO: "#4A90E2"}
BAR = "#4A90E2"
OVER = "#D0021B"
WARN = "#F5A623"  # at or above 80% of the cap, where the cost monitor warns
PREVIOUS = "#B8C4D6"
MAX_BARS = 10


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def label(text: str, limit: int = 28) -> str:
    """A safe tick label: one line, short, no mathtext."""
    return short(text, limit).replace("$", r"\$")


def _png(fig: Any) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def daily_spend_chart(report: WeekReport) -> str:
    """Bars per local day, red above the global cap, with the cap as a dashed line."""
    plt = _pyplot()
    cap = report.spend.cap
    days = [f"{day:%a %-d}" for day, _ in report.spend.daily]
    values = [cost for _, cost in report.spend.daily]
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    colors = [OVER if cap and v > cap else WARN if cap and v >= 0.8 * cap else BAR for v in values]
    ax.bar(days, values, color=colors)
    if cap:
        ax.axhline(cap, color="#333333", linestyle="--", linewidth=1)
        ax.text(len(days) - 0.5, cap, f" cap \\${cap:,.0f}", va="bottom", ha="right", fontsize=9)
    for i, v in enumerate(values):
        ax.text(i, v, f"\\${v:,.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("USD")
    ax.set_title("Daily spend against the cap")
    _tidy(ax)
    return _png(fig)


def by_agent_chart(report: WeekReport) -> str:
    """Spend per agent this week, next to the week before (top agents only)."""
    plt = _pyplot()
    ranked = report.spend.by.get("agent", [])[:MAX_BARS]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * max(len(ranked), 2) + 1.2))
    names = [label(r.name) for r in ranked][::-1]
    now = [r.cost for r in ranked][::-1]
    before = [r.previous for r in ranked][::-1]
    ys = range(len(names))
    ax.barh([y + 0.2 for y in ys], before, height=0.4, color=PREVIOUS, label="week before")
    ax.barh([y - 0.2 for y in ys], now, height=0.4, color=BAR, label="this week")
    ax.set_yticks(list(ys), labels=names)
    ax.set_xlabel("USD")
    ax.set_title("Spend by agent")
    if ranked:
        ax.legend(loc="lower right", fontsize=8)
    _tidy(ax)
    return _png(fig)


def findings_chart(report: WeekReport) -> str:
    """Findings per monitor/kind, stacked by severity."""
    plt = _pyplot()
    counts: Counter[tuple[str, Severity]] = Counter((f"{f.monitor}/{f.kind}", f.severity) for f in report.findings)
    kinds = sorted({k for k, _ in counts}, key=lambda k: -sum(n for (kk, _), n in counts.items() if kk == k))
    kinds = kinds[: MAX_BARS + 2][::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * max(len(kinds), 2) + 1.2))
    left = [0] * len(kinds)
    for severity in (Severity.CRITICAL, Severity.WARNING, Severity.INFO):
        widths = [counts.get((k, severity), 0) for k in kinds]
        if any(widths):
            ax.barh(range(len(kinds)), widths, left=left, color=SEVERITY_COLORS[severity], label=severity.label)
            left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_yticks(list(range(len(kinds))), labels=[label(k) for k in kinds])
    if max(left, default=0) > 50:
        ax.set_xscale("symlog")  # one noisy kind (hundreds of unverifiable cases) must not flatten the rest
    for y, total in enumerate(left):
        ax.text(total, y, f" {total}", va="center", fontsize=8)
    ax.set_xlabel("findings (distinct)")
    ax.set_title("Findings by kind")
    if kinds:
        ax.legend(loc="lower right", fontsize=8)
    _tidy(ax)
    return _png(fig)


def _tidy(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def all_charts(report: WeekReport) -> Sequence[tuple[str, str]]:
    """(title, data URI) for each chart of the full report."""
    daily = (("Daily spend against the cap", daily_spend_chart(report)),) if report.spend.known else ()
    return (
        *daily,  # an unread week would draw as seven $0 bars
        ("Spend by agent", by_agent_chart(report)),
        ("Findings by kind", findings_chart(report)),
    )
