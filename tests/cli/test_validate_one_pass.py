"""`validate` lists every problem it finds in one pass, then exits 2: a route naming an unknown monitor
together with a bad key elsewhere, every channel that cannot be built, and the schedules' problems."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from monitors.app.cli.main import cli


def _validate(*args: object) -> Result:
    return CliRunner().invoke(cli, ["validate", *map(str, args)], env={"HOOK_A": None, "HOOK_B": None})


def test_a_route_and_a_bad_key_elsewhere_are_both_listed(tmp_path: Path) -> None:
    config = tmp_path / "monitors.yaml"
    data = {
        "langfuse": {"public_key": "pk-lf-1", "secret_key": "sk-lf-1", "page_size": "lots"},
        "store": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
        "channels": {"term": {"kind": "stdout"}},
        "routes": [{"monitors": ["cots"], "channels": ["term"]}],
    }
    config.write_text(yaml.safe_dump(data))
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text('jobs:\n  - {name: x, monitor: cost, cron: "* * *"}\n')
    result = _validate("-c", config, "-s", schedules, "--format", "json")
    assert result.exit_code == 2, result.output
    problems = json.loads(result.stdout)["problems"]
    assert [p.split(": ")[:2] for p in problems] == [
        [str(config), "langfuse.page_size"],
        [str(config), "routes.0.monitors"],
        [str(schedules), "jobs.0.cron"],
    ], problems
    assert result.stderr.splitlines() == problems  # one line each, the same in text


def test_every_channel_that_cannot_be_built_is_listed(tmp_path: Path, monkeypatch) -> None:
    from monitors.contracts.errors import ConfigError

    config = tmp_path / "monitors.yaml"
    data = {
        "store": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
        "channels": {"a": {"kind": "stdout"}, "b": {"kind": "stdout"}},
    }
    config.write_text(yaml.safe_dump(data))

    def refuse(settings, **_kwargs):  # a channel a run could not build, as a missing secret is
        (name,) = settings.channel_configs
        raise ConfigError(f"{config}: channels.{name}: cannot be built")

    monkeypatch.setattr("monitors.engine.wiring.build_notifiers", refuse)
    result = _validate("-c", config)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"{config}: langfuse: section required to read traces (or pass --source FILE)",
        f"{config}: channels.a: cannot be built",
        f"{config}: channels.b: cannot be built",
    ]
