"""`run-monitor status --dry-run` reads the store and never changes it, also before anything has run."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from monitors.app.cli.main import cli


def _config(tmp_path: Path, store: Path) -> Path:
    config = tmp_path / "monitors.yaml"
    config.write_text(yaml.safe_dump({"store": {"url": f"sqlite:///{store}"}}))
    jobs = [{"name": "cost", "monitor": "cost", "cron": "*/15 * * * *"}]
    (tmp_path / "schedules.yaml").write_text(yaml.safe_dump({"jobs": jobs}))
    return config


def test_on_a_fresh_install_it_says_nothing_ran_and_creates_no_store(tmp_path: Path) -> None:
    store = tmp_path / "state" / "monitors.db"
    config = _config(tmp_path, store)
    text = CliRunner().invoke(cli, ["status", "--dry-run", "-c", str(config)], env={})
    assert text.exit_code == 0, text.output
    assert "cost: no run yet; next scheduled " in text.stdout
    assert "stale monitors: 0" in text.stdout
    assert "Traceback" not in text.output and "no such table" not in text.output
    as_json = CliRunner().invoke(cli, ["status", "--dry-run", "-c", str(config), "--format", "json"], env={})
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert (document["runs"], document["stale"]) == ({}, [])
    assert [job["monitor"] for job in document["not_run_yet"]] == ["cost"]
    assert not store.exists() and not store.parent.exists()  # a dry run leaves no file behind


def test_an_existing_store_is_read_as_it_is(tmp_path: Path) -> None:
    store = tmp_path / "monitors.db"
    config = _config(tmp_path, store)
    assert CliRunner().invoke(cli, ["silence", "cost", "--for", "1h", "-c", str(config)], env={}).exit_code == 0
    before = store.read_bytes()
    result = CliRunner().invoke(cli, ["status", "--dry-run", "-c", str(config), "--format", "json"], env={})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["runs"] == {}
    assert store.read_bytes() == before
