"""The scheduler's /metrics listener answers /healthz as its liveness probe does.

docs/metrics.md calls the listener's /healthz "the liveness check": a probe pointed at it must restart a
scheduler whose job is stuck far past its deadline or whose loop stopped, not only one shutting down.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

from monitors.app.cli.schedule import _start_listener
from monitors.app.scheduler.health import OVERDUE_GRACE, Health
from monitors.engine.config import settings_from_dict
from monitors.store.store import Store


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_listener_healthz_fails_for_a_job_stuck_past_its_deadline_and_at_shutdown(sqlite_store: Store) -> None:
    health, stopping = Health(turn_interval=30), threading.Event()
    listener = _start_listener("127.0.0.1:0", settings_from_dict({}, env={}), sqlite_store, stopping, health)
    url = f"http://127.0.0.1:{listener.port}/healthz"
    try:
        assert _get(url) == (200, "ok\n")
        health.turned({"drift": (600 + OVERDUE_GRACE + 1, 600.0)})
        status, text = _get(url)
        assert status == 503 and "job drift has run" in text and "past its deadline of 600s" in text
        health.turned({})
        assert _get(url) == (200, "ok\n")
        stopping.set()
        assert _get(url) == (503, "the scheduler is shutting down\n")
    finally:
        listener.stop()
