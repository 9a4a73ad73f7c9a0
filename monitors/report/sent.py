"""Which channels already have a week's digest, so a rerun posts it once per channel.

A report run exits 1 when a channel failed or Langfuse could not be read, and a CronJob's retry or a
person's rerun then runs it again for the same week. Without this, every channel that took the digest
the first time would get it again. Each run records, per channel, whether the digest it posted was
complete (every spend query answered, and the week over); a later run for the same week skips a channel
that has a complete digest, and posts again only where the earlier one failed or was incomplete and this
one is complete. A digest of the week so far is incomplete: the scheduled report after the week posts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from monitors.report.period import ReportWeek

COMPLETE, INCOMPLETE = "complete", "incomplete"

# Reruns for a week happen within days; a week re-reported months later posts again, which is what a
# person asking for an old week wants.
LOOK_BACK = timedelta(days=60)


def sent_before(runs: Iterable[Mapping[str, Any]], week: ReportWeek) -> dict[str, str]:
    """channel -> 'complete' | 'incomplete' for the digests of `week` that earlier runs delivered."""
    sent: dict[str, str] = {}
    for run in runs:
        summary = run.get("summary")
        if run.get("monitor") != "report" or not isinstance(summary, Mapping):
            continue
        window = summary.get("window") or {}
        if window.get("start") != week.start.isoformat() or window.get("end") != week.end.isoformat():
            continue
        for channel, how in (summary.get("sent") or {}).items():
            if sent.get(channel) != COMPLETE:
                sent[channel] = str(how)
    return sent


def read_sent(store: Any, week: ReportWeek, now: datetime) -> dict[str, str]:
    """What earlier runs for `week` delivered, read from the store's run history."""
    start = min(week.start, now) - LOOK_BACK
    return sent_before(store.runs_between(start, datetime.now(UTC) + timedelta(days=1)), week)


def needs_digest(channel: str, sent: Mapping[str, str], *, complete: bool) -> bool:
    """Post unless the channel has a complete digest, or has an incomplete one and this one is no better."""
    earlier = sent.get(channel)
    return earlier is None or (earlier == INCOMPLETE and complete)
