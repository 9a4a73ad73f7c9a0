"""--dry-run on the commands that read the store (status, silence, report) never changes it, also before
anything has run: no file created, no schema upgraded."""

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


def test_silence_and_report_dry_runs_create_no_store(tmp_path: Path) -> None:
    store = tmp_path / "state" / "monitors.db"
    config = _config(tmp_path, store)
    silenced = CliRunner().invoke(cli, ["silence", "cost", "--for", "1h", "--dry-run", "-c", str(config)], env={})
    assert silenced.exit_code == 0 and silenced.stdout.startswith("would silence cost"), silenced.output
    listed = CliRunner().invoke(cli, ["silence", "--list", "--dry-run", "-c", str(config)], env={})
    assert listed.exit_code == 0 and "0 active silence(s)" in listed.stdout, listed.output
    replay = tmp_path / "empty.jsonl"
    replay.write_text("")
    report = ["report", "--dry-run", "--week", "2026-W47", "--source", str(replay), "-c", str(config)]
    reported = CliRunner().invoke(cli, report, env={})
    assert reported.exit_code in (0, 1) and "Traceback" not in reported.output, reported.output
    assert "Weekly report 2026-W47" in reported.output
    assert not store.exists() and not store.parent.exists()


def test_a_dry_run_does_not_upgrade_an_older_store(tmp_path: Path) -> None:
    import sqlalchemy as sa

    store = tmp_path / "monitors.db"
    config = _config(tmp_path, store)
    assert CliRunner().invoke(cli, ["silence", "cost", "--for", "1h", "-c", str(config)], env={}).exit_code == 0
    engine = sa.create_engine(f"sqlite:///{store}")
    with engine.begin() as conn:  # pretend one migration is still to come
        latest = conn.execute(sa.text("select max(name) from schema_migrations")).scalar()
        conn.execute(sa.text("delete from schema_migrations where name = :n"), {"n": latest})
    engine.dispose()
    before = store.read_bytes()
    for args in (["silence", "cost", "--for", "1h", "--dry-run"], ["silence", "--list", "--dry-run"]):
        result = CliRunner().invoke(cli, [*args, "-c", str(config)], env={})
        assert result.exit_code == 0, result.output
    assert store.read_bytes() == before
