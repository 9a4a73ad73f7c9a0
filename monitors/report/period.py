"""The ISO week a report covers, in the report's time zone: parsing `2026-W47` and "last complete week".

A week runs from Monday 00:00 to the next Monday 00:00 local time; its bounds are kept in UTC for
queries. On a DST change the week is 167 or 169 hours long, which is what a reader in that zone expects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitors.contracts.errors import ConfigError
from monitors.contracts.findings import utc

_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


@dataclass(frozen=True)
class ReportWeek:
    """One ISO week: its label (2026-W47), local Monday, and [start, end) in UTC."""

    year: int
    week: int
    tz: ZoneInfo

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def days(self) -> list[date]:
        return [self.monday + timedelta(days=i) for i in range(7)]

    @property
    def start(self) -> datetime:
        return utc(datetime.combine(self.monday, time(0), tzinfo=self.tz))

    @property
    def end(self) -> datetime:
        return utc(datetime.combine(self.monday + timedelta(days=7), time(0), tzinfo=self.tz))

    def previous(self) -> ReportWeek:
        year, week, _ = (self.monday - timedelta(days=7)).isocalendar()
        return ReportWeek(year, week, self.tz)

    def over_at(self, now: datetime) -> bool:
        """Whether the week had ended by `now`: before that its report covers the week so far."""
        return utc(now) >= self.end

    def day_end(self, day: date) -> datetime:
        """When the local `day` ends (UTC)."""
        return utc(datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz))

    def local_day(self, when: datetime) -> date:
        return utc(when).astimezone(self.tz).date()

    def span(self) -> str:
        """'16-22 Nov 2026' (or across months/years: '30 Dec 2026 - 5 Jan 2027')."""
        first, last = self.days[0], self.days[-1]
        if first.year != last.year:
            return f"{first:%-d %b %Y} - {last:%-d %b %Y}"
        if first.month != last.month:
            return f"{first:%-d %b} - {last:%-d %b %Y}"
        return f"{first:%-d}-{last:%-d %b %Y}"


def parse_week(text: str, tz: ZoneInfo) -> ReportWeek:
    """'2026-W47' (or '2026W47') -> ReportWeek; ConfigError for anything else."""
    match = _WEEK.match(text.strip())
    if not match:
        raise ConfigError(f"--week: {text!r} is not an ISO week such as 2026-W47")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ConfigError(f"--week: {year} has no ISO week {week}") from None
    return ReportWeek(year, week, tz)


def require_begun(week: ReportWeek, now: datetime) -> None:
    """ConfigError for a week that has not started at `now`: it has nothing to report."""
    if utc(now) < week.start:
        raise ConfigError(f"--week: {week.label} has not begun (it starts {week.monday:%a %-d %b %Y})")


def last_complete_week(now: datetime, tz: ZoneInfo) -> ReportWeek:
    """The most recent ISO week that ended at or before `now` in `tz`."""
    today = utc(now).astimezone(tz).date()
    year, week, _ = (today - timedelta(days=7)).isocalendar()
    return ReportWeek(year, week, tz)


def week_of(day: date, tz: ZoneInfo) -> ReportWeek:
    year, week, _ = day.isocalendar()
    return ReportWeek(year, week, tz)
