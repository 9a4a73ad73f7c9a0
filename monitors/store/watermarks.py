"""Which window a run reads, and where the live watermark goes once it is read.

The watermark is where the last run of a monitor stopped reading; a run reads from it to now minus the
query delay. Replays, reruns and clocks that misbehave must not move it somewhere the next live run
would read twice, skip, or never reach.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from monitors.contracts.findings import RunWindow

log = logging.getLogger("monitors.engine.pipeline")

DEFAULT_LOOKBACK = timedelta(days=1)
MAX_CATCHUP = timedelta(days=14)  # like ElastAlert's old_query_limit: never replay months by accident


def choose_window(
    watermark: datetime | None, now: datetime, delay: timedelta, since: datetime | None, until: datetime | None
) -> RunWindow:
    end = until or now - delay
    start = since or watermark or end - DEFAULT_LOOKBACK
    if since is None and end - start > MAX_CATCHUP:
        log.warning("watermark is %s old; catching up only the last %s", end - start, MAX_CATCHUP)
        start = end - MAX_CATCHUP
    return RunWindow(min(start, end), end)


def trusted_watermark(watermark: datetime | None, now: datetime) -> datetime | None:
    """The stored watermark, or None when it lies after `now`: nothing after now can have been read, so
    a clock that jumped back by more than the query delay (or a pod whose clock ran ahead) wrote it.
    Trusting it would leave every window empty until the clock caught up: a monitor blind for that long.
    The run reads the default lookback instead; dedupe keeps what was already sent from going again."""
    if watermark is not None and watermark > now:
        log.warning("watermark %s is after now (%s): the clock went back; reading the last day", watermark, now)
        return None
    return watermark


def next_watermark(
    watermark: datetime | None, window: RunWindow, since: datetime | None, until: datetime | None
) -> datetime | None:
    """Where the live watermark moves once `window` is read, or None to leave it where it is.

    Once there is one, only a window that ends where a live run ends and leaves no gap after it moves
    it, and never backwards: a replay of a past range (`--until`, a `--source` file) would otherwise send
    the next live run back over weeks, a `--since` after the watermark would skip what lies between,
    and a clock that went back a little would make the next run read a window again. A store without
    one takes the window's end, as after a first run (the cost metrics read the ledger as of it).
    """
    if watermark is None:
        return window.end
    if until is not None or window.end <= watermark or (since is not None and since > watermark):
        return None
    return window.end
