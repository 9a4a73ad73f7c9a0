"""Standard five-field cron, read the way cron and Kubernetes read it, for validation and the scheduler."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger


def crontab_trigger(expr: str, timezone: ZoneInfo) -> CronTrigger:
    """A CronTrigger that reads `expr` as standard cron (and Kubernetes) do.

    APScheduler 3 numbers weekdays from Monday=0 while cron numbers them from Sunday=0 (its issue 286,
    fixed only in 4.x): `from_crontab("0 8 * * 4")` fires on Fridays, Kubernetes on Thursdays. The
    day-of-week field is rewritten with names, which both read the same way.
    """
    fields = expr.split()
    if len(fields) == 5:
        fields[4] = cron_weekdays(fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=timezone)


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
