"""A window with nothing in it is refused before anything runs: `--since` at or after `--until` (or after
the end a run takes without it), and a replay file with no observation to read. Each exits 2 with one
line naming the option; before, the run read nothing and said all was well (or, in export, a traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from monitors.app.cli.main import cli
from monitors.engine.wiring import demo_path
from monitors.store.store import Store

DEMO_FILE = demo_path("observations.jsonl.gz")  # 2026-11-02T01:06:07Z .. 2026-11-22T22:55:09Z


@pytest.fixture
def config(tmp_path: Path) -> Path:
    data = {
        "langfuse": {"host": "http://127.0.0.1:9", "public_key": "pk-lf-1", "secret_key": "sk-lf-1"},
        "store": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
        "channels": {"term": {"kind": "stdout"}},
        "default_route": {"channels": ["term"]},
    }
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _invoke(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def _one_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("command", [("cost",), ("all",), ("events", "--dry-run"), ("export", "-o", "x.jsonl")])
def test_since_after_until_names_both(config: Path, command: tuple[str, ...]) -> None:
    since, until = "2026-11-10T00:00:00Z", "2026-11-09T00:00:00Z"
    line = _one_line(_invoke(*command, "-c", config, "--since", since, "--until", until))
    assert line == f"--since: {since} is not before --until {until}: the window holds nothing"


def test_since_equal_to_until_is_an_empty_window(config: Path) -> None:
    line = _one_line(_invoke("audit", "-c", config, "--since", "2026-11-10T00:00:00Z", "--until", "2026-11-10"))
    assert line.startswith("--since: 2026-11-10T00:00:00Z is not before --until 2026-11-10T00:00:00Z")


def test_since_within_the_query_delay_names_it(config: Path) -> None:
    line = _one_line(_invoke("cost", "-c", config, "--since", "5m"))
    assert line.startswith("--since: ") and "is not before the window's end, now minus langfuse.query_delay 15m" in line


def test_export_since_in_the_future(config: Path) -> None:
    line = _one_line(_invoke("export", "-c", config, "--since", "2999-01-01T00:00:00Z", "-o", "x.jsonl"))
    assert line.startswith("--since: 2999-01-01T00:00:00Z is not before the window's end, now (")


def test_a_replay_window_outside_the_file_names_the_option_and_the_file(config: Path) -> None:
    after = _one_line(_invoke("audit", "-c", config, "--source", DEMO_FILE, "--dry-run", "--since", "2026-12-01"))
    assert after == (
        f"--since: 2026-12-01T00:00:00Z is not before the window's end, the last observation in {DEMO_FILE} "
        "(2026-11-22T22:55:09Z)"
    )
    before = _one_line(_invoke("audit", "-c", config, "--source", DEMO_FILE, "--dry-run", "--until", "2026-11-01"))
    assert before == (
        f"--until: 2026-11-01T00:00:00Z is not after the window's start, the first observation in {DEMO_FILE} "
        "(2026-11-02T01:06:07Z)"
    )


def test_a_replay_inside_the_file_still_runs(config: Path) -> None:
    result = _invoke(
        "audit", "-c", config, "--source", DEMO_FILE, "--dry-run", "--since", "2026-11-20", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["window"]["start"] == "2026-11-20T00:00:00+00:00"


@pytest.mark.parametrize("content", [b"", b"\n\n", b'{"not": "an observation"}\n'])
def test_an_empty_replay_file_is_refused_naming_it(config: Path, tmp_path: Path, content: bytes) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(content)
    line = _one_line(_invoke("cost", "-c", config, "--source", empty, "--dry-run"))
    assert line == f"--source: {empty} holds no readable observations: nothing to replay"
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    assert store.last_runs() == {}  # nothing ran
    store.close()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"plain text, named .gz", "BadGzipFile: Not a gzipped file"),
        (b"\x1f\x8b\x08\x00garbagegarbage", "the compressed data is damaged"),
    ],
)
def test_an_unreadable_replay_file_is_refused_naming_it(
    config: Path, tmp_path: Path, content: bytes, reason: str
) -> None:
    broken = tmp_path / "week.jsonl.gz"
    broken.write_bytes(content)
    line = _one_line(_invoke("audit", "-c", config, "--source", broken, "--dry-run"))
    assert line.startswith(f"--source: cannot read replay file {broken}: ") and reason in line, line


def test_until_alone_before_where_the_last_run_stopped_is_refused(config: Path, tmp_path: Path) -> None:
    # Without --since a live run reads from its watermark, so an --until at or before it reads nothing.
    from datetime import UTC, datetime

    from monitors.store.rows import RunCommit

    stopped = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    commit = RunCommit(monitor="events", now=stopped, watermark=stopped, seen=[], outbox=[], events=[], state={})
    store.commit_run(commit)
    store.close()
    for command in (("events",), ("all",)):
        line = _one_line(_invoke(*command, "-c", config, "--until", "2026-11-10"))
        assert line == (
            "--until: 2026-11-10T00:00:00Z is not after where the last events run stopped (2026-11-20T06:00:00Z); "
            "give --since too to read a past range"
        )


def test_until_is_held_only_to_a_watermark_the_run_would_read_from() -> None:
    from datetime import UTC, datetime

    from monitors.app.cli.common import check_until_after_watermarks
    from monitors.contracts.errors import ConfigError

    now, stopped = datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)
    before, after = datetime(2026, 11, 10, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)
    check_until_after_watermarks(until=after, since=None, watermarks={"cost": stopped}, now=now)
    check_until_after_watermarks(until=before, since=before.replace(day=1), watermarks={"cost": stopped}, now=now)
    check_until_after_watermarks(until=before, since=None, watermarks={"cost": None}, now=now)  # never ran
    # A watermark after now is not trusted (the clock went back): the run reads the last day instead.
    check_until_after_watermarks(until=before, since=None, watermarks={"cost": now.replace(year=2027)}, now=now)
    with pytest.raises(ConfigError, match="last cost run stopped"):
        check_until_after_watermarks(until=stopped, since=None, watermarks={"cost": stopped}, now=now)
