"""No traceback reaches a user: a file that cannot be read or written is one line naming it (exit 2), an
unexpected error one redacted `internal error:` line (exit 1), and -v shows the traceback where asked."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from monitors.app.cli.main import cli

# Shaped like no credential, so only knowing them masks them: one from the config (its SecretStr), one from
# an environment variable named like a secret.
SECRET = "Zq83hiddenvalue"
STORE_PASSWORD = "hunter2pass"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    data = {
        "langfuse": {"host": "http://127.0.0.1:9", "public_key": "pk-lf-public1", "secret_key": "${LF_SK}"},
        "store": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
        "channels": {"term": {"kind": "stdout"}},
        "default_route": {"channels": ["term"]},
    }
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _invoke(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env={"LF_SK": SECRET, "DB_PASSWORD": STORE_PASSWORD})


def _boom(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError(f"request to db failed ({STORE_PASSWORD}),\n key {SECRET} refused")


def test_an_unexpected_error_is_one_redacted_line(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitors.store.store.Store.last_runs", _boom)
    result = _invoke("status", "-c", config)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("internal error: RuntimeError: request to db failed (***), key *** refused")
    assert lines[0].endswith("refused (run with -v for the traceback)"), lines
    assert SECRET not in result.stderr and STORE_PASSWORD not in result.stderr
    assert "Traceback" not in result.stderr


def test_with_v_the_traceback_shows_redacted(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitors.store.store.Store.last_runs", _boom)
    result = _invoke("status", "-c", config, "-v")
    assert result.exit_code == 1, result.output
    assert "Traceback (most recent call last)" in result.stderr and "last_runs" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("internal error: RuntimeError: ")
    assert "run with -v" not in result.stderr
    assert SECRET not in result.stderr and STORE_PASSWORD not in result.stderr


def test_a_command_without_its_own_error_handling_is_guarded_too(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitors.engine.wiring.build_source", _boom)
    result = _invoke("validate", "-c", config)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("internal error: RuntimeError: ") and "Traceback" not in result.stderr
    assert SECRET not in result.stderr


@pytest.mark.parametrize("command", ["status", "validate", "silence", "test-alert", "export", "drift", "audit"])
def test_every_command_takes_v(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert "-v, --verbose" in result.output


def test_a_file_that_cannot_be_written_is_one_line_naming_it(config: Path, tmp_path: Path) -> None:
    target = config / "observations.jsonl"  # under a file: no folder to write into
    result = _invoke("export", "-c", config, "--since", "1h", "-o", target)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: {target}: Not a directory\n"


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (PermissionError(errno.EACCES, "Permission denied", "/srv/.out.jsonl.partial"), "Permission denied"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "/srv"), "Is a directory"),
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),  # names no file
    ],
)
def test_an_os_error_is_one_line_with_the_path_and_exit_2(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, cause: str
) -> None:
    def fail(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr("monitors.engine.export.export_observations", fail)
    output = tmp_path / "out.jsonl"
    result = _invoke("export", "-c", config, "--since", "1h", "-o", output)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: {output}: {cause}\n"  # the file the user named, not a partial one


def test_an_os_error_elsewhere_names_its_own_path(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", "/var/lib/monitors/state.db")

    monkeypatch.setattr("monitors.store.store.Store.last_runs", fail)
    result = _invoke("status", "-c", config)
    assert result.exit_code == 2, result.output
    assert result.stderr == "error: /var/lib/monitors/state.db: Permission denied\n"


@pytest.mark.parametrize("command", [("cost",), ("all",), ("status",), ("scheduler", "-s", "schedules.yaml")])
def test_a_config_error_is_one_line_even_with_v(tmp_path: Path, command: tuple[str, ...]) -> None:
    bad = tmp_path / "monitors.yaml"
    bad.write_text("langfuse: {public_key: x}\nstore: {url: 'mysql://db/x'}\n")
    (tmp_path / "schedules.yaml").write_text("jobs:\n  - {name: c, monitor: cost, cron: '*/5 * * * *'}\n")
    rest = [str(tmp_path / arg) if arg.endswith(".yaml") else arg for arg in command[1:]]
    result = CliRunner().invoke(cli, [command[0], "-vv", "-c", str(bad), *rest])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert all(line.startswith(f"{bad}: ") for line in result.stderr.splitlines()), result.stderr


def test_a_store_path_is_shown_its_password_is_not(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_file = tmp_path / "state.db"

    def fail(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"sqlite:///{store_file} is locked; the other store wants {STORE_PASSWORD}")

    monkeypatch.setattr("monitors.store.store.Store.last_runs", fail)
    result = _invoke("status", "-c", config)
    assert result.exit_code == 1, result.output
    assert f"sqlite:///{store_file} is locked" in result.stderr  # where the store is: not a secret
    assert STORE_PASSWORD not in result.stderr


def test_the_store_urls_password_is_a_secret() -> None:
    from monitors.app.cli.redaction import _settings_secrets
    from monitors.engine.config import settings_from_dict

    settings = settings_from_dict({"store": {"url": "postgresql://monitors:Pw9xyzzy@db.internal/monitors"}}, env={})
    assert list(_settings_secrets(settings)) == ["Pw9xyzzy"]
