"""A dry-run replay of an export through the real monitors.yaml needs none of the secrets it never uses.

`--source FILE --dry-run` reads the file, not Langfuse, prints instead of sending, and pushes no series:
the Langfuse keys, the channels' webhooks and the Pushgateway may be unset. Drift still reads merge
requests live, so it still needs the forge token (when it runs: `all` runs the others first); a replay
that delivers, a live run and `validate` still need everything else. The dry-run and drift tests failed
before the change (exit 2 on every unset variable); the others pin what must not change. `report`
follows the same rule, and `audit evaluate`, which reads only the audit's settings, needs no secret at all.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from monitors.app.cli.main import cli
from monitors.engine.wiring import demo_path
from tests.fakes.webhook_server import WebhookServer

ROOT = Path(__file__).resolve().parents[2]
DEMO_FILE = demo_path("observations.jsonl.gz")
# Every variable the shipped monitors.yaml reads: none is set unless a test sets it.
UNSET = {
    name: None
    for name in (
        "LANGFUSE_HOST",
        "LANGFUSE_PUBLIC_KEY",
        "LANGFUSE_SECRET_KEY",
        "GITLAB_URL",
        "GITLAB_TOKEN",
        "MONITORS_STORE_URL",
        "MATTERMOST_WEBHOOK_URL",
        "SLACK_WEBHOOK_URL",
        "PUSHGATEWAY_URL",
    )
}
SECRETS = ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "GITLAB_TOKEN", "MATTERMOST_WEBHOOK_URL", "SLACK_WEBHOOK_URL")


@pytest.fixture
def shipped_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository's own monitors.yaml, in a directory of its own (its store path is relative)."""
    monkeypatch.chdir(tmp_path)
    return Path(shutil.copy(ROOT / "monitors.yaml", tmp_path / "monitors.yaml"))


def _invoke(*args: object, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=UNSET | (env or {}))


def _notes(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("note:")]


@pytest.mark.parametrize(
    ("monitor", "alert"),
    [("audit", "tool-call loop"), ("cost", "budget"), ("events", "error")],
)
def test_a_dry_run_replay_needs_no_secret_and_says_which_were_unset(
    shipped_config: Path, monitor: str, alert: str
) -> None:
    result = _invoke(monitor, "-c", shipped_config, "--source", DEMO_FILE, "--dry-run")
    assert result.exit_code == 0, result.output
    assert _notes(result) == [
        f"note: not set: {', '.join(SECRETS)}; a dry-run replay of {monitor} does not need them "
        "(it reads the file, not Langfuse, and sends nothing)"
    ]
    assert "environment variable" not in result.output
    summary = result.stdout.strip().splitlines()[-1]
    assert f"monitor={monitor} status=ok" in summary and "dry_run=true" in summary, summary
    assert re.search(r" findings=[1-9]", summary), summary
    # Channels whose webhook is unset still print what they would have sent.
    assert alert in result.output.lower()
    assert "unset-variable.invalid" not in result.output
    assert not (shipped_config.parent / "state").exists()  # a dry run leaves no store behind


def test_drift_still_needs_the_gitlab_token_and_says_why(shipped_config: Path) -> None:
    problem = (
        f"{shipped_config}: gitlab.token: environment variable GITLAB_TOKEN is not set "
        "(needed: drift reads merge requests from GitLab even in a replay)"
    )
    drift = _invoke("drift", "-c", shipped_config, "--source", DEMO_FILE, "--dry-run")
    assert drift.exit_code == 2, drift.output
    assert drift.stderr.splitlines() == [problem] and drift.stdout == ""
    every = _invoke("all", "-c", shipped_config, "--source", DEMO_FILE, "--dry-run")
    assert every.exit_code == 2, every.output
    assert every.stderr.splitlines()[-1] == problem  # after the others ran
    assert "monitor=drift status=not_run error='not set: gitlab.token'" in every.stdout.splitlines()
    for monitor in ("cost", "audit", "events"):
        assert f"monitor={monitor} status=ok" in every.stdout
    # The note names what the monitors that ran did without: not the token drift needed.
    unset = ", ".join(name for name in SECRETS if name != "GITLAB_TOKEN")
    assert _notes(every) == [
        f"note: not set: {unset}; a dry-run replay of cost, audit, events does not need them "
        "(it reads the file, not Langfuse, and sends nothing)"
    ]


