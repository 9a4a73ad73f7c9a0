"""Scores written back to Langfuse: each once per logical result, and none lost to a run cut short.

A score replaces an earlier one only when the server sees it as the same score. A server that takes a
list of scores keeps the timestamp each is sent with, and a score sent again with the same id and
timestamp replaces it: a changed score is sent with the timestamp it was first written with. An older
server (one object per request) stamps a score with the time of the POST and replaces only a score of
the same id, name and UTC day, so a score it may hold as of an earlier day is deleted before it is sent.
Either way an unchanged score is not sent again: the store remembers what was written, and when.

Which server it is, a run learns from its first write, a list of one. That score is sent as it is, with
the timestamp a list-taking server replaces it by, and one that needs no DELETE on either server goes
first. Only when every score to send may be on the server as of an earlier day is the first of those
the probe; should the server turn out to take one object, that object lands beside the earlier day's
copy, and both are deleted and it is sent again (one POST more than deleting first, but no DELETE spent
on a server that does not need one: Langfuse Cloud's Hobby plan allows about 50 deletions a day).

A write-back can stop part way: a rate-limited project (Langfuse Cloud's smaller plans allow 30 to 100
API requests a minute), the run's deadline, a server that goes away, a `kill -9`. So what was written is
remembered every `REMEMBER_EVERY` scores as it goes, and what was not stays in the store as pending and
is sent first by the monitor's next run. The run's watermark has moved on by then, so nothing else would
send it again. A score may be on the server without the store knowing it: its answer was lost, or the
process was killed between the request and the next remember. On a list-taking server it is sent again
with the timestamp it was queued with, so it replaces itself. For a server that stamps the POST, the
store notes when each request began, before it is made, one score per request (`sent_at`, only while
the server is not known to take lists): a score sent on an earlier day and still pending is deleted
before it is sent again. A run that ends without a kill or failure leaves no such note, so it costs no
DELETE; a failed request leaves one (it may have arrived), which costs at most one on a later day.

A score the server refuses as invalid is counted (`scores_rejected`) and dropped: sent again it would
be refused again, and hold back every score behind it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from monitors.contracts.errors import MonitorsError
from monitors.contracts.findings import utc
from monitors.contracts.source import Score, ScoresWritten, TraceSource
from monitors.store.store import Store
from monitors.support.deadline import run_time_left

log = logging.getLogger("monitors.pipeline")

REMEMBER_EVERY = 50
SCORES_PER_LIST = 50  # about 15 KB of JSON with our comments, far below the server's 1 MB body limit


@dataclass
class WriteBack:
    """What one run's write-back did, for the run summary's counters."""

    written: int = 0
    unchanged: int = 0
    rejected: int = 0  # refused by the server as invalid; not sent again
    pending: int = 0  # left for the next run
    not_written: int = 0  # the source has no Langfuse to write to (a replay); not kept for a later run
    error: str | None = None

    def counters(self) -> dict[str, int]:
        """scores_written whenever there was a score to consider; the others when not zero."""
        if not (self.written or self.unchanged or self.rejected or self.pending or self.not_written):
            return {}
        extra = {
            "scores_unchanged": self.unchanged,
            "scores_rejected": self.rejected,
            "scores_pending": self.pending,
            "scores_not_written": self.not_written,
        }
        return {"scores_written": self.written} | {name: n for name, n in extra.items() if n}


def write_back(source: TraceSource, store: Store, monitor: str, scores: Sequence[Score], now: datetime) -> WriteBack:
    """Send this run's new or changed scores, after those an earlier run left pending."""
    current = {s.id for s in scores}
    pending = [score_from_json(b) for b in store.pending_scores(monitor)]
    earlier = [s for s in pending if s.id not in current]
    if not (earlier or scores):
        return WriteBack()
    digests = {s.id: score_digest(s) for s in [*earlier, *scores]}
    known = store.written_scores(digests)
    # A score never written keeps the timestamp it was first queued with, so sending it again after a
    # run cut short between the request and the remember replaces it instead of adding a second one.
    queued_at = {s.id: s.timestamp for s in pending}
    scores = [s if s.id in known else replace(s, timestamp=queued_at.get(s.id, _ms(now))) for s in scores]
    queue = [*earlier, *scores]
    fresh = [s for s in queue if known.get(s.id, ("", now))[0] != digests[s.id]]
    sender = _Sender(source, store, known, digests, now, store.scores_maybe_sent(monitor))
    # Scores the server cannot hold as of another day go first: the list of one that finds out what the
    # server takes is then harmless on either kind (a new score, or one that replaces itself).
    fresh.sort(key=sender.held_on_another_day)
    fresh_ids = {s.id for s in fresh}
    # Kept as pending before the first request, so a run killed part way leaves the rest to the next one.
    store.queue_scores(monitor, {s.id: score_to_json(s) for s in scores if s.id in fresh_ids}, now=now)
    store.drop_pending_scores([s.id for s in earlier if s.id not in fresh_ids])  # written after all
    result = sender.send(fresh)
    result.unchanged = len(queue) - len(fresh)
    if result.rejected:
        log.warning(
            "%s: Langfuse refused %d score(s) as invalid; they are not sent again (%s)",
            monitor,
            result.rejected,
            "; ".join(list(dict.fromkeys(sender.refusals))[:3]) or "no reason given",
        )
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


