"""Known secret values set in the environment; every CLI command run, succeeding and failing, with -vv
logs captured. No secret may appear in stdout, stderr, the logs, any table of the store, any file the
commands wrote, or any message the chat received.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from monitors.app.cli.main import cli
from monitors.contracts.records import Observation
from monitors.engine import registry
from tests.fakes import github_server
from tests.fakes.github_server import FakeApp, FakeGitHub, app_key, changed
from tests.fakes.github_server import commit as gh_commit
from tests.fakes.gitlab_server import FakeGitLab, running
from tests.fakes.langfuse_server import FakeLangfuse
from tests.fakes.webhook_server import Reply, WebhookServer
from tests.reliability.harness import NOW
from tests.reliability.subprocess_run import loops
from tests.test_goal_drift import commit, obs_for_trace

SECRETS = {
    "LANGFUSE_PUBLIC_KEY": "pk-lf-SECRET-PUBLIC-1234",
    "LANGFUSE_SECRET_KEY": "sk-lf-SECRET-SECRET-5678",
    "GITLAB_TOKEN": "glpat-SECRET-TOKEN-9012",
    "HOOK_ID": "SECRET-HOOK-ID-3456",
    "PG_PASSWORD": "PG-SECRET-PASSWORD-7890",
    "GITHUB_APP_PRIVATE_KEY": app_key()[0],
}
MINTED = "ghs_SECRET-MINTED-"  # every installation token the fake GitHub issues starts with this
OTHER_APP_KEY = app_key("another app")[0]


@pytest.fixture
def world(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setitem(registry.MONITORS, "drift", "tests.test_goal_drift_e2e:TopicDriftMonitor")
    gitlab = FakeGitLab(token=SECRETS["GITLAB_TOKEN"])
    gitlab.add_mr("group/app", 20, [commit("bill9", "2026-03-10T06:00:00Z", "Rewrite the billing export")])
    github = FakeGitHub(token=None, app=FakeApp("4242", app_key()[1], {77}), token_prefix=MINTED)
    github.add_pull("acme/web", 42, [gh_commit("g42", "Rewrite the billing export")], [changed("billing/export.py")])
    with (
        FakeLangfuse(
            loops(NOW) + _drifting(),
            public_key=SECRETS["LANGFUSE_PUBLIC_KEY"],
            secret_key=SECRETS["LANGFUSE_SECRET_KEY"],
        ) as lf,
        WebhookServer() as hook,
        running(gitlab),
        github_server.running(github),
    ):
        store_url = postgres_url.replace("postgres@", "postgres:${PG_PASSWORD}@", 1)
        env = {
            **SECRETS,
            "SLACK_WEBHOOK_URL": hook.url(f"/services/T0/B0/{SECRETS['HOOK_ID']}"),
            "MATTERMOST_WEBHOOK_URL": hook.url(f"/hooks/{SECRETS['HOOK_ID']}"),
        }
        config = {
            "langfuse": {"host": lf.url, "public_key": "${LANGFUSE_PUBLIC_KEY}", "secret_key": "${LANGFUSE_SECRET_KEY}",
                         "max_retries": 0, "query_delay": "0m"},
            "gitlab": {"url": gitlab.url, "token": "${GITLAB_TOKEN}"},
            "github": {"url": github.url, "app_id": 4242, "installation_id": 77,
                       "private_key": "${GITHUB_APP_PRIVATE_KEY}"},
            "monitors": {"drift": {"repositories": {"acme/web": {"forge": "github"}}}},
            "store": {"url": store_url},
            "channels": {"slack": {"kind": "slack", "webhook_url": "${SLACK_WEBHOOK_URL}"},
                         "mm": {"kind": "mattermost", "webhook_url": "${MATTERMOST_WEBHOOK_URL}"}},
            "default_route": {"channels": ["slack", "mm"]},
            "report": {"output_dir": str(tmp_path / "reports")},
        }  # fmt: skip
        path = tmp_path / "monitors.yaml"
        path.write_text(yaml.safe_dump(config))
        yield {"lf": lf, "hook": hook, "config": str(path), "env": env, "tmp": tmp_path,
               "store": postgres_url, "github": github}  # fmt: skip


def _drifting() -> list[Observation]:
    """Agents whose merge request and pull request do something else (the day before the loops: --since
    covers both); the pull request is read as a GitHub App."""
    return [
        *obs_for_trace("t-drift", "login-bot", {"objective": "Fix the login page", "mr_iid": 20, "repo": "group/app"}),
        *obs_for_trace("t-gh-drift", "login-app", {"objective": "Fix the login page", "mr_iid": "acme/web#42"}),
    ]


def _invoke(world: dict[str, Any], args: list[str], env: dict[str, str] | None = None) -> Any:
    runner = CliRunner()
    return runner.invoke(cli, args, env=env or world["env"], catch_exceptions=True)


def _commands(world: dict[str, Any]) -> list[tuple[str, list[str]]]:
    c, tmp = world["config"], world["tmp"]
    since = ["--since", "2026-03-10T00:00:00Z", "--until", NOW.isoformat()]
    return [
        ("validate", ["validate", "-c", c, "-s", "schedules.yaml"]),
        ("audit", ["audit", "-c", c, "-vv", *since]),
        ("cost", ["cost", "-c", c, "-vv", *since]),
        ("drift", ["drift", "-c", c, "-vv", *since]),
        ("all --dry-run", ["all", "-c", c, "--dry-run", "-vv", *since]),
        ("export", ["export", "-c", c, "--since", "2026-03-10T00:00:00Z", "-o", str(tmp / "export.jsonl")]),
        ("silence", ["silence", "cost", "--for", "2h", "-c", c]),
        ("silence --list", ["silence", "--list", "-c", c]),
        ("test-alert slack", ["test-alert", "-c", c, "--channel", "slack"]),
        ("test-alert mm", ["test-alert", "-c", c, "--channel", "mm"]),
        ("status", ["status", "-c", c, "--format", "json"]),
        ("report --dry-run", ["report", "-c", c, "--dry-run", "--week", "2026-W10"]),
        ("scheduler --dry-run", ["scheduler", "-c", c, "-s", "schedules.yaml", "--dry-run"]),
        ("k8s render", ["k8s", "render", "-c", c, "-s", "schedules.yaml", "-o", str(tmp / "k8s")]),
    ]


def _failures(world: dict[str, Any]) -> list[tuple[str, list[str], dict[str, str]]]:
    """Each command again with one thing broken; the secrets are still set."""
    c, env = world["config"], world["env"]
    wrong_key = {**env, "LANGFUSE_SECRET_KEY": "sk-lf-SECRET-WRONG-0000"}
    wrong_token = {**env, "GITLAB_TOKEN": "glpat-SECRET-WRONG-1111"}
    other_app_key = {**env, "GITHUB_APP_PRIVATE_KEY": OTHER_APP_KEY}
    text = Path(c).read_text()
    broken, no_db = world["tmp"] / "broken.yaml", world["tmp"] / "no-db.yaml"
    broken.write_text(text.replace("max_retries: 0", "max_retries: lots"))
    no_db.write_text(text.replace("@127.0.0.1:5432/", "@127.0.0.1:1/"))  # nothing listens on port 1
    return [
        ("audit, wrong Langfuse key", ["audit", "-c", c, "-vv"], wrong_key),
        ("drift, wrong GitLab token", ["drift", "-c", c, "-vv", "--since", "2026-03-10T00:00:00Z"], wrong_token),
        ("drift, another app's key", ["drift", "-c", c, "-vv", "--since", "2026-03-10T00:00:00Z"], other_app_key),
        (
            "validate, a key that is no key",
            ["validate", "-c", c],
            {**env, "GITHUB_APP_PRIVATE_KEY": "ghs_SECRET-no-key"},
        ),
        ("export, wrong Langfuse key", ["export", "-c", c, "-o", str(world["tmp"] / "x.jsonl")], wrong_key),
        ("validate, broken file", ["validate", "-c", str(broken)], env),
        ("validate, a secret missing", ["validate", "-c", c], {k: v for k, v in env.items() if k != "PG_PASSWORD"}),
        ("test-alert, chat answers 404", ["test-alert", "-c", c, "--channel", "slack"], env),
        ("test-alert, chat down", ["test-alert", "-c", c, "--channel", "mm"], env),
        ("status, database unreachable", ["status", "-c", str(no_db)], env),
        ("cost, database unreachable", ["cost", "-c", str(no_db), "-vv"], env),
    ]


def _leaks(text: str) -> list[str]:
    values = [*SECRETS.values(), "sk-lf-SECRET-WRONG-0000", "glpat-SECRET-WRONG-1111", MINTED, "ghs_SECRET-no-key"]
    # A key leaks even when only one line of it is shown.
    values += [line for key in (SECRETS["GITHUB_APP_PRIVATE_KEY"], OTHER_APP_KEY) for line in _key_lines(key)]
    return [v for v in values if v in text]


def _key_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def _store_dump(url: str) -> str:
    engine = sa.create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            return "\n".join(str(list(conn.execute(sa.text(f'SELECT * FROM "{t}"')))) for t in tables)
    finally:
        engine.dispose()


def _forget_drift_changes(url: str) -> None:
    engine = sa.create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM drift_changes"))
    finally:
        engine.dispose()


def test_no_command_leaks_a_secret(world: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert _leaks(world["env"]["SLACK_WEBHOOK_URL"]) and _leaks(Path(world["config"]).read_text()) == []
    hook: WebhookServer = world["hook"]
    outputs: dict[str, str] = {}
    for name, args in _commands(world):
        result = _invoke(world, args)
        outputs[name] = result.output
        assert result.exit_code in (0, 1), (name, result.output, result.exception)
        assert not _leaks(result.output), (name, _leaks(result.output))
    assert "monitor=audit status=ok" in outputs["audit"] and "ok=True" in outputs["test-alert slack"]
    # GitLab was read with the token, GitHub as an app: both drift alerts went out, to both channels.
    assert "delivered=4" in outputs["drift"]
    github: FakeGitHub = world["github"]
    assert any(r.method == "POST" and r.status == 201 for r in github.requests)
    for name, args, env in _failures(world):
        if "404" in name:
            hook.script(Reply(404, "no_service"), Reply(404, "no_service"))
        if "down" in name:
            hook.go_down()
        if name.startswith("drift,"):
            # Goal-drift does not read a merge request again once it judged its head (its cache in the
            # store); forget that so this run has to ask GitLab with the wrong token.
            _forget_drift_changes(world["store"])
        result = _invoke(world, args, env)
        hook.come_up()
        # Every failure is a clean exit 1 or 2 (a GitLab token rejected for every MR fails the drift run).
        assert result.exit_code in (1, 2), (name, result.output)
        assert "Traceback" not in result.output, name
        assert not _leaks(result.output), (name, _leaks(result.output), result.output)
        outputs[name] = result.output
    assert (
        "401" in outputs["audit, wrong Langfuse key"]
        and "cannot open state store" in outputs["status, database unreachable"]
        and "check github.app_id (4242)" in outputs["drift, another app's key"]
        and "github.private_key: is not an unencrypted PEM" in outputs["validate, a key that is no key"]
    )
    assert not _leaks(caplog.text), _leaks(caplog.text)
    assert not _leaks(_store_dump(world["store"]))
    bodies = "\n".join(r.body.decode() for r in hook.requests)
    assert len(hook.requests) >= 4 and not _leaks(bodies)
    written = [p for p in world["tmp"].rglob("*") if (p.is_file() and p.suffix != ".yaml") or p.parent.name == "k8s"]
    for path in written:
        if path.is_file():
            assert not _leaks(path.read_text(errors="replace")), path
    assert any(p.name.endswith(".yaml") for p in (world["tmp"] / "k8s").rglob("*"))
