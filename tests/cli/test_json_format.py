"""--format json on the operator commands: stdout holds one JSON document and nothing else, text
stays as it was, and problems still go to stderr with their exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from monitors.app.cli.main import cli

SCHEDULES = {
    "timezone": "UTC",
    "jobs": [
        {"name": "cost", "monitor": "cost", "cron": "*/15 * * * *"},
        {"name": "weekly-report", "monitor": "report", "cron": "0 8 * * 1", "timezone": "Europe/Paris"},
    ],
}


def _files(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "monitors.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "langfuse": {"host": "https://lf.example", "public_key": "pk", "secret_key": "sk"},
                "store": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
                "channels": {"console": {"kind": "stdout"}},
                "default_route": {"channels": ["console"]},
            }
        )
    )
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(yaml.safe_dump(SCHEDULES))
    return config, schedules


def _json(*args: Any) -> tuple[Result, Any]:
    result = CliRunner().invoke(cli, [str(a) for a in args], env={})
    return result, json.loads(result.stdout)


def test_validate(tmp_path: Path) -> None:
    config, schedules = _files(tmp_path)
    ok, document = _json("validate", "-c", config, "-s", schedules, "--format", "json")
    assert ok.exit_code == 0
    assert document == {"ok": True, "checked": [str(config), str(schedules)], "problems": [], "notes": []}
    schedules.write_text(yaml.safe_dump({"jobs": [{"name": "c", "monitor": "cots", "cron": "*/15 * * * *"}]}))
    bad, document = _json("validate", "-c", config, "-s", schedules, "--format", "json")
    assert bad.exit_code == 2 and document["ok"] is False
    assert document["problems"] == [
        f"{schedules}: jobs.0.monitor: unknown monitor 'cots' (did you mean 'cost'?) "
        "(valid: cost, drift, audit, events, report)"
    ]
    assert document["problems"][0] in bad.stderr  # the one-line error is still on stderr


def test_silence_add_list_remove(tmp_path: Path) -> None:
    config, _ = _files(tmp_path)
    added, document = _json("silence", "drift", "--key", "g/x!1", "--for", "2h", "--reason", "known", "-c", config,
                            "--format", "json")  # fmt: skip
    assert added.exit_code == 0 and document["dry_run"] is False
    silenced = document["silenced"]
    assert (silenced["id"], silenced["monitor"], silenced["key"], silenced["reason"]) == (1, "drift", "g/x!1", "known")
    _, listed = _json("silence", "--list", "-c", config, "--format", "json")
    assert [(s["id"], s["monitor"], s["until"]) for s in listed["silences"]] == [(1, "drift", silenced["until"])]
    _, removed = _json("silence", "--remove", "1", "-c", config, "--format", "json")
    assert removed == {"dry_run": False, "removed": 1}
    assert _json("silence", "--list", "-c", config, "--format", "json")[1] == {"silences": []}


def test_silence_list_text_has_no_trailing_space_without_a_reason(tmp_path: Path) -> None:
    config, _ = _files(tmp_path)
    CliRunner().invoke(cli, ["silence", "cost", "--for", "1h", "-c", str(config)], env={})
    listed = CliRunner().invoke(cli, ["silence", "--list", "-c", str(config)], env={})
    assert listed.stdout.splitlines()[0].endswith("Z")


def test_test_alert_to_a_terminal_channel_keeps_the_message_off_stdout(tmp_path: Path) -> None:
    config, _ = _files(tmp_path)
    result, document = _json("test-alert", "--channel", "console", "-c", config, "--format", "json")
    assert result.exit_code == 0
    assert (document["channel"], document["kind"], document["ok"], document["resolved"]) == (
        "console",
        "stdout",
        True,
        None,
    )
    assert "Test alert from langfuse-monitors" in result.stderr  # the message itself, on stderr


def test_scheduler_dry_run_lists_the_jobs(tmp_path: Path) -> None:
    config, schedules = _files(tmp_path)
    result, document = _json("scheduler", "--dry-run", "-c", config, "-s", schedules, "--format", "json")
    assert result.exit_code == 0 and document["schedules"] == str(schedules)
    jobs = {job["name"]: job for job in document["jobs"]}
    assert jobs["cost"]["cron"] == "*/15 * * * *" and jobs["cost"]["timezone"] == "UTC"
    assert jobs["weekly-report"]["timezone"] == "Europe/Paris" and jobs["weekly-report"]["next"].endswith("+01:00")


def test_k8s_render_dry_run_then_check(tmp_path: Path) -> None:
    config, schedules = _files(tmp_path)
    out = tmp_path / "k8s"
    args = ["k8s", "render", "-c", config, "-s", schedules, "-o", out, "--format", "json"]
    dry, planned = _json(*args, "--dry-run")
    assert dry.exit_code == 0 and planned["changed"] and len(planned["changed"]) == planned["files"]
    assert not out.exists()
    wrote, written = _json(*args)
    assert wrote.exit_code == 0 and sorted(written["changed"]) == sorted(planned["changed"])
    check, checked = _json(*args, "--check")
    assert check.exit_code == 0 and checked["changed"] == []


def test_validate_notes_a_job_name_only_kubernetes_refuses(tmp_path: Path) -> None:
    config, schedules = _files(tmp_path)
    schedules.write_text(yaml.safe_dump({"jobs": [{"name": "Drift_Daily", "monitor": "drift", "cron": "0 6 * * *"}]}))
    result, document = _json("validate", "-c", config, "-s", schedules, "--format", "json")
    assert result.exit_code == 0 and document["ok"] is True and document["problems"] == []
    assert document["notes"] == [
        f"{schedules}: jobs.0.name: 'Drift_Daily' must be lowercase letters, digits and '-' for Kubernetes "
        "(only k8s render needs this; the scheduler takes it)"
    ]
    assert f"note: {document['notes'][0]}" in result.stderr


def test_a_run_stopped_before_it_starts_leaves_stdout_empty_and_says_why_in_one_line(tmp_path: Path) -> None:
    config, _ = _files(tmp_path)
    (tmp_path / "not-a-folder").write_text("")
    config.write_text(config.read_text().replace(str(tmp_path / "state.db"), str(tmp_path / "not-a-folder" / "s.db")))
    for args, code in ((["-c", tmp_path / "missing.yaml"], 2), (["-c", config], 1)):
        for command in ("cost", "all"):
            result = CliRunner().invoke(cli, [command, "--format", "json", *map(str, args)], env={})
            assert result.exit_code == code, result.output
            assert result.stdout == ""  # README: check the exit code first
            assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
