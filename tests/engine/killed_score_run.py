"""One score write-back in its own process, killed with SIGKILL once some of its scores reached the server
and before the store could remember them (like `kill -9` from outside).

    python -m tests.engine.killed_score_run STORE_URL LANGFUSE_URL NOW SCORES KILL_AFTER

It writes SCORES drift scores (`scores(n, now)`) to the fake Langfuse at LANGFUSE_URL and dies once
KILL_AFTER of them have been stored by the server.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from datetime import datetime

from monitors.contracts.source import Score, ScoresWritten
from monitors.engine.score_writes import write_back
from monitors.sources.langfuse import LangfuseSource
from monitors.store.store import Store
from monitors.support.retry import RetryPolicy
from tests.fakes.langfuse_server import FakeLangfuse


def scores(first: int, last: int, now: datetime) -> list[Score]:
    """Drift scores t{first}..t{last - 1}, as the drift monitor gives them."""
    return [Score(f"drift:t{i}", f"t{i}", "goal_drift", 0.5, timestamp=now) for i in range(first, last)]


def langfuse(url: str) -> LangfuseSource:
    keys = FakeLangfuse()
    return LangfuseSource(url, keys.public_key, keys.secret_key, retry=RetryPolicy(attempts=2, sleep=lambda s: None))


class DiesAfterStored:
    """The real source, except that the process dies right after the request that got `left` scores stored."""

    def __init__(self, source: LangfuseSource, left: int) -> None:
        self.source, self.left = source, left

    @property
    def score_lists(self) -> bool | None:
        return self.source.score_lists

    def write_scores(self, batch: Sequence[Score]) -> ScoresWritten:
        outcome = self.source.write_scores(batch)
        self.left -= len(batch) - outcome.rejected
        if self.left <= 0:
            os.kill(os.getpid(), signal.SIGKILL)
        return outcome

    def delete_scores(self, ids: Sequence[str]) -> None:
        self.source.delete_scores(ids)


def main(store_url: str, langfuse_url: str, now: str, n: str, kill_after: str) -> None:
    when = datetime.fromisoformat(now)
    store = Store.open(store_url)
    write_back(DiesAfterStored(langfuse(langfuse_url), int(kill_after)), store, "drift", scores(0, int(n), when), when)  # type: ignore[arg-type]
    raise SystemExit("the run ended before it was killed")


if __name__ == "__main__":
    main(*sys.argv[1:])