def test_a_replay_that_delivers_or_a_live_run_needs_every_secret_but_the_forges(shipped_config: Path) -> None:
    replay = _invoke("audit", "-c", shipped_config, "--source", DEMO_FILE)
    live_dry = _invoke("audit", "-c", shipped_config, "--dry-run")
    for result in (replay, live_dry):
        assert result.exit_code == 2, result.output
        for name in SECRETS:
            assert (f"environment variable {name} is not set" in result.stderr) == (name != "GITLAB_TOKEN")
        assert "note:" not in result.stderr


def test_validate_still_names_every_unset_variable(shipped_config: Path) -> None:
    result = _invoke("validate", "-c", shipped_config)
    assert result.exit_code == 2
    assert [line.split(": ", 1)[1] for line in result.stderr.splitlines()] == [
        "langfuse.public_key: environment variable LANGFUSE_PUBLIC_KEY is not set",
        "langfuse.secret_key: environment variable LANGFUSE_SECRET_KEY is not set",
        "gitlab.token: environment variable GITLAB_TOKEN is not set",
        "channels.ops.webhook_url: environment variable MATTERMOST_WEBHOOK_URL is not set",
        "channels.team.webhook_url: environment variable SLACK_WEBHOOK_URL is not set",
    ]


def _edited(config: Path, edit: dict[str, dict[str, object]]) -> Path:
    data = yaml.safe_load(config.read_text())
    for section, keys in edit.items():
        data[section] = data[section] | keys
    config.write_text(yaml.safe_dump(data))
    return config


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        # A mistyped key is still a mistake.
        (
            {"channels": {"ops": {"kind": "mattermost", "webhok_url": "${MATTERMOST_WEBHOOK_URL}"}}},
            "channels.ops.webhok_url: unknown key (did you mean 'webhook_url'?)",
        ),
        # The replay's links to Langfuse use the host: a variable the run uses stays needed.
        ({"langfuse": {"host": "${LANGFUSE_HOST}"}}, "langfuse.host: environment variable LANGFUSE_HOST is not set"),
        # A channel's kind is read to print it; a placeholder is no kind.
        (
            {"channels": {"ops": {"kind": "${OPS_KIND}", "webhook_url": "${MATTERMOST_WEBHOOK_URL}"}}},
            "channels.ops.kind: environment variable OPS_KIND is not set",
        ),
        # A value of the wrong type, even in a key the replay does not use.
        (
            {"langfuse": {"page_size": "many"}},
            "langfuse.page_size: Input should be a valid integer, unable to parse string as an integer",
        ),
    ],
)
def test_every_other_problem_still_exits_2_naming_its_key(
    shipped_config: Path, edit: dict[str, dict[str, object]], problem: str
) -> None:
    config = _edited(shipped_config, edit)
    result = _invoke("events", "-c", config, "--source", DEMO_FILE, "--dry-run")
    assert result.exit_code == 2, result.output
    assert f"{config}: {problem}" in result.stderr.splitlines(), result.stderr


def test_a_dry_run_replay_calls_no_channel_and_shows_no_webhook(shipped_config: Path) -> None:
    with WebhookServer() as hook:
        url = hook.url("/hooks/T000/B000/s3cr3t-path")
        env = {"SLACK_WEBHOOK_URL": url}
        result = _invoke("audit", "-c", shipped_config, "--source", DEMO_FILE, "--dry-run", env=env)
        assert result.exit_code == 0, result.output
        assert hook.requests == []
    assert "tool-call loop" in result.output  # audit routes to `team`, the channel with the receiver's URL
    assert "s3cr3t-path" not in result.output
    assert _notes(result) == [
        "note: not set: LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, GITLAB_TOKEN, MATTERMOST_WEBHOOK_URL; "
        "a dry-run replay of audit does not need them (it reads the file, not Langfuse, and sends nothing)"
    ]


