"""Refunds and credits (observations with a negative cost), through the real pipeline and SQLite: budgets
keep counting spend as before, and the run says how much it left out instead of dropping it silently."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from monitors.contracts.errors import SourceError
from monitors.contracts.records import CostBucket, Observation
from monitors.contracts.source import CostQuery, ObservationQuery
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.cost.helpers import obs, pipeline_run, pipeline_settings, spread
from tests.fakes.scripted_monitor import RecordingNotifier


class IgnoresCostFilter(ReplaySource):
    """A source that hands over every row, whatever the query's totalCost filter asks."""

    def observations(self, query: ObservationQuery) -> Iterator[Observation]:
        return super().observations(replace(query, min_total_cost=None))


class GroupedCostsFail(ReplaySource):
    """A source whose hourly totals answer and whose grouped cost queries (per agent, per model) fail."""

    def costs(self, query: CostQuery) -> list[CostBucket]:
        if query.group_by:
            raise SourceError("metrics query failed (scripted)")
        return super().costs(query)


def test_a_negative_bucket_of_an_aggregate_set_that_failed_is_not_counted(sqlite_store: Store) -> None:
    """A set is all or nothing: when its grouped query fails, its hourly totals (one below $0) are never
    booked, so the run has no negative bucket to report."""
    history = [o for d in range(6, 20) for o in spread(f"2026-11-{d:02d}", 10.0)]
    today = [obs("2026-11-20 10:00", 30.0), obs("2026-11-20 11:00", -40.0)]
    source = GroupedCostsFail(observations=history + today, host="https://lf.example", project_id="proj1")
    settings = pipeline_settings({"budgets": [{"name": "daily", "daily_cap": 25}], "projection": {"enabled": False}})
    notifier = RecordingNotifier()
    pipeline_run(settings, source, sqlite_store, notifier, "2026-11-20 00:00", "2026-11-21 01:00")
    counters = notifier.last_summary.counters
    assert counters["cost.aggregate_errors"] >= 1  # the sets were asked for, and failed
    assert "cost.negative_cost_buckets" not in counters
    assert "cost.negative_cost_buckets" not in notifier.last_summary.line()


def test_a_refund_is_left_out_of_spend_and_counted_in_the_run_summary(sqlite_store: Store) -> None:
    history = [o for d in range(6, 20) for o in spread(f"2026-11-{d:02d}", 10.0)]
    # $30 of calls at 10:00 and a $40 credit at 11:00: the 11:00 hour (and the day's agent and model
    # groups) sum below $0 in the aggregates, which book them as $0.
    today = [obs("2026-11-20 10:00", 30.0), obs("2026-11-20 11:00", -40.0)]
    source = ReplaySource.from_observations(history + today, host="https://lf.example", project_id="proj1")
    settings = pipeline_settings({"budgets": [{"name": "daily", "daily_cap": 25}], "projection": {"enabled": False}})
    notifier = RecordingNotifier()
    # The run closes the 20th with its exact aggregates (hourly total, per agent, per model).
    messages = pipeline_run(settings, source, sqlite_store, notifier, "2026-11-20 00:00", "2026-11-21 01:00")
    page = next(
        m for m in messages if m.title == "Cost budget daily at 100% of its $25.00 cap for all spend on 2026-11-20"
    )
    assert dict(page.fields)["Spend"] == "$30.00 of $25.00 (120%)"  # spend, not net of the credit
    # One hourly total (11:00: -$40) and the day's agent and model groups (-$10 each).
    assert notifier.last_summary.counters["cost.negative_cost_buckets"] == 3
    assert " cost.negative_cost_buckets=3 " in notifier.last_summary.line()


def test_a_refund_row_handed_over_by_a_source_is_skipped_and_counted(sqlite_store: Store) -> None:
    history = [o for d in range(6, 20) for o in spread(f"2026-11-{d:02d}", 10.0)]
    today = [obs("2026-11-20 10:00", 30.0), obs("2026-11-20 10:30", -5.0)]
    source = IgnoresCostFilter(observations=history + today, host="https://lf.example", project_id="proj1")
    budget = {"name": "daily", "daily_cap": 25}
    # No Metrics requests: the day's figure is the rows' alone.
    settings = pipeline_settings({"budgets": [budget], "metrics_requests_per_day": 0, "spike": {"enabled": False}})
    notifier = RecordingNotifier()
    messages = pipeline_run(settings, source, sqlite_store, notifier, "2026-11-20 00:00", "2026-11-20 12:00")
    page = next(
        m for m in messages if m.title == "Cost budget daily at 100% of its $25.00 cap for all spend on 2026-11-20"
    )
    assert dict(page.fields)["Spend"] == "$30.00 of $25.00 (120%)"
    assert notifier.last_summary.counters["cost.negative_rows_skipped"] == 1
    # Nor is the refund listed among the costliest traces.
    assert [t.split(" ")[1] for t in dict(page.fields)["Costliest traces"].split("; ")] == ["$30.00"]
