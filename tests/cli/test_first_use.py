"""What a new user runs into first: replay windows, per-monitor counters, --demo flags, validate,
secrets per command, and the papercuts of the operator commands. Each test failed before its fix."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from monitors.app.cli.main import cli
from monitors.engine.wiring import demo_path
from tests.fakes.langfuse_server import FakeLangfuse
from tests.sources.langfuse_data import T0, build_dataset

ROOT = Path(__file__).resolve().parents[2]
DEMO_FILE = demo_path("observations.jsonl.gz")


def _config(tmp_path: Path, data: dict[str, Any]) -> Path:
    data = {"store": {"url": f"sqlite:///{tmp_path / 'state.db'}"}} | data
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


TERMINAL = {"channels": {"term": {"kind": "stdout"}}, "default_route": {"channels": ["term"]}}


# --- 1. a replay checks the file's own window -----------------------------------------------------


def test_replay_without_dates_checks_the_files_whole_span(tmp_path: Path) -> None:
    config = _config(tmp_path, TERMINAL)
    result = _invoke("audit", "-c", config, "--source", DEMO_FILE, "--dry-run")
    assert result.exit_code == 0, result.output
    summary = result.stdout.strip().splitlines()[-1]
    # The sample file holds three weeks, 2 to 22 November; the old default read the last 24 hours: 0 records.
    assert "window=2026-11-02T01:06:07Z..2026-11-22T22:55:09Z" in summary, summary
    assert "records=21263" in summary and "findings=9" in summary, summary
    assert "note:" not in result.stderr


def test_a_replay_of_an_empty_file_leaves_the_live_watermark_alone(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from monitors.store.rows import RunCommit
    from monitors.store.store import Store

    config = _config(tmp_path, TERMINAL)
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    live = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    store.commit_run(RunCommit("audit", live, live, seen=[], outbox=[], events=[], state={}))  # a live run's
    store.close()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = _invoke("audit", "-c", config, "--source", empty)
    assert result.exit_code == 2, result.output  # it ran and said all was well: records=0 findings=0
    assert result.stderr == f"--source: {empty} holds no readable observations: nothing to replay\n"
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    assert store.watermark("audit") == live  # a live run would otherwise skip to now, past unread traces
    store.close()


def test_replay_says_which_window_it_checked_when_narrower_than_the_file(tmp_path: Path) -> None:
    config = _config(tmp_path, TERMINAL)
    args = ("audit", "-c", config, "--source", DEMO_FILE, "--dry-run", "--since", "2026-11-16T00:00:00Z")
    result = _invoke(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    assert (
        f"note: {DEMO_FILE} holds observations over 2026-11-02T01:06:07Z..2026-11-22T22:55:09Z; "
        "checking 2026-11-16T00:00:00Z..2026-11-22T22:55:09Z only"
    ) in result.stderr
    summary = json.loads(result.stdout)  # the note stays off stdout: JSON mode is still only JSON
    assert summary["window"]["start"] == "2026-11-16T00:00:00+00:00"
    wider = _invoke("audit", "-c", config, "--source", DEMO_FILE, "--dry-run", "--since", "2026-11-01T00:00:00Z")
    assert wider.exit_code == 0 and "note:" not in wider.stderr  # a window around the whole file misses nothing


# --- 2. requests= is per monitor --------------------------------------------------------------------


@pytest.fixture
def langfuse() -> Iterator[FakeLangfuse]:
    with FakeLangfuse(build_dataset()) as fake:
        yield fake


def _langfuse_config(tmp_path: Path, lf: FakeLangfuse) -> Path:
    section = {"host": lf.url, "public_key": lf.public_key, "secret_key": lf.secret_key, "requests_per_minute": None}
    return _config(tmp_path, {"langfuse": section, **TERMINAL})


def test_requests_are_counted_per_monitor_in_run_all(tmp_path: Path, langfuse: FakeLangfuse) -> None:
    config = _langfuse_config(tmp_path, langfuse)
    window = ("--since", (T0 - timedelta(hours=1)).isoformat(), "--until", (T0 + timedelta(days=3)).isoformat())
    before = len(langfuse.requests)
    alone = _invoke("audit", "-c", config, *window, "--dry-run", "--format", "json")
    audit_alone = json.loads(alone.stdout)["requests"]
    assert audit_alone == len(langfuse.requests) - before > 0

    everything = _invoke("all", "-c", config, *window, "--dry-run", "--format", "json")
    assert everything.exit_code == 0, everything.output
    document = json.loads(everything.stdout)  # one JSON document for the whole command, not a line per run
    summaries = {s["monitor"]: s for s in document["runs"]}
    assert list(summaries) == ["cost", "drift", "audit", "events"]
    assert summaries["audit"]["requests"] == audit_alone
    assert sum(s["requests"] for s in summaries.values()) == len(langfuse.requests) - before - audit_alone


# --- 4. --demo and the flags it cannot honour; JSON mode is only JSON -----------------------------------


@pytest.mark.parametrize(
    ("flag", "value"),
    [("-c", "monitors.yaml"), ("--since", "2d"), ("--until", "1d"), ("--source", str(DEMO_FILE))],
)
def test_demo_rejects_flags_it_would_ignore(flag: str, value: str) -> None:
    result = _invoke("audit", "--demo", flag, value)
    assert result.exit_code == 2
    assert "--demo replays the bundled sample week with its own config; drop" in result.output
    assert "monitor=" not in result.output


def test_demo_json_mode_prints_only_json_on_stdout_and_honours_dry_run() -> None:
    result = _invoke("audit", "--demo", "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    [summary] = [json.loads(line) for line in result.stdout.splitlines()]  # every stdout line is JSON
    assert summary["monitor"] == "audit" and summary["dry_run"] is True and summary["findings"] == 9
    assert "tool-call loop" in result.stderr  # the alerts are still shown, on stderr


@pytest.mark.slow
def test_all_in_json_mode_prints_one_document_listing_every_run() -> None:
    result = _invoke("all", "--demo", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # `run-monitor all --demo --format json | python -m json.tool` works
    assert [(run["monitor"], run["status"]) for run in document["runs"]] == [
        ("cost", "ok"),
        ("drift", "ok"),
        ("audit", "ok"),
        ("events", "ok"),
    ]
    assert "Weekly report 2026-W47" in result.stderr  # the digest, like the alerts, stays off stdout


def test_a_setting_that_stops_all_midway_still_leaves_the_runs_before_it_as_json(tmp_path: Path) -> None:
    config = _config(tmp_path, TERMINAL)  # no forge: drift cannot read change requests (exit 2)
    result = _invoke("all", "-c", config, "--source", DEMO_FILE, "--dry-run", "--format", "json")
    assert result.exit_code == 2
    assert "goal-drift needs a forge source" in result.stderr
    assert [run["monitor"] for run in json.loads(result.stdout)["runs"]] == ["cost"]


def test_dry_run_json_mode_keeps_alerts_off_stdout(tmp_path: Path) -> None:
    config = _config(tmp_path, TERMINAL)
    result = _invoke("audit", "-c", config, "--source", DEMO_FILE, "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["monitor"] for line in result.stdout.splitlines()] == ["audit"]
    assert "tool-call loop" in result.stderr


# --- 5. validate runs the checks a run makes ----------------------------------------------------------


def test_validate_rejects_the_empty_config_every_run_rejects(tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text("")
    run = _invoke("cost", "-c", path)
    validated = _invoke("validate", "-c", path)
    assert run.exit_code == validated.exit_code == 2
    assert f"{path}: langfuse: section required to read traces" in validated.stderr
    assert "ok:" not in validated.stdout


# --- 6. each command asks only for the secrets it uses ---------------------------------------------


def _secret_config(tmp_path: Path, lf: FakeLangfuse) -> Path:
    return _config(
        tmp_path,
        {
            "langfuse": {"host": lf.url, "public_key": "${LF_PK}", "secret_key": "${LF_SK}"},
            "gitlab": {"url": "https://gitlab.example", "token": "${GITLAB_TOKEN}"},
            "channels": {
                "ops": {"kind": "mattermost", "webhook_url": "${MATTERMOST_WEBHOOK_URL}"},
                "team": {"kind": "slack", "webhook_url": "${SLACK_WEBHOOK_URL}"},
            },
            "default_route": {"channels": ["ops"]},
        },
    )


def test_store_commands_need_no_langfuse_gitlab_or_webhook_secrets(tmp_path: Path, langfuse: FakeLangfuse) -> None:
    config = _secret_config(tmp_path, langfuse)
    assert _invoke("status", "-c", config, env={}).exit_code == 0
    listed = _invoke("silence", "--list", "-c", config, env={})
    assert listed.exit_code == 0 and "0 active silence(s)" in listed.output
    added = _invoke("silence", "cost", "--for", "1h", "-c", config, env={})
    assert added.exit_code == 0 and "silenced cost" in added.output


def test_export_needs_only_the_langfuse_keys(tmp_path: Path, langfuse: FakeLangfuse) -> None:
    config = _secret_config(tmp_path, langfuse)
    keys = {"LF_PK": langfuse.public_key, "LF_SK": langfuse.secret_key}
    since = (T0 - timedelta(hours=1)).isoformat()
    result = _invoke("export", "-c", config, "--since", since, "-o", tmp_path / "w.jsonl.gz", env=keys)
    assert result.exit_code == 0, result.output
    assert "exported to" in result.output and " 0 observations" not in result.output


def test_a_run_still_names_every_missing_secret(tmp_path: Path, langfuse: FakeLangfuse) -> None:
    config = _secret_config(tmp_path, langfuse)
    result = _invoke("cost", "-c", config, env={"LF_PK": "pk", "LF_SK": "sk"})
    assert result.exit_code == 2
    for name in ("MATTERMOST_WEBHOOK_URL", "SLACK_WEBHOOK_URL"):
        assert f"environment variable {name} is not set" in result.output
    assert "GITLAB_TOKEN" not in result.output  # only drift reads the forge
    export = _invoke("export", "-c", config, "-o", tmp_path / "x.jsonl", env={})
    assert export.exit_code == 2 and "LF_PK is not set" in export.output and "GITLAB_TOKEN" not in export.output


# --- 8. packaging metadata that setuptools no longer warns about --------------------------------------


def test_license_is_an_spdx_expression_with_its_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"  # the `{text = ...}` table is deprecated (builds fail from 2027-02-18)
    assert project["license-files"] == ["LICENSE"] and (ROOT / "LICENSE").is_file()
    monkeypatch.chdir(ROOT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        apply_configuration(Distribution(), ROOT / "pyproject.toml")  # what every install runs
    assert [str(w.message).splitlines()[0] for w in caught if "license" in str(w.message).lower()] == []


# --- 9. papercuts ----------------------------------------------------------------------------------------


def test_removing_a_silence_that_does_not_exist_fails(tmp_path: Path) -> None:
    config = _config(tmp_path, {})
    result = _invoke("silence", "--remove", "99", "-c", config)
    assert result.exit_code == 1 and "no active silence #99" in result.stderr


def test_silence_names_a_mistyped_monitor(tmp_path: Path) -> None:
    result = _invoke("silence", "costs", "--for", "2h", "-c", _config(tmp_path, {}))
    assert result.exit_code == 2
    assert "unknown monitor 'costs' (did you mean 'cost'? valid: cost, drift, audit, events)" in result.output


@pytest.mark.parametrize("duration", ["0s", "0m"])
def test_a_silence_must_last(tmp_path: Path, duration: str) -> None:
    result = _invoke("silence", "cost", "--for", duration, "-c", _config(tmp_path, {}))
    assert result.exit_code == 2 and "must last longer than 0s" in result.output


def test_failed_test_alert_names_the_host_and_promises_no_retry(tmp_path: Path) -> None:
    hook = {"kind": "mattermost", "webhook_url": "http://127.0.0.1:9/hooks/secret-hook-id"}
    config = _config(tmp_path, {"channels": {"ops": hook}, "alerting": {"retries_per_run": 0}})
    result = _invoke("test-alert", "--channel", "ops", "-c", config)
    assert result.exit_code == 1
    assert "to=127.0.0.1:9/…" in result.stderr and "not retried" in result.stderr
    assert "retry later" not in result.output and "secret-hook-id" not in result.output


def test_calibrate_with_no_valid_pair_fails(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"objective": "x"}\nnot json\n')
    result = _invoke("drift", "calibrate", pairs)
    # A malformed line is a data error that names the line, and nothing is measured (exit 2, not 0).
    assert result.exit_code == 2
    assert "line 1" in result.stderr


def test_help_is_a_command() -> None:
    top, sub = _invoke("help"), _invoke("help", "silence")
    assert top.exit_code == sub.exit_code == 0
    assert top.output == _invoke("--help").output
    assert "Mute a monitor" in sub.output and "--remove" in sub.output


@pytest.mark.parametrize("command", ["cost", "all", "validate", "export", "silence", "status", "report", "scheduler"])
def test_config_option_reads_the_same_everywhere(command: str) -> None:
    text = " ".join(_invoke(command, "--help").output.split())
    assert "-c, --config FILE monitors.yaml to read (default: $MONITORS_CONFIG, else ./monitors.yaml)." in text


def test_validate_suggests_the_key_you_meant(tmp_path: Path) -> None:
    config = _config(tmp_path, {"langfsue": {}, "routes": [{"chanels": ["x"]}]})
    result = _invoke("validate", "-c", config)
    assert result.exit_code == 2
    assert f"{config}: langfsue: unknown key (did you mean 'langfuse'?)" in result.stderr
    assert f"{config}: routes.0.chanels: unknown key (did you mean 'channels'?)" in result.stderr


def test_example_config_points_only_at_files_in_the_repository() -> None:
    import re

    text = (ROOT / "monitors.yaml").read_text()
    for name in re.findall(r"\b[\w./-]+\.(?:md|yaml|json)\b", text):
        assert (ROOT / name).exists(), f"monitors.yaml mentions {name}, which is not in the repository"


# --- a replay file whose lines are not UTF-8 ------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_a_replay_line_that_is_not_utf8_is_counted_not_a_traceback(tmp_path: Path, suffix: str, caplog) -> None:
    import gzip

    good = DEMO_FILE.read_bytes()
    lines = gzip.decompress(good).splitlines(keepends=True)[:200]
    body = b"".join(lines[:100]) + b'{"id": "\xff\xfe latin-1 \xe9t\xe9"}\n' + b"".join(lines[100:])
    path = tmp_path / f"week{suffix}"
    path.write_bytes(gzip.compress(body) if suffix.endswith(".gz") else body)
    config = _config(tmp_path, TERMINAL)
    result = _invoke("audit", "-c", config, "--source", path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    summary = result.stdout.strip().splitlines()[-1]
    assert "malformed=1" in summary, summary
    # The count alone does not say what was wrong: one warning line gives the reason.
    warning = [r.getMessage() for r in caplog.records if "malformed record" in r.getMessage()]
    assert warning == ["audit: skipped 1 malformed record(s); the last: line 101: not UTF-8 text"]


def test_a_connection_error_names_the_langfuse_host(tmp_path: Path) -> None:
    # Port 9 (discard) on the loopback: nothing listens, the connection is refused at once.
    langfuse = {
        "langfuse": {"host": "http://127.0.0.1:9", "public_key": "pk-lf-x", "secret_key": "sk-lf-x", "max_retries": 0}
    }
    config = _config(tmp_path, TERMINAL | langfuse)
    result = _invoke("cost", "-c", config, "--dry-run")
    assert result.exit_code == 1
    assert "connection to 127.0.0.1:9 failed" in result.output, result.output
    assert "sk-lf-x" not in result.output


def test_export_dry_run_as_json_counts_without_writing(tmp_path: Path, langfuse: FakeLangfuse) -> None:
    config = _secret_config(tmp_path, langfuse)
    keys = {"LF_PK": langfuse.public_key, "LF_SK": langfuse.secret_key}
    since = (T0 - timedelta(hours=1)).isoformat()
    target = tmp_path / "w.jsonl"
    args = ("export", "-c", config, "--since", since, "-o", target, "--dry-run", "--format", "json")
    result = _invoke(*args, env=keys)
    document = json.loads(result.stdout)
    assert result.exit_code == 0 and not target.exists()
    assert document["dry_run"] is True and document["output"] is None and document["observations"] > 0
    assert document["requests"] >= 1 and document["window"]["start"] == (T0 - timedelta(hours=1)).isoformat()