@dataclass
class _Sender:
    """One run's sending: batches as the server takes them, what was written remembered as it goes."""

    source: TraceSource
    store: Store
    known: dict[str, tuple[str, datetime]]
    digests: dict[str, str]
    now: datetime
    maybe_sent: dict[str, datetime]  # pending scores an earlier request may have written: when it began
    refusals: list[str] = field(default_factory=list)
    _unsaved: dict[str, str] = field(default_factory=dict)
    _stamps: dict[str, datetime] = field(default_factory=dict)

    def send(self, fresh: list[Score]) -> WriteBack:
        result, sent = WriteBack(), 0
        try:
            while sent < len(fresh):
                if run_time_left() <= 0:
                    raise MonitorsError("the run's deadline was reached")
                lists = self.source.score_lists  # None until the first write: a list of one finds out
                batch = fresh[sent : sent + (SCORES_PER_LIST if lists else 1)]
                stamped = [replace(s, timestamp=self._timestamp(s)) for s in batch]
                outcome = self.source.write_scores(stamped) if lists else self._send_one(stamped[0], lists)
                sent += len(batch)
                result.written += len(batch) - outcome.rejected - len(outcome.not_written_ids)
                result.not_written += len(outcome.not_written_ids)
                result.rejected += outcome.rejected
                self.refusals += outcome.errors
                self._written(stamped, outcome)
        except MonitorsError as exc:
            result.error = str(exc)
        finally:
            self._remember()
        result.pending = len(fresh) - sent
        return result

    def held_on_another_day(self, score: Score) -> bool:
        """Whether the server may hold this score as of a UTC day other than today: written then, or sent
        then by a request whose outcome the store never learnt. A server that stamps the POST would keep
        today's write as a second score."""
        days = [self.known[score.id][1]] if score.id in self.known else []
        days += [self.maybe_sent[score.id]] if score.id in self.maybe_sent else []
        return any(utc(day).date() != utc(self.now).date() for day in days)

    def _timestamp(self, score: Score) -> datetime:
        """The timestamp a list-taking server replaces the score by: when it was first written, or queued
        if it never was (a server that stamps the POST ignores it)."""
        first = self.known.get(score.id, ("", None))[1]
        return score.timestamp if first is None else first

    def _send_one(self, score: Score, lists: bool | None) -> ScoresWritten:
        """One score to a server that takes one object (`lists` False), or the list of one that finds out
        which server this is (None), deleting a copy of another day where only that stops a duplicate."""
        elsewhere = self.held_on_another_day(score)
        if elsewhere and lists is False:
            self.source.delete_scores([score.id])
        # Noted before the request: a process killed after it leaves the next run this to go by.
        self.store.mark_scores_sending([score.id], now=self.now)
        outcome = self.source.write_scores([score])
        probed_old_server = lists is None and self.source.score_lists is False
        if elsewhere and probed_old_server and score.id not in outcome.rejected_ids:
            # It went as one object, stamped today beside the other day's copy: delete both, send it again.
            self.source.delete_scores([score.id])
            outcome = self.source.write_scores([score])
        return outcome

    def _written(self, stamped: list[Score], outcome: ScoresWritten) -> None:
        # Neither refused nor unwritten scores are owed to a server: not pending, and not remembered as
        # written (a replay's scores must not pass for written when a live run meets them).
        dropped = outcome.rejected_ids | outcome.not_written_ids
        if dropped:
            self.store.drop_pending_scores(dropped)
        kept = bool(self.source.score_lists)  # the server kept the timestamps sent; else it stamped the POST
        for score in stamped:
            if score.id not in dropped:
                self._unsaved[score.id] = self.digests[score.id]
                self._stamps[score.id] = score.timestamp if kept else _ms(self.now)
        if len(self._unsaved) >= REMEMBER_EVERY:
            self._remember()

    def _remember(self) -> None:
        self.store.remember_scores(self._unsaved, now=self.now, at=self._stamps)
        self._unsaved, self._stamps = {}, {}


def _ms(when: datetime) -> datetime:
    """`when` in UTC, cut to the milliseconds the server keeps."""
    return utc(when).replace(microsecond=utc(when).microsecond // 1000 * 1000)


def score_digest(score: Score) -> str:
    """What makes two writes of a score the same (its timestamp says when it was written, not what)."""
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
