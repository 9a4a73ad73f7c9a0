"""ISO weeks in the report's time zone, and the small text helpers (sparkline, deltas, money)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitors.contracts.errors import ConfigError
from monitors.report.fmt import delta, money, short, sparkline
from monitors.report.period import last_complete_week, parse_week
from monitors.report.spend import granularity_for

UTC_TZ = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")


def test_parse_week_bounds_in_utc_and_local_zone() -> None:
    week = parse_week("2026-W47", UTC_TZ)
    assert (week.start, week.end) == (datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))
    paris = parse_week("2026w47", PARIS)
    assert paris.start == datetime(2026, 11, 15, 23, tzinfo=UTC)  # local midnight, UTC+1
    assert paris.label == "2026-W47" and paris.span() == "16-22 Nov 2026"


def test_week_across_a_dst_change_is_167_hours() -> None:
    week = parse_week("2026-W13", PARIS)  # clocks go forward on Sunday 29 March 2026
    assert week.end - week.start == timedelta(hours=167)
    assert granularity_for(week) == "hour" and granularity_for(parse_week("2026-W13", UTC_TZ)) == "day"


@pytest.mark.parametrize("text", ["2026-47", "W47", "2026-W54", "2026-W00", "next week"])
def test_bad_weeks_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="--week"):
        parse_week(text, UTC_TZ)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 26, 8, tzinfo=UTC), "2026-W47"),  # Thursday after
        (datetime(2026, 11, 23, 0, 5, tzinfo=UTC), "2026-W47"),  # just after the week ended
        (datetime(2026, 11, 22, 23, 59, tzinfo=UTC), "2026-W46"),  # W47 is not over yet
        (datetime(2027, 1, 4, 9, tzinfo=UTC), "2026-W53"),  # 2026 has 53 ISO weeks
    ],
)
def test_last_complete_week(now: datetime, expected: str) -> None:
    assert last_complete_week(now, UTC_TZ).label == expected


def test_last_complete_week_uses_the_report_zone() -> None:
    # Sunday 23:30 UTC is already Monday in Paris: W47 is complete there, not in UTC.
    now = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert last_complete_week(now, PARIS).label == "2026-W47"
    assert last_complete_week(now, UTC_TZ).label == "2026-W46"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 1, 2, 3, 4, 5, 6, 7], "▁▂▃▄▅▆▇█"),
        ([10, 10, 10], "███"),
        ([0, 0, 0], "▁▁▁"),
        ([21.5, 24.3, 21.9, 33.6, 21.9, 52.5, 19.8], "▄▄▄▅▄█▄"),
        ([float("nan"), -3, 8], "▁▁█"),
        ([], ""),
    ],
)
def test_sparkline(values: list[float], expected: str) -> None:
    assert sparkline(values) == expected


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [(112, 100, "+12%"), (95, 100, "-5%"), (100.2, 100, "±0%"), (5, 0, "new"), (0, 0, "±0%"), (0, 7, "-100%")],
)
def test_delta(current: float, previous: float, expected: str) -> None:
    assert delta(current, previous) == expected


def test_money_and_short() -> None:
    assert money(1234.5) == "$1,234.50" and money(0.07) == "$0.07" and money(-2) == "-$2.00"
    assert short("a\n  b   c", 10) == "a b c"
    assert short("x" * 50, 10) == "x" * 9 + "…"
