"""One audit run in its own process, for the kill -9 and concurrency scenarios.

    python -m tests.reliability.subprocess_run STORE_URL HOOK_URL NOW MODE

MODE is a kill point (the process SIGKILLs itself there, like `kill -9` from outside) or
`wait:PATH` (wait until PATH exists, then run: two processes released at once). The summary is
printed as JSON on stdout.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.reliability.harness import LANGFUSE_HOST, chat_settings, notifiers_for, tool_session

KILL_POINTS = (
    "after_read",  # the source has returned every record; nothing computed yet
    "after_monitor",  # findings decided, just before the outbox/watermark transaction
    "after_commit",  # the outbox is committed, no POST yet
    "between_alerts",  # the first alert was POSTed and marked sent, the second not yet
    "after_post",  # the first alert reached the receiver, the process dies before marking it sent
)


def loops(now: datetime) -> list[Any]:
    """Two sessions, each a tool-call loop: two alerts."""
    start = now - timedelta(hours=2)
    calls = [("search", {"q": "x"}), ("read", {"path": "a.py"})] * 4
    return [*tool_session("s1", calls, start=start), *tool_session("s2", calls, start=start + timedelta(minutes=5))]


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillingSource(ReplaySource):
    def observations(self, query: Any) -> Any:
        yield from super().observations(query)
        die()


def arm(store: Store, deps: RunDeps, point: str) -> None:
    """Make this process die at `point`, by wrapping the store or source (the code under test runs as is)."""
    commit, mark = store.commit_run, store.mark_outbox
    if point == "after_monitor":
        store.commit_run = lambda c, **k: die()  # type: ignore[method-assign]
    elif point == "after_commit":
        store.commit_run = lambda c, **k: (commit(c, **k), die())  # type: ignore[method-assign]
    elif point == "between_alerts":
        store.mark_outbox = lambda *a, **k: (mark(*a, **k), die())  # type: ignore[method-assign]
    elif point == "after_post":
        store.mark_outbox = lambda *a, **k: die()  # type: ignore[method-assign]


def main(store_url: str, hook_url: str, now_text: str, mode: str) -> None:
    now = datetime.fromisoformat(now_text)
    settings = chat_settings(hook_url, kinds=("slack",))
    store = Store.open(store_url)
    source_class = KillingSource if mode == "after_read" else ReplaySource
    source = source_class(observations=loops(now), host=LANGFUSE_HOST, project_id="proj-1")
    deps = RunDeps(source, store, notifiers_for(settings))
    if mode.startswith("wait:"):
        print("ready", flush=True)
        while not Path(mode[5:]).exists():
            time.sleep(0.01)
    else:
        arm(store, deps, mode)
    summary = run_once("audit", settings, deps, now=now)
    print(json.dumps(summary.to_dict(), default=str), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
