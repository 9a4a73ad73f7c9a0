"""The time of each channel's last given-up message: what LangfuseMonitorsAlertsDropped watches. A count
of failed rows stands still when one is given up in the run that prunes an old one; this time moves.
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from monitors.engine.config import settings_from_dict
from monitors.metrics.series import StoreCollector
from monitors.store.rows import RunCommit
from monitors.store.store import Store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _give_up(store: Store, fingerprint: str, channel: str, when: datetime) -> None:
    store.commit_run(RunCommit("cost", when, None, [], [(fingerprint, channel, {"title": fingerprint})], [], {}))
    for row in store.pending_outbox(when):
        store.mark_outbox(row.id, now=when, status="failed", error="refused (410)")


def _samples(store: Store, now: datetime) -> dict[tuple[str, str], float]:
    settings = settings_from_dict({"store": {"outbox_retention": "30d"}}, env={})
    registry = CollectorRegistry()
    registry.register(StoreCollector(store, settings, spend=False, clock=lambda: now))
    wanted = ("langfuse_monitors_outbox_messages", "langfuse_monitors_outbox_last_given_up_timestamp_seconds")
    return {
        (sample.name, sample.labels["channel"]): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name in wanted and sample.labels.get("status", "failed") == "failed"
    }


def test_a_failure_in_the_run_that_prunes_an_old_one_moves_the_time_not_the_count(store: Store) -> None:
    _give_up(store, "cost:old", "ops", NOW - 31 * DAY)
    _give_up(store, "cost:keep", "ops", NOW - 30 * DAY + timedelta(hours=1))  # within the retention at NOW
    _give_up(store, "cost:pager", "pager", NOW - 2 * DAY)
    before = _samples(store, NOW)
    assert before[("langfuse_monitors_outbox_messages", "ops")] == 1  # the 31-day-old one is out of the count
    last = "langfuse_monitors_outbox_last_given_up_timestamp_seconds"
    assert before[(last, "ops")] == (NOW - 30 * DAY + timedelta(hours=1)).timestamp()
    assert before[(last, "pager")] == (NOW - 2 * DAY).timestamp()

    later = NOW + timedelta(hours=2)  # "cost:keep" has left the retention; a new message is given up
    _give_up(store, "cost:new", "ops", later)
    after = _samples(store, later)
    assert after[("langfuse_monitors_outbox_messages", "ops")] == 1  # the count stood still
    assert after[(last, "ops")] == later.timestamp()  # the time did not


def test_a_channel_that_never_gave_up_has_no_series(store: Store) -> None:
    store.commit_run(RunCommit("cost", NOW, None, [], [("cost:a", "ops", {"title": "a"})], [], {}))
    for row in store.pending_outbox(NOW):
        store.mark_outbox(row.id, now=NOW, status="sent")
    assert not [k for k in _samples(store, NOW) if k[0].endswith("given_up_timestamp_seconds")]
