"""The demo week's events plants: the burst after the deploy and the evaluator streak alert once each,
the background noise (about one failed generation per hundred traces) never; the scores file regenerates
byte for byte."""

from __future__ import annotations

import gzip
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from monitors.app.demo import DEMO_END, DEMO_START, load_demo_source
from monitors.contracts.records import MalformedRecord, parse_observation
from monitors.engine.config import load_config
from monitors.engine.pipeline import RunDeps, run_once
from monitors.engine.wiring import demo_path
from monitors.events.signature import normalise
from monitors.store.store import Store
from tests.fakes.scripted_monitor import RecordingNotifier

ROOT = Path(__file__).resolve().parents[2]


def _rows() -> list:
    rows = []
    with gzip.open(demo_path("observations.jsonl.gz"), "rt", encoding="utf-8") as fh:
        for line in fh:
            try:
                rows.append(parse_observation(json.loads(line)))
            except (ValueError, MalformedRecord):
                continue
    return rows


def test_noise_is_about_one_error_per_hundred_traces_and_the_burst_is_one_agent_one_afternoon() -> None:
    rows = _rows()
    traces = {o.trace_id for o in rows}
    generation_errors = [o for o in rows if o.level == "ERROR" and o.type == "GENERATION"]
    burst = [o for o in generation_errors if "issue-executor-2.4.0" in (o.status_message or "")]
    noise = [o for o in generation_errors if o not in burst]
    assert len(burst) == 40 and {o.trace_name for o in burst} == {"issue-executor"}
    assert {o.start_time.date().isoformat() for o in burst} == {"2026-11-18"}
    assert min(o.start_time.hour for o in burst) >= 14 and max(o.start_time.hour for o in burst) < 17
    assert len(noise) == 60 and 0.008 <= len(noise) / len(traces) <= 0.012
    # Noise never piles up into a burst: no signature reaches 5 for one agent in one day.
    kinds = Counter((o.trace_name, o.start_time.date(), normalise(o.status_message)) for o in noise)
    assert max(kinds.values()) < 5


def test_the_demo_week_alerts_on_the_burst_and_the_streak_once_each(tmp_path: Path) -> None:
    settings = load_config(demo_path("monitors.yaml"), env={})
    store = Store.open(f"sqlite:///{tmp_path / 'demo.db'}")
    notifier = RecordingNotifier()
    deps = RunDeps(load_demo_source(), store, {"terminal": notifier})
    delay = settings.langfuse.query_delay
    summary = run_once("events", settings, deps, now=DEMO_END + delay, since=DEMO_START)
    again = run_once("events", settings, deps, now=DEMO_END + delay + delay, since=DEMO_START)
    store.close()
    assert summary.status == "ok" and (summary.findings, summary.queued) == (2, 2)
    assert (again.findings, again.queued, again.suppressed) == (2, 0, 2)  # a rerun sends nothing new
    assert sorted(m.title for m in notifier.messages) == [
        "40 errors of one kind from issue-executor on 2026-11-18",
        "review_helpfulness: 71.9% of mr-review's scores fail on 2026-11-20",
    ]


def test_the_demo_alerts_say_their_counts_are_so_far_while_the_digest_has_the_days() -> None:
    """`run-monitor events --demo`: the hourly run that first sees each plant sends it with that run's
    counts, and says so; the figures monitors/demo/README.md quotes for the alerts."""
    from click.testing import CliRunner

    from monitors.app.cli.main import cli

    result = CliRunner().invoke(cli, ["events", "--demo"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "[WARNING] 8 errors of one kind from issue-executor on 2026-11-18 so far (as of 15:00 UTC)" in out
    assert "Count:           8 as of 15:00 UTC (first 2026-11-18 14:48:05 UTC," in out
    assert "that day, as of 15:00 UTC, 10 errors in 469 observations (2.1%)" in out
    assert "review_helpfulness: 35.7% of mr-review's scores fail on 2026-11-20 so far (as of 12:00 UTC)" in out
    assert "Failing:         5 of 14 scores as of 12:00 UTC (35.7%;" in out


@pytest.fixture
def generator():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import make_demo_data
        from demo_gen.output import gzip_bytes

        yield make_demo_data, gzip_bytes
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def test_the_scores_file_regenerates_byte_for_byte(generator) -> None:
    make_demo_data, gzip_bytes = generator
    *_, score_lines, _github = make_demo_data.generate()
    assert gzip_bytes(score_lines) == demo_path("scores.jsonl.gz").read_bytes()


def test_the_demo_week_through_the_fake_langfuse_alerts_the_same(tmp_path: Path) -> None:
    """The bundled week served over HTTP (Observations v2, Metrics v2, Scores v3) instead of replayed."""
    from monitors.sources.langfuse import LangfuseSource
    from monitors.support.retry import RetryPolicy
    from tests.fakes.langfuse_server import FakeLangfuse

    with gzip.open(demo_path("scores.jsonl.gz"), "rt", encoding="utf-8") as fh:
        scores = [json.loads(line) for line in fh]
    settings = load_config(demo_path("monitors.yaml"), env={})
    store = Store.open(f"sqlite:///{tmp_path / 'fake.db'}")
    notifier = RecordingNotifier()
    with FakeLangfuse(_rows(), served_scores=scores, project_id="cm3demo7p0000monitors0001") as fake:
        source = LangfuseSource(fake.url, fake.public_key, fake.secret_key, retry=RetryPolicy(attempts=1))
        deps = RunDeps(source, store, {"terminal": notifier})
        summary = run_once("events", settings, deps, now=DEMO_END + settings.langfuse.query_delay, since=DEMO_START)
        source.close()
    store.close()
    assert summary.status == "ok", summary.error
    assert sorted(m.title for m in notifier.messages) == [
        "40 errors of one kind from issue-executor on 2026-11-18",
        "review_helpfulness: 71.9% of mr-review's scores fail on 2026-11-20",
    ]
    # A week in one run (the first, with the 14 baseline days): errors, 1 Metrics request for the
    # observation counts, 3 evaluators' failing scores, their traces' names, the numeric score view
    # once per day (7), the project id for links.
    assert summary.requests <= 15, summary.line()
