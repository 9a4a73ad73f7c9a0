"""Score write-back against the fake Langfuse over HTTP, both kinds of server, with the server's own rows as
the count: a run with nothing new finds out which server it has without spending a DELETE, and a run
killed with SIGKILL after its scores reached the server leaves no duplicate after a retry on a later day."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitors.contracts.source import Score
from monitors.engine.score_writes import REMEMBER_EVERY, WriteBack, write_back
from monitors.store.store import Store
from tests.engine.killed_score_run import langfuse, scores
from tests.fakes.langfuse_server import FakeLangfuse

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
SERVERS = pytest.mark.parametrize("lists", [True, False], ids=["takes lists", "one object each (2026-08)"])


def write_run(fake: FakeLangfuse, store: Store, batch: list[Score], now: datetime) -> tuple[WriteBack, Counter[str]]:
    """One run's write-back at `now` (the server's clock too), with a new source as each run has; returns
    the requests it made by method."""
    fake.clock = lambda: now
    seen = len(fake.requests)
    result = write_back(langfuse(fake.url), store, "drift", batch, now)
    return result, Counter(r.method for r in fake.requests[seen:])


def one_copy_each(n: int) -> dict[tuple[str, str], int]:
    return {("goal_drift", f"drift:t{i}"): 1 for i in range(n)}


# (takes lists, later) -> requests of the run with only changed scores
NOTHING_NEW = {
    (True, "same day"): {"POST": 2},  # the list of one, then a list of the other
    (True, "next day"): {"POST": 2},
    (False, "same day"): {"POST": 3},  # the refused list, then one object each: the same day overwrites
    # The first goes as the list of one, then as an object beside yesterday's copy; both deleted, sent again.
    (False, "next day"): {"POST": 4, "DELETE": 2},
}


@SERVERS
@pytest.mark.parametrize("later", ["same day", "next day"])
def test_a_run_with_only_changed_scores_deletes_only_where_the_server_keeps_a_day_per_score(
    lists: bool, later: str, store: Store
) -> None:
    with FakeLangfuse([], scores_accept_list=lists) as fake:
        write_run(fake, store, scores(0, 3, NOW), NOW)
        changed = [replace(s, value=0.9) for s in scores(0, 2, NOW)] + scores(2, 3, NOW)
        when = NOW + (timedelta(hours=3) if later == "same day" else timedelta(days=1))
        result, requests = write_run(fake, store, changed, when)
    assert (result.written, result.unchanged) == (2, 1)
    assert requests == NOTHING_NEW[(lists, later)]
    assert fake.score_copies() == one_copy_each(3)
    assert [fake.scores[f"drift:t{i}"]["value"] for i in range(3)] == [0.9, 0.9, 0.5]


def kill_after_stored(store_url: str, fake: FakeLangfuse, n: int, kill_after: int) -> None:
    args = [sys.executable, "-m", "tests.engine.killed_score_run", store_url, fake.url, NOW.isoformat()]
    proc = subprocess.run([*args, str(n), str(kill_after)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr


@pytest.mark.slow  # a subprocess
@SERVERS
@pytest.mark.parametrize(
    "killed, later",
    [(True, timedelta(days=1)), (True, timedelta(hours=2)), (False, timedelta(days=1))],
    ids=["killed, retried the next day", "killed, retried the same day", "not killed"],
)
def test_scores_a_killed_run_got_to_the_server_are_not_written_twice_by_its_retry(
    lists: bool, killed: bool, later: timedelta, tmp_path: Path
) -> None:
    n = REMEMBER_EVERY + 30
    # The kill comes after the request that took score 70 (one each) or 51 (a list of one, then one of 50).
    stored_first, remembered = (51, 0) if lists else (REMEMBER_EVERY + 20, REMEMBER_EVERY)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with FakeLangfuse([], scores_accept_list=lists) as fake:
        fake.clock = lambda: NOW
        if killed:
            kill_after_stored(url, fake, n, stored_first)
        store = Store.open(url)
        try:
            if killed:
                assert len(fake.score_rows) == stored_first and len(store.pending_scores("drift")) == n - remembered
                assert not fake.requests_to("/api/public/scores/")  # no DELETE
            else:
                write_run(fake, store, scores(0, n, NOW), NOW)
            # The next run has its own new scores; it sends the dead run's pending ones first.
            result, requests = write_run(fake, store, scores(n, n + 5, NOW), NOW + later)
            assert store.pending_scores("drift") == []
        finally:
            store.close()
    assert fake.score_copies() == one_copy_each(n + 5)
    assert result.written == (n + 5 - remembered if killed else 5)
    # Only the scores that may be on the server as of another day are deleted, and only where the server
    # would keep a second copy: none on a list-taking server, none the same day, none without the kill.
    next_day_on_the_old_server = killed and not lists and later >= timedelta(days=1)
    assert requests["DELETE"] == (stored_first - remembered if next_day_on_the_old_server else 0)
