"""Scores written back to Langfuse: each once per logical result, and none lost to a run cut short.

Langfuse stamps a score with the time of the POST and overwrites only a score with the same id, name and
UTC day, so a rerun or a look-back on a later day would add a duplicate: an unchanged score is not sent
again, and a changed score written on an earlier day is deleted before it is sent. The store remembers
what was written.

A write-back can stop part way: a rate-limited project (Langfuse Cloud's smaller plans allow 30 to 100
API requests a minute, one POST per score), the run's deadline, a server that goes away. So what was
written is remembered every `REMEMBER_EVERY` scores as it goes, and what was not stays in the store as
pending and is sent first by the monitor's next run. The run's watermark has moved on by then, so
nothing else would send it again. Only a run killed outright between a POST and the next remember can
send a score twice, and then only the last few.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitors.contracts.errors import MonitorsError
from monitors.contracts.findings import utc
from monitors.contracts.source import Score, TraceSource
from monitors.store.store import Store
from monitors.support.deadline import run_time_left

log = logging.getLogger("monitors.pipeline")

REMEMBER_EVERY = 50


@dataclass
class WriteBack:
    """What one run's write-back did, for the run summary's counters."""

    written: int = 0
    unchanged: int = 0
    pending: int = 0  # left for the next run
    error: str | None = None

    def counters(self) -> dict[str, int]:
        """scores_written whenever there was a score to consider; the others when not zero."""
        if not (self.written or self.unchanged or self.pending):
            return {}
        extra = {"scores_unchanged": self.unchanged, "scores_pending": self.pending}
        return {"scores_written": self.written} | {name: n for name, n in extra.items() if n}


def write_back(source: TraceSource, store: Store, monitor: str, scores: Sequence[Score], now: datetime) -> WriteBack:
    """Send this run's new or changed scores, after those an earlier run left pending."""
    result = WriteBack()
    current = {s.id for s in scores}
    earlier = [s for s in (score_from_json(b) for b in store.pending_scores(monitor)) if s.id not in current]
    queue = [*earlier, *scores]
    if not queue:
        return result
    digests = {s.id: score_digest(s) for s in queue}
    known = store.written_scores(digests)
    fresh = [s for s in queue if known.get(s.id, ("", now))[0] != digests[s.id]]
    fresh_ids = {s.id for s in fresh}
    result.unchanged = len(queue) - len(fresh)
    # Kept as pending before the first POST, so a run killed part way leaves the rest to the next one.
    store.queue_scores(monitor, {s.id: score_to_json(s) for s in scores if s.id in fresh_ids}, now=now)
    store.drop_pending_scores([s.id for s in earlier if s.id not in fresh_ids])  # written after all
    unsaved: dict[str, str] = {}
    try:
        for score in fresh:
            if run_time_left() <= 0:
                raise MonitorsError("the run's deadline was reached")
            if score.id in known and known[score.id][1].date() != utc(now).date():
                source.delete_scores([score.id])  # else the new day's write would be a second score
            source.write_scores([score])
            result.written += 1
            unsaved[score.id] = digests[score.id]
            if len(unsaved) >= REMEMBER_EVERY:
                store.remember_scores(unsaved, now=now)
                unsaved = {}
    except MonitorsError as exc:
        result.error = str(exc)
    finally:
        store.remember_scores(unsaved, now=now)
    result.pending = len(fresh) - result.written
    if result.pending:
        log.warning(
            "%s: wrote %d of %d scores back to Langfuse; %d kept for the next run (%s)",
            monitor,
            result.written,
            len(fresh),
            result.pending,
            result.error,
        )
    return result


def score_digest(score: Score) -> str:
    """What makes two writes of a score the same (its timestamp is the server's, not ours)."""
    text = json.dumps([score.name, score.trace_id, float(score.value), score.comment])
    return hashlib.sha256(text.encode()).hexdigest()


def score_to_json(score: Score) -> dict[str, Any]:
    return {
        "id": score.id,
        "trace_id": score.trace_id,
        "name": score.name,
        "value": float(score.value),
        "timestamp": utc(score.timestamp).isoformat(),
        "comment": score.comment,
    }


def score_from_json(body: dict[str, Any]) -> Score:
    return Score(
        id=str(body["id"]),
        trace_id=str(body["trace_id"]),
        name=str(body["name"]),
        value=float(body["value"]),
        timestamp=datetime.fromisoformat(body["timestamp"]),
        comment=body.get("comment"),
    )


__all__ = ["REMEMBER_EVERY", "WriteBack", "score_digest", "write_back"]
