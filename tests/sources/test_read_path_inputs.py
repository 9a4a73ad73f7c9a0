"""Inputs a real deployment sends that the read path must survive: agent text nested past Python's
recursion limit, odd export files (a BOM, a gzip
stream cut short or damaged). Each failed before the fix beside it."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitors.contracts.errors import SourceError
from monitors.contracts.findings import RunWindow
from monitors.contracts.records import Observation, parse_observation
from monitors.contracts.source import ObservationQuery
from monitors.sources.langfuse import LangfuseSource
from monitors.sources.replay import ReplaySource
from monitors.support.retry import RetryPolicy
from tests.fakes.langfuse_server import FakeLangfuse

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
WINDOW = RunWindow(T0 - timedelta(hours=1), T0 + timedelta(hours=1))
# An agent stuck emitting brackets: valid-looking JSON nested far deeper than Python's recursion limit.
DEEP = "[" * 50_000 + "]" * 50_000


def row(i: int, **extra: object) -> dict[str, object]:
    return {
        "id": f"o{i}",
        "traceId": "t1",
        "type": "SPAN",
        "startTime": (T0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
        **extra,
    }


# Agent text nested past the recursion limit ----------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "kept"),
    [
        ({"input": DEEP}, lambda o: o.input == DEEP),
        ({"output": DEEP}, lambda o: o.output == DEEP),
        ({"metadata": {"objective": DEEP}}, lambda o: o.metadata == {"objective": DEEP}),
        ({"metadata": DEEP}, lambda o: o.metadata == {}),  # metadata that is not an object is dropped
    ],
    ids=["input", "output", "metadata value", "metadata as text"],
)
def test_deeply_nested_agent_text_is_kept_as_text_not_a_crash(
    extra: dict[str, object], kept: Callable[[Observation], bool]
) -> None:
    obs = parse_observation(row(1, **extra))
    assert obs.id == "o1" and kept(obs)


def test_a_live_page_with_deeply_nested_output_is_read() -> None:
    with FakeLangfuse([row(1, output=DEEP), row(2, output="ok")]) as fake:
        policy = RetryPolicy(attempts=1, sleep=lambda _s: None)
        source = LangfuseSource(fake.url, fake.public_key, fake.secret_key, retry=policy)
        got = list(source.observations(ObservationQuery(window=WINDOW, fields=frozenset({"core", "io"}))))
    assert sorted(o.id for o in got) == ["o1", "o2"]
    assert next(o for o in got if o.id == "o1").output == DEEP


def test_a_replay_line_nested_too_deep_is_counted_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps(row(1)) + "\n" + '{"id": ' + DEEP + "}\n" + json.dumps(row(2)) + "\n")
    source = ReplaySource(path)
    assert [o.id for o in source.observations(ObservationQuery(window=WINDOW))] == ["o1", "o2"]
    assert source.stats.malformed == 1


# Export files -----------------------------------------------------------------------------------------


def _lines(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.mark.parametrize("name", ["export.jsonl", "export.jsonl.gz"])
def test_a_byte_order_mark_does_not_cost_the_first_row(tmp_path: Path, name: str) -> None:
    # Files saved by some Windows editors and PowerShell's Out-File start with a UTF-8 BOM.
    path = tmp_path / name
    data = ("\ufeff" + _lines([row(1), row(2)])).encode("utf-8")
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    source = ReplaySource(path)
    assert [o.id for o in source.observations(ObservationQuery(window=WINDOW))] == ["o1", "o2"]
    assert source.stats.malformed == 0


def test_a_gzip_file_cut_short_keeps_its_rows_and_counts_the_cut(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An export copied while it was written, or a download that stopped: the stream has no end.
    whole = gzip.compress(_lines([row(i) for i in range(60)]).encode())
    path = tmp_path / "export.jsonl.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    source = ReplaySource(path)
    with caplog.at_level(logging.WARNING):
        first = [o.id for o in source.observations(ObservationQuery(window=WINDOW))]
        second = [o.id for o in source.observations(ObservationQuery(window=WINDOW))]
    assert first == second and 0 < len(first) < 60
    assert first == [f"o{i}" for i in range(len(first))]
    assert source.stats.malformed == 1  # one cut, however often the file is read
    assert "cut short" in caplog.text
    assert source.span() is not None


def test_damaged_gzip_data_is_one_clear_error_not_a_traceback(tmp_path: Path) -> None:
    whole = bytearray(gzip.compress(_lines([row(i) for i in range(60)]).encode()))
    whole[20] ^= 0x55  # inside the deflate stream: zlib reports "invalid ..." while decompressing
    path = tmp_path / "export.jsonl.gz"
    path.write_bytes(bytes(whole))
    with pytest.raises(SourceError, match=r"cannot read replay file .*damaged"):
        list(ReplaySource(path).observations(ObservationQuery(window=WINDOW)))
