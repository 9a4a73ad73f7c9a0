"""Score write-back (monitors.engine.score_writes) against the real store, SQLite and PostgreSQL: a run cut
short by its deadline keeps what it did not write, remembers what it did, and the next run sends the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitors.contracts.errors import SourceError
from monitors.contracts.source import Score
from monitors.engine.score_writes import REMEMBER_EVERY, score_from_json, score_to_json, write_back
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from monitors.support.deadline import run_deadline

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def scores(n: int, value: float = 0.5) -> list[Score]:
    return [Score(f"drift:t{i}", f"t{i}", "goal_drift", value, timestamp=NOW, comment=f"c{i}") for i in range(n)]


def test_a_score_survives_the_store_as_json() -> None:
    score = scores(1)[0]
    assert score_from_json(score_to_json(score)) == score


def test_a_run_past_its_deadline_keeps_every_score_for_the_next_run(store: Store) -> None:
    source = ReplaySource.from_observations([])
    with run_deadline(0):
        cut = write_back(source, store, "drift", scores(3), NOW)
    assert (cut.written, cut.pending, source.scores) == (0, 3, [])
    assert "deadline" in (cut.error or "")
    assert [s["id"] for s in store.pending_scores("drift")] == ["drift:t0", "drift:t1", "drift:t2"]
    assert store.pending_scores("audit") == []  # another monitor's run does not send them
    later = write_back(source, store, "drift", [], NOW + timedelta(hours=1))
    assert (later.written, later.pending, later.counters()) == (3, 0, {"scores_written": 3})
    assert [s.id for s in source.scores] == ["drift:t0", "drift:t1", "drift:t2"]
    assert store.pending_scores("drift") == [] and set(store.written_scores(["drift:t0", "drift:t2"])) == {
        "drift:t0",
        "drift:t2",
    }
    again = write_back(source, store, "drift", scores(3), NOW + timedelta(hours=2))
    assert (again.written, again.counters()) == (0, {"scores_written": 0, "scores_unchanged": 3})


class FailingAfter:
    """Takes `left` scores, then fails as the Langfuse source does once a server has gone away."""

    def __init__(self, left: int) -> None:
        self.left = left
        self.scores: list[Score] = []

    def write_scores(self, batch: list[Score]) -> None:
        if self.left <= 0:
            raise SourceError("Langfuse POST /api/public/scores: HTTP 503; gave up after 4 attempt(s)")
        self.left -= len(batch)
        self.scores.extend(batch)

    def delete_scores(self, ids: list[str]) -> None:
        raise AssertionError("nothing here was written on an earlier day")


def test_what_was_written_before_a_failure_is_remembered_in_batches_and_never_sent_again(store: Store) -> None:
    n = REMEMBER_EVERY + 7
    source = FailingAfter(n)
    first = write_back(source, store, "drift", scores(n + 5), NOW)
    assert (first.written, first.pending) == (n, 5) and "HTTP 503" in (first.error or "")
    assert len(store.written_scores([s.id for s in scores(n + 5)])) == n
    source.left = 100
    second = write_back(source, store, "drift", [], NOW + timedelta(days=1))
    assert (second.written, second.pending) == (5, 0)
    sent = [s.id for s in source.scores]
    assert len(sent) == len(set(sent)) == n + 5  # each score once
