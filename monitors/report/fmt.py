"""Small text helpers shared by the digest and the full report: money, deltas, sparklines, shortening."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

from monitors.report.period import ReportWeek

SPARKS = "▁▂▃▄▅▆▇█"


def money(value: float) -> str:
    """$1,234.56 (two decimals; small amounts keep cents: $0.07)."""
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def money_at_least_a_cent(value: float) -> str:
    """money(), but 'under $0.01' for an amount above zero that would round to '$0.00' (a wasted step
    that cost a fraction of a cent did cost something)."""
    return "under $0.01" if 0 < value < 0.005 else money(value)


def delta(current: float, previous: float) -> str:
    """Change against the week before: '+12%', '-5%', '±0%', 'new' (nothing before), 'none this week'."""
    if previous <= 0:
        return "new" if current > 0 else "±0%"
    if current <= 0:
        return "-100%"
    change = (current - previous) / previous * 100
    if abs(change) < 0.5:
        return "±0%"
    return f"{change:+.0f}%"


def sparkline(values: Sequence[float]) -> str:
    """One bar per value, scaled from zero to the largest (so a zero day is the lowest bar)."""
    clean = [v if v == v and v > 0 else 0.0 for v in values]  # NaN and negatives draw as zero
    top = max(clean, default=0.0)
    if top <= 0:
        return SPARKS[0] * len(clean)
    return "".join(SPARKS[min(len(SPARKS) - 1, round(v / top * (len(SPARKS) - 1)))] for v in clean)


def short(text: str, limit: int) -> str:
    """One line of at most `limit` characters (whitespace folded), with '…' when cut."""
    flat = re.sub(r"\s+", " ", str(text)).strip()
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)].rstrip() + "…"


def day_label(day: date | str) -> str:
    """'Sat 21 Nov' for a date or an ISO date string (anything else is shown as given)."""
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day)
        except ValueError:
            return short(day, 20)
    return f"{day:%a %-d %b}"


def when_label(when: datetime | None, week: ReportWeek) -> str:
    if when is None:
        return "never"
    local = when.astimezone(week.tz)
    return f"{local:%a %-d %b %H:%M} {local.tzname() or week.tz.key}"


def checked_label(through: datetime | None, week: ReportWeek) -> str:
    """How far a monitor's successful runs read the week: 'whole week checked' or 'checked up to ...'."""
    if through is None:
        return "no successful run this week"
    if through >= week.end:
        return "whole week checked"
    return f"checked up to {when_label(through, week)}"


def as_of_label(as_of: datetime | None, day: date | str, week: ReportWeek) -> str:
    """What a day's spend figure covers: 'whole day', or 'as of 10:00 UTC' (the time alone when it is on
    that day in the report's zone, else with its date)."""
    if as_of is None:
        return "whole day"
    local = as_of.astimezone(week.tz)
    when = f"{local:%H:%M}" if local.date().isoformat() == str(day) else f"{local:%a %-d %b %H:%M}"
    return f"as of {when} {local.tzname() or week.tz.key}"