def test_with_every_secret_set_a_dry_run_replay_notes_nothing(shipped_config: Path) -> None:
    secrets = {name: f"https://example.invalid/{name}" for name in SECRETS}
    result = _invoke("events", "-c", shipped_config, "--source", DEMO_FILE, "--dry-run", env=secrets)
    assert result.exit_code == 0, result.output
    assert _notes(result) == []


def test_all_with_drift_disabled_needs_no_forge_token(shipped_config: Path) -> None:
    data = yaml.safe_load(shipped_config.read_text())
    data["monitors"]["drift"]["enabled"] = False
    shipped_config.write_text(yaml.safe_dump(data, sort_keys=False))
    result = _invoke("all", "-c", shipped_config, "--source", DEMO_FILE, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "GITLAB_TOKEN is not set" not in result.stderr
    # The note names the monitors that ran, not drift, which did not.
    assert _notes(result) == [
        f"note: not set: {', '.join(SECRETS)}; a dry-run replay of cost, audit, events does not need them "
        "(it reads the file, not Langfuse, and sends nothing)"
    ]
    assert "monitor=drift status=disabled" in result.stdout.splitlines()


def test_a_dry_run_replay_of_the_report_needs_no_secret_and_says_which_were_unset(shipped_config: Path) -> None:
    result = _invoke("report", "-c", shipped_config, "--source", DEMO_FILE, "--dry-run", "--week", "2026-W47")
    assert result.exit_code == 0, result.output
    assert _notes(result) == [
        f"note: not set: {', '.join(SECRETS)}; a dry-run replay of report does not need them "
        "(it reads the file, not Langfuse, and sends nothing)"
    ]
    assert "Weekly report 2026-W47" in result.stdout  # the digest, printed instead of posted
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("monitor=report status=ok week=2026-W47 spend=$") and "dry_run=true" in summary
    assert "unset-variable.invalid" not in result.output
    assert not (shipped_config.parent / "reports").exists()  # a dry run writes no report


def test_a_report_that_posts_or_reads_langfuse_needs_every_secret_but_the_forges(shipped_config: Path) -> None:
    replay = _invoke("report", "-c", shipped_config, "--source", DEMO_FILE, "--week", "2026-W47")
    live_dry = _invoke("report", "-c", shipped_config, "--dry-run", "--week", "2026-W47")
    for result in (replay, live_dry):
        assert result.exit_code == 2, result.output
        for name in SECRETS:
            assert (f"environment variable {name} is not set" in result.stderr) == (name != "GITLAB_TOKEN")
        assert "note:" not in result.stderr


def test_audit_evaluate_takes_the_audit_settings_without_any_secret(shipped_config: Path) -> None:
    trajectories = ROOT / "data" / "agent_trajectories" / "trajectories.jsonl"
    labels = ROOT / "data" / "audit_labels" / "test.jsonl"
    result = _invoke("audit", "evaluate", trajectories, "--labels", labels, "-c", shipped_config, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["labelled"] == 39  # stdout is the JSON document alone
    assert _notes(result) == [
        f"note: not set: {', '.join(SECRETS)}; audit evaluate does not need them "
        "(it reads only the audit's settings from the config and sends nothing)"
    ]
    # A config error is still one, naming its key.
    _edited(shipped_config, {"monitors": {"audit": {"min_tool_calls": "five"}}})
    bad = _invoke("audit", "evaluate", trajectories, "--labels", labels, "-c", shipped_config, "--format", "json")
    assert bad.exit_code == 2 and bad.stdout == ""
    assert f"{shipped_config}: monitors.audit.min_tool_calls:" in bad.stderr
