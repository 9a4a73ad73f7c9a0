"""Score write-back (monitors.engine.score_writes) against the real store, SQLite and PostgreSQL: a run cut
short by its deadline keeps what it did not write, remembers what it did, and the next run sends the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitors.contracts.errors import SourceError
from monitors.contracts.source import Score, ScoresWritten
from monitors.engine.score_writes import REMEMBER_EVERY, SCORES_PER_LIST, score_from_json, score_to_json, write_back
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from monitors.support.deadline import run_deadline

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def scores(n: int, value: float = 0.5) -> list[Score]:
    return [Score(f"drift:t{i}", f"t{i}", "goal_drift", value, timestamp=NOW, comment=f"c{i}") for i in range(n)]


def test_a_score_survives_the_store_as_json() -> None:
    score = scores(1)[0]
    assert score_from_json(score_to_json(score)) == score


class KeepingServer:
    """A server that takes lists of scores and keeps them, timestamps and all (what a replay stood in for)."""

    score_lists = True

    def __init__(self) -> None:
        self.scores: list[Score] = []

    def write_scores(self, batch: list[Score]) -> ScoresWritten:
        self.scores.extend(batch)
        return ScoresWritten()


def test_a_run_past_its_deadline_keeps_every_score_for_the_next_run(store: Store) -> None:
    source = KeepingServer()
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
    """Takes `left` scores one per request, as a 2026-08 server does, then fails as the Langfuse source
    does once a server has gone away."""

    score_lists = False

    def __init__(self, left: int) -> None:
        self.left = left
        self.scores: list[Score] = []
        self.deleted: list[str] = []

    def write_scores(self, batch: list[Score]) -> ScoresWritten:
        if self.left <= 0:
            raise SourceError("Langfuse POST /api/public/scores: HTTP 503; gave up after 4 attempt(s)")
        self.left -= len(batch)
        self.scores.extend(batch)
        return ScoresWritten()

    def delete_scores(self, ids: list[str]) -> None:
        self.deleted.extend(ids)


def test_a_replay_writes_no_score_and_says_so(store: Store) -> None:
    # A replay (the demo, --source FILE) has no Langfuse: its scores were counted as written.
    source = ReplaySource.from_observations([])
    first = write_back(source, store, "drift", scores(3), NOW)
    assert first.counters() == {"scores_written": 0, "scores_not_written": 3}
    assert [s.id for s in source.scores] == ["drift:t0", "drift:t1", "drift:t2"]  # kept in memory only
    # Not remembered as written (a live run would skip them as unchanged) and not owed to a later run.
    assert store.written_scores([s.id for s in scores(3)]) == {} and store.pending_scores("drift") == []


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
    # The request that failed may have reached the server the day before: deleted first. The four
    # never sent are not.
    assert source.deleted == [f"drift:t{n}"]


class ListServer:
    """A source whose server takes lists and keeps each score's timestamp (the newer Langfuse); it refuses
    the scores in `refuse` by id, or, with `count_only`, only counts them as a 207 does."""

    def __init__(self, refuse: set[str] = frozenset(), *, count_only: bool = False, lists: bool | None = True) -> None:
        self.score_lists = lists
        self.refuse, self.count_only = set(refuse), count_only
        self.batches: list[list[Score]] = []
        self.deleted: list[str] = []

    def write_scores(self, batch: list[Score]) -> ScoresWritten:
        self.batches.append(list(batch))
        self.score_lists = True
        refused = {s.id for s in batch} & self.refuse
        errors = [f"{i}: value: Expected a finite number" for i in sorted(refused)]
        return ScoresWritten(len(refused), set() if self.count_only else refused, errors)

    def delete_scores(self, ids: list[str]) -> None:
        self.deleted.extend(ids)


def test_a_list_taking_server_gets_batches_and_a_changed_score_keeps_its_first_timestamp(store: Store) -> None:
    source = ListServer(lists=None)  # not known yet: the first request carries one score
    first = write_back(source, store, "drift", scores(SCORES_PER_LIST + 11), NOW + timedelta(microseconds=1234))
    assert first.written == SCORES_PER_LIST + 11
    assert [len(b) for b in source.batches] == [1, SCORES_PER_LIST, 10]
    stamp = NOW + timedelta(milliseconds=1)  # cut to the milliseconds the server keeps
    assert {s.timestamp for b in source.batches for s in b} == {stamp}
    source.batches.clear()
    changed = [*scores(2, value=0.9), *scores(SCORES_PER_LIST + 11)[2:]]
    later = write_back(source, store, "drift", changed, NOW + timedelta(days=3))
    assert (later.written, later.unchanged) == (2, SCORES_PER_LIST + 9)
    # Sent again with the timestamp it was first written with, the server replaces it: no delete.
    assert [(s.id, s.value, s.timestamp) for s in source.batches[0]] == [
        ("drift:t0", 0.9, stamp),
        ("drift:t1", 0.9, stamp),
    ]
    assert source.deleted == []
    assert store.written_scores(["drift:t0"])["drift:t0"][1] == stamp


def test_a_one_per_request_server_has_a_changed_score_deleted_first_on_a_later_day(store: Store) -> None:
    source = FailingAfter(100)
    write_back(source, store, "drift", scores(2), NOW)
    assert source.deleted == []
    write_back(source, store, "drift", [scores(1, value=0.9)[0], scores(2)[1]], NOW + timedelta(days=1))
    assert source.deleted == ["drift:t0"]
    write_back(source, store, "drift", [scores(1, value=0.7)[0]], NOW + timedelta(days=1, hours=2))
    assert source.deleted == ["drift:t0"]  # the same day: the server overwrites it


def test_a_score_the_server_refuses_is_counted_and_never_holds_back_the_others(store: Store) -> None:
    source = ListServer(refuse={"drift:t3"})
    first = write_back(source, store, "drift", scores(6), NOW)
    assert first.counters() == {"scores_written": 5, "scores_rejected": 1}
    assert store.pending_scores("drift") == []
    assert set(store.written_scores([s.id for s in scores(6)])) == {f"drift:t{i}" for i in (0, 1, 2, 4, 5)}
    source.batches.clear()
    again = write_back(source, store, "drift", [], NOW + timedelta(hours=1))
    assert (again.counters(), source.batches) == ({}, [])  # not sent again


def test_a_rejection_the_server_only_counts_is_reported_and_its_batch_not_sent_again(store: Store) -> None:
    source = ListServer(refuse={"drift:t1"}, count_only=True)
    first = write_back(source, store, "drift", scores(4), NOW)
    assert first.counters() == {"scores_written": 3, "scores_rejected": 1}
    source.batches.clear()
    assert write_back(source, store, "drift", scores(4), NOW + timedelta(hours=1)).counters() == {
        "scores_written": 0,
        "scores_unchanged": 4,
    }
    assert source.batches == []


class AnswerLostOnce(ListServer):
    """Stores each score by (timestamp, id), as the newer server replaces them; the first answer is lost
    (the server stored the scores, then the connection dropped)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[datetime, str], float] = {}
        self.lose_next = True

    def write_scores(self, batch: list[Score]) -> ScoresWritten:
        self.rows |= {(s.timestamp, s.id): s.value for s in batch}
        if self.lose_next:
            self.lose_next = False
            raise SourceError("Langfuse POST /api/public/scores: timed out (ReadTimeout); gave up after 4 attempt(s)")
        return super().write_scores(batch)


def test_scores_whose_answer_was_lost_are_sent_again_with_the_timestamp_they_were_queued_with(store: Store) -> None:
    source = AnswerLostOnce()
    first = write_back(source, store, "drift", scores(3), NOW)
    assert (first.written, first.pending) == (0, 3)
    assert {s["timestamp"] for s in store.pending_scores("drift")} == {NOW.isoformat()}
    # The next day's run has a new result for one of them: still the same timestamp, so it replaces.
    later = write_back(source, store, "drift", scores(1, value=0.8), NOW + timedelta(days=1))
    assert (later.written, later.pending) == (3, 0)
    assert sorted(source.rows.items()) == [
        ((NOW, "drift:t0"), 0.8),
        ((NOW, "drift:t1"), 0.5),
        ((NOW, "drift:t2"), 0.5),
    ]
