"""Standard five-field cron, read the way cron and Kubernetes read it, for validation and the scheduler."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger


def crontab_trigger(expr: str, timezone: ZoneInfo) -> CronTrigger:
    """A CronTrigger that reads `expr` as standard cron (and Kubernetes) do.

    APScheduler 3 numbers weekdays from Monday=0 while cron numbers them from Sunday=0 (fixed only in
    4.x): `from_crontab("0 8 * * 4")` fires on Fridays, Kubernetes on Thursdays. The
    day-of-week field is rewritten with names, which both read the same way.

    A ValueError names the expression and why, e.g. "'5 * * *' is not a cron expression (wrong number
    of fields; got 4, expected 5)", for the caller to put after the key it came from.
    """
    fields = expr.split()
    try:
        if len(fields) == 5:
            fields[4] = cron_weekdays(fields[4])
        trigger = CronTrigger.from_crontab(" ".join(fields), timezone=timezone)
    except ValueError as exc:
        raise ValueError(f"{expr!r} is not a cron expression ({_reason(exc)})") from None
    if not _some_day_exists(trigger):
        # cron and Kubernetes accept "0 0 31 2 *" and never run it: a job that silently never happens.
        raise ValueError(f"{expr!r} never fires: none of its months has the day of month it names")
    return trigger


def _reason(exc: ValueError) -> str:
    """APScheduler's message, worded to follow "is not a cron expression (": "Error validating
    expression '61': the last value..." becomes "'61': the last value..."."""
    reason = str(exc).removeprefix("Error validating expression ")
    return reason[:1].lower() + reason[1:]


def _some_day_exists(trigger: CronTrigger) -> bool:
    """Whether some month the trigger allows has a day it allows (checked in a leap year, so Feb 29
    counts: it fires every fourth year). Weekdays fall on every date within 28 years, so they cannot
    make a real date impossible."""
    fields = {field.name: field for field in trigger.fields}
    for month in range(1, 13):
        first = datetime(2028, month, 1)
        if fields["month"].get_next_value(first) == month and fields["day"].get_next_value(first) is not None:
            return True
    return False


def cron_weekdays(field: str) -> str:
    """Standard cron day-of-week (0 or 7 = Sunday, names, ranges, steps) as explicit weekday names."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        part, _, step_text = item.partition("/")
        step = int(step_text) if step_text.isdigit() else None
        if step_text and step is None:
            raise ValueError(f"day of week {field!r}: bad step {step_text!r}")
        if part in ("*", "?"):
            low, high = 0, 6
        else:
            low_text, _, high_text = part.partition("-")
            low = _weekday(low_text, field)
            high = _weekday(high_text, field) if high_text else (6 if step else low)
        if high < low:
            raise ValueError(f"day of week {field!r}: range {part!r} runs backwards")
        days.update(d % 7 for d in range(low, high + 1, step or 1))
    return ",".join(WEEKDAYS[d] for d in sorted(days))


WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday(text: str, field: str) -> int:
    text = text.strip().lower()
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text)  # 7 is Sunday too; callers take it modulo 7 after expanding ranges like 5-7
    if text[:3] in WEEKDAYS and len(text) == 3:
        return WEEKDAYS.index(text)
    raise ValueError(f"day of week {field!r}: {text!r} is not 0-7 or a weekday name (sun..sat)")
