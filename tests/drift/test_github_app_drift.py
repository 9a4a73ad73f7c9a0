"""Goal-drift reading GitHub as a GitHub App, through the CLI: monitors.yaml with app_id,
installation_id and the private key from `GITHUB_APP_PRIVATE_KEY_FILE`, the real wiring, the fake
Langfuse and the fake GitHub checking the app's JWT. A drifted PR alerts; wrong credentials fail the
run with one line (exit 1); a bad combination or key fails `validate` (exit 2); the key and the tokens
never show.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from monitors.app.cli.main import cli
from monitors.engine import registry
from tests.drift.test_forges_e2e import github_state
from tests.fakes.github_server import FakeApp, FakeGitHub, app_key, running
from tests.fakes.langfuse_server import FakeLangfuse
from tests.test_goal_drift import obs_for_trace

APP_ID = 424242
INSTALLATION = 7001
SINCE = ["--since", "2026-03-10T00:00:00Z", "--until", "2026-03-12T09:00:00Z"]
KEYS = {"LANGFUSE_PUBLIC_KEY": "pk-lf-app-test", "LANGFUSE_SECRET_KEY": "sk-lf-app-test"}


@pytest.fixture(autouse=True)
def _topic_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "drift", "tests.test_goal_drift_e2e:TopicDriftMonitor")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    gh = github_state()
    gh.token = None  # only the app's installation tokens open the pull requests
    gh.app = FakeApp(str(APP_ID), app_key()[1], {INSTALLATION})
    traces = [
        *obs_for_trace("t-good", "login-agent", {"objective": "Fix the login redirect", "mr_iid": "acme/web#41"}),
        *obs_for_trace("t-drift", "login-bot", {"objective": "Fix the login page", "mr_iid": "acme/web#42"}),
    ]
    key_file = tmp_path / "secrets" / "GITHUB_APP_PRIVATE_KEY"
    key_file.parent.mkdir()
    key_file.write_text(app_key()[0])
    lf = FakeLangfuse(traces, public_key=KEYS["LANGFUSE_PUBLIC_KEY"], secret_key=KEYS["LANGFUSE_SECRET_KEY"])
    with lf, running(gh):
        config = {
            "langfuse": {"host": lf.url, "public_key": "${LANGFUSE_PUBLIC_KEY}",
                         "secret_key": "${LANGFUSE_SECRET_KEY}", "max_retries": 0, "query_delay": "0m"},
            "github": {"url": gh.url, "app_id": APP_ID, "installation_id": INSTALLATION,
                       "private_key": "${GITHUB_APP_PRIVATE_KEY}"},
            "store": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
            "channels": {"ops": {"kind": "stdout"}},
            "default_route": {"channels": ["ops"]},
            "monitors": {"drift": {"repositories": {"acme/web": {"forge": "github"}}}},
            "report": {"output_dir": str(tmp_path / "reports")},
        }  # fmt: skip
        env = {**KEYS, "GITHUB_APP_PRIVATE_KEY_FILE": str(key_file)}
        yield {"gh": gh, "config": config, "env": env, "tmp": tmp_path}


def invoke(world: dict[str, Any], args: list[str], **github: Any) -> Any:
    config = {**world["config"], "github": {**world["config"]["github"], **github}}
    path = world["tmp"] / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    return CliRunner().invoke(cli, [args[0], "-c", str(path), *args[1:]], env=world["env"], catch_exceptions=True)


def leaks(world: dict[str, Any], text: str) -> list[str]:
    gh: FakeGitHub = world["gh"]
    body = "".join(app_key()[0].splitlines()[1:-1])
    chunks = [body[i : i + 16] for i in range(0, len(body) - 16, 16)]
    return [s for s in [*gh.issued, *chunks] if s in text]


def test_a_drifted_pull_request_alerts_reading_github_as_an_app(
    world: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    result = invoke(world, ["drift", "-vv", *SINCE])
    assert result.exit_code == 0, result.output
    assert "Goal drift: login-bot on acme/web#42" in result.output and "acme/web#41" not in result.output
    gh: FakeGitHub = world["gh"]
    # One token for the run, minted once and used for the PRs' six reads.
    assert [(r.method, r.status) for r in gh.requests].count(("POST", 201)) == 1 and len(gh.issued) == 1
    (token,) = gh.issued
    gets = [r for r in gh.requests if r.method == "GET"]
    assert len(gets) == 6 and {r.headers["authorization"] for r in gets} == {f"Bearer {token}"}
    assert {r.status for r in gets} == {200}
    # Neither the key nor the token in the output, the logs, the store or anything written.
    assert leaks(world, result.output) == [] and leaks(world, caplog.text) == []
    for path in world["tmp"].rglob("*"):
        if path.is_file() and path.name != "GITHUB_APP_PRIVATE_KEY":
            assert leaks(world, path.read_bytes().decode("latin-1")) == [], path


@pytest.mark.parametrize(
    ("github", "named"),
    [
        ({"installation_id": 99}, f"GitHub App {APP_ID} has no installation 99 (404): check github.installation_id"),
        ({"app_id": 31337}, "GitHub refused the GitHub App's JWT (401): check github.app_id (31337)"),
    ],
)
def test_wrong_app_credentials_fail_the_run_with_one_line(world: dict[str, Any], github: dict, named: str) -> None:
    result = invoke(world, ["drift", *SINCE], **github)
    assert result.exit_code == 1, result.output
    assert named in result.output and "Traceback" not in result.output
    assert leaks(world, result.output) == []
    # The run failed before it judged anything: run again with the right credentials, the PR alerts.
    again = invoke(world, ["drift", *SINCE])
    assert again.exit_code == 0 and "Goal drift: login-bot on acme/web#42" in again.output


def test_a_key_of_another_app_fails_the_run(world: dict[str, Any]) -> None:
    Path(world["env"]["GITHUB_APP_PRIVATE_KEY_FILE"]).write_text(app_key("another app")[0])
    result = invoke(world, ["drift", *SINCE])
    assert result.exit_code == 1 and "github.private_key is a current private key" in result.output
    assert world["gh"].jwt_refusals == ["A JSON web token could not be decoded"]


@pytest.mark.parametrize(
    ("github", "problem"),
    [
        ({"token": "ghp_also"}, "github.app_id: set either github.token or a GitHub App"),
        ({"private_key": None}, "github.private_key: required with github.app_id"),
        ({"app_id": None}, "github.installation_id: a GitHub App key: needs github.app_id as well"),
        ({"app_id": "my-app"}, "github.app_id: must be the GitHub App's numeric app ID"),
        ({"private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"},
         "github.private_key: is not an unencrypted PEM private key"),
    ],
)  # fmt: skip
def test_validate_names_the_key_of_a_wrong_combination(world: dict[str, Any], github: dict, problem: str) -> None:
    result = invoke(world, ["validate"], **github)
    assert result.exit_code == 2 and problem in result.output, result.output
    assert "MIIEow" not in result.output and leaks(world, result.output) == []


def test_validate_accepts_the_app(world: dict[str, Any]) -> None:
    result = invoke(world, ["validate"])
    assert result.exit_code == 0, result.output
    assert world["gh"].requests == []  # validating asks GitHub nothing


def test_a_command_that_reads_no_pull_requests_runs_without_the_key(world: dict[str, Any]) -> None:
    world["env"].pop("GITHUB_APP_PRIVATE_KEY_FILE")
    assert invoke(world, ["status"]).exit_code == 0
    result = invoke(world, ["validate"])
    assert result.exit_code == 2 and "github.private_key: environment variable GITHUB_APP_PRIVATE_KEY is not set" in (
        result.output
    )


def test_without_an_installation_id_the_repository_s_installation_is_looked_up(world: dict[str, Any]) -> None:
    result = invoke(world, ["drift", *SINCE], installation_id=None)
    assert result.exit_code == 0, result.output
    assert "Goal drift: login-bot on acme/web#42" in result.output and "acme/web#41" not in result.output
    gh: FakeGitHub = world["gh"]
    assert [r.path for r in gh.requests if r.path.endswith("/installation")] == ["/repos/acme/web/installation"]
    assert [r.path for r in gh.requests if r.method == "POST"] == [f"/app/installations/{INSTALLATION}/access_tokens"]
    assert leaks(world, result.output) == []


def test_a_repository_the_app_is_not_installed_on_is_unverifiable(world: dict[str, Any]) -> None:
    world["gh"].app.accounts = {INSTALLATION: {"another-org"}}
    result = invoke(world, ["drift", "--format", "json", *SINCE], installation_id=None)
    assert result.exit_code == 0, result.output
    assert "Goal drift" not in result.output and '"unverifiable": 2' in result.output
    assert not [r for r in world["gh"].requests if "/pulls/" in r.path]
