"""Score writes to Langfuse: many in one request where the server takes a list, one each where not.

Servers of the 2026-08 spec take `POST /api/public/scores` as one object and stamp the score with the
time of the POST; a list is a 400. Newer servers (the spec the SDK 5 client is generated from) take a
list, keep each score's `timestamp` ("to update an existing score, send it again with the same id and
timestamp"), and answer 202 when all were accepted or 207 with accepted and rejected counts and the
errors' messages ("do not automatically retry a 207 batch"). A source's first write sends a list of one
score; the answer says which server this is for the rest of the run, so an older server costs one
extra request per run. On an older server that score then goes as one object in the same call, stamped
with the time of the POST: the caller (monitors.engine.score_writes) picks a first score that this
cannot turn into a second copy, or deletes and sends it again once it knows.

A score the server refuses as invalid (a 400 for one object, a rejection counted in a 207) is reported
to the caller, not raised: sent again it would fail again, and hold back every score queued behind it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from monitors.contracts.findings import utc
from monitors.contracts.source import Score, ScoresWritten
from monitors.sources.http import HttpSession, Refused

log = logging.getLogger(__name__)

SCORES_PATH = "/api/public/scores"


class ScoreWriter:
    """Writes scores for one LangfuseSource; `lists` is None until the first write says."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session
        self.lists: bool | None = None

    def write(self, scores: Sequence[Score]) -> ScoresWritten:
        outcome = self._send([s for s in scores if math.isfinite(s.value)])
        for score in scores:
            if not math.isfinite(score.value):  # not JSON: no server would take it
                outcome.rejected += 1
                outcome.rejected_ids.add(score.id)
                outcome.errors.append(f"score {score.id}: value {score.value} is not a finite number")
        return outcome

    def _send(self, scores: Sequence[Score]) -> ScoresWritten:
        if not scores:
            return ScoresWritten()
        if self.lists is not False:
            try:
                return self._post_list(scores)
            except Refused as exc:
                if self.lists is None:
                    self.lists = False
                    log.info(
                        "Langfuse at %s takes one score per request (a list was refused: %s)", self.session.where, exc
                    )
                # else the server takes lists but found this one invalid as a whole: each score goes as
                # a list of one (with its timestamp) below, so the others still get through
        return self._post_each(scores)

    def _post_list(self, scores: Sequence[Score]) -> ScoresWritten:
        response = self.session.post_json(SCORES_PATH, [list_score_body(s) for s in scores])
        self.lists = True
        if response.status_code != 207:
            return ScoresWritten()
        answer = _json_object(response)
        rejected = min(len(scores), max(0, _count(answer.get("rejected"))))
        errors = [self.session.redact(str(e.get("message", "")))[:200] for e in _list(answer.get("errors"))]
        return ScoresWritten(rejected=rejected, errors=errors)

    def _post_each(self, scores: Sequence[Score]) -> ScoresWritten:
        outcome = ScoresWritten()
        for score in scores:
            body = [list_score_body(score)] if self.lists else single_score_body(score)
            try:
                self.session.post_json(SCORES_PATH, body)
            except Refused as exc:
                outcome.rejected += 1
                outcome.rejected_ids.add(score.id)
                outcome.errors.append(str(exc))
        return outcome


def single_score_body(score: Score) -> dict[str, Any]:
    """The CreateScoreRequest object of the 2026-08 spec (it has no timestamp field: the server
    ignores one and uses the time of the POST)."""
    body: dict[str, Any] = {
        "id": score.id,
        "traceId": score.trace_id,
        "name": score.name,
        "value": float(score.value),
        "dataType": "NUMERIC",
    }
    if score.comment is not None:
        body["comment"] = score.comment
    return body


def list_score_body(score: Score) -> dict[str, Any]:
    """One item of the newer list body: the same object with its timestamp, in milliseconds (what the
    server keeps), with a UTC offset (the SDK's spec asks for one)."""
    stamp = utc(score.timestamp).isoformat(timespec="milliseconds")
    return single_score_body(score) | {"timestamp": stamp}


def _json_object(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


__all__ = ["SCORES_PATH", "ScoreWriter", "list_score_body", "single_score_body"]
