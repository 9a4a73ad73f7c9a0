"""export_observations: one v2 row per line, gzip by name, atomic replace, safe on /dev/null."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path

import pytest

from monitors.contracts.errors import SourceError
from monitors.contracts.findings import RunWindow
from monitors.contracts.records import observation_to_row, parse_observation
from monitors.contracts.source import ObservationQuery
from monitors.engine.export import export_observations
from monitors.sources.replay import ReplaySource
from tests.sources.langfuse_data import T0, build_dataset

DATA = build_dataset(traces=3)
WINDOW = RunWindow(T0 - timedelta(hours=1), T0 + timedelta(days=2))


@pytest.mark.parametrize("name", ["traces.jsonl", "traces.jsonl.gz"])
def test_export_writes_parseable_rows(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    assert export_observations(ReplaySource.from_observations(DATA), WINDOW, target) == len(DATA)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(target, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        rows = [parse_observation(json.loads(line)) for line in fh]
    # Parsing decodes the JSON-encoded metadata values the dataset carries, as a live read would.
    assert rows == [parse_observation(observation_to_row(o)) for o in DATA]
    assert rows[0].metadata["objective"] == "fix the flaky test"
    assert list(tmp_path.iterdir()) == [target]  # no partial file left behind


def test_failed_export_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "traces.jsonl"
    target.write_text("previous export\n")

    class Broken(ReplaySource):
        def observations(self, query: ObservationQuery):  # type: ignore[override]
            yield DATA[0]
            raise SourceError("Langfuse went away")

    with pytest.raises(SourceError):
        export_observations(Broken.from_observations(DATA), WINDOW, target)
    assert target.read_text() == "previous export\n"
    assert list(tmp_path.iterdir()) == [target]


def test_export_to_dev_null_counts_without_replacing_it() -> None:
    assert export_observations(ReplaySource.from_observations(DATA), WINDOW, Path("/dev/null")) == len(DATA)
    assert Path("/dev/null").is_char_device()
