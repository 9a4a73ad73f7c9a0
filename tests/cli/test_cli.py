"""run-monitor through its runner and as a real process: exit codes, error text, lazy heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from monitors.app.cli.main import cli

HEAVY = ("torch", "sentence_transformers", "sklearn", "transformers")


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_validate_broken_config_exits_2_naming_each_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "langfuse": {
                "host": "https://lf.example",
                "public_key": "${LF_PK}",
                "secret_key": "${LF_SK}",
                "page_size": "lots",
            },
            "channels": {"ops": {"kind": "mattermost", "webhook_url": "https://mm.example/hooks/x", "colour": 1}},
            "monitors": {
                "cost": {
                    "budgets": [{"name": "global", "daily_cap": -5}, {"name": "t", "daily_cap": 1, "scope": "team"}]
                }
            },
        },
    )
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)], env={"LF_PK": "pk-lf-x"})
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    expected = [
        f"{path}: langfuse.secret_key: environment variable LF_SK is not set",
        f"{path}: langfuse.page_size: ",
        f"{path}: channels.ops.colour: unknown key",
        f"{path}: monitors.cost.budgets.0.daily_cap: ",
        f"{path}: monitors.cost.budgets.1.scope: unknown scope 'team'",
    ]
    for prefix in expected:
        assert any(line.startswith(prefix) for line in lines), (prefix, lines)
    assert "Traceback" not in result.output


def test_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["cost", "-c", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml: no such file" in result.output


def test_run_without_langfuse_section_says_what_to_do(tmp_path: Path) -> None:
    path = _write(tmp_path, {"store": {"url": f"sqlite:///{tmp_path / 's.db'}"}})
    result = CliRunner().invoke(cli, ["cost", "-c", str(path)])
    assert result.exit_code == 2
    assert "langfuse: section required to read traces (or pass --source FILE)" in result.output


def test_silence_add_list_remove(tmp_path: Path) -> None:
    budgets = {"cost": {"budgets": [{"name": "global", "daily_cap": 40}]}}
    path = _write(tmp_path, {"store": {"url": f"sqlite:///{tmp_path / 's.db'}"}, "monitors": budgets})
    runner = CliRunner()
    added = runner.invoke(cli, ["silence", "cost", "--key", "global", "--for", "2h", "-c", str(path)])
    assert added.exit_code == 0 and "silenced cost key=global" in added.output
    listed = runner.invoke(cli, ["silence", "--list", "-c", str(path)])
    assert "#1 cost key=global" in listed.output and "1 active silence(s)" in listed.output
    assert "removed silence #1" in runner.invoke(cli, ["silence", "--remove", "1", "-c", str(path)]).output
    assert "0 active" in runner.invoke(cli, ["silence", "--list", "-c", str(path)]).output
    bad = runner.invoke(cli, ["silence", "cost", "--for", "soon", "-c", str(path)])
    assert bad.exit_code == 2 and "not a duration" in bad.output


# The demo routes group by agent and day (3-hour interval) and send resolved notices: the Saturday
# runaway's later budgets go in two messages, each within 3 hours of its oldest part (the per-agent page
# with both projections, then the global page; each page replaces its own 80% warning, which waited in the
# group), after the per-user warning and page; the projections' resolved notices go together once the
# day closed.
DEMO_COST_ALERTS = [
    "[WARNING] Cost spike for agent mr-review on 2026-11-17 (budget per-agent)",
    "[RESOLVED] Cost spike for agent mr-review on 2026-11-17 (budget per-agent)",
    "[WARNING] Cost budget global at 80% of its $40.00 cap for all spend on 2026-11-19",
    "[WARNING] Cost budget per-user at 80% of its $5.00 cap for user svc-llm-fix on 2026-11-21",
    "[CRITICAL] Cost budget per-user at 100% of its $5.00 cap for user svc-llm-fix on 2026-11-21",
    "[CRITICAL] 3 alerts, one incident (agent=llm-fix day=2026-11-21): "
    "Cost budget per-agent at 100% of its $20.00 cap for agent llm-fix on 2026-11-21",
    "[CRITICAL] Cost budget global at 100% of its $40.00 cap for all spend on 2026-11-21",
    "[RESOLVED] 2 alerts, one incident (agent=llm-fix day=2026-11-21): "
    "Cost budget global heading past its cap for all spend on 2026-11-21",
]


def test_cost_demo_week_warns_and_pages_once_each_then_the_next_run_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hourly runs over the demo week: the 85% day warns once, the over-budget day warns then pages once
    (per budget), exactly one user's fan-out budget fires; the next scheduled run sends nothing new."""
    from datetime import timedelta

    from monitors.app.demo import DEMO_END, load_demo_source, run_demo
    from monitors.engine.config import load_config
    from monitors.engine.pipeline import RunDeps, run_once
    from monitors.engine.wiring import build_notifiers, demo_path
    from monitors.store.store import Store

    lines: list[str] = []
    assert run_demo(("cost",), fmt="text", echo=lines.append, store_dir=tmp_path) == 0
    alerts = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert alerts == DEMO_COST_ALERTS
    assert "status=ok" in lines[-1] and "runs=168" in lines[-1]

    settings = load_config(demo_path("monitors.yaml"), env={})
    deps = RunDeps(load_demo_source(), Store.open(f"sqlite:///{tmp_path / 'demo.db'}"), build_notifiers(settings))
    for minutes in (30, 90):  # the next runs, before and after Sunday closes: nothing new to say
        later = run_once("cost", settings, deps, now=DEMO_END + timedelta(minutes=minutes))
        assert (later.status, later.queued, later.delivered) == ("ok", 0, 0)


def test_cost_demo_through_the_cli() -> None:
    result = CliRunner().invoke(cli, ["cost", "--demo"])
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if line.startswith("[")] == DEMO_COST_ALERTS


@pytest.mark.parametrize("args", [["--help"], ["cost", "--demo"], ["validate", "--help"]])
def test_heavy_libraries_are_not_imported(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from monitors.app.cli.main import cli\n"
        f"try:\n    cli({args!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_python_dash_m_runs_the_command_under_its_installed_name() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "monitors.app.cli", "status", "--help"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Usage: run-monitor status [OPTIONS]")
    assert '--format [text|json]  json: stdout holds one JSON document, {"runs",' in out.stdout


def test_status_flags_stale_monitors(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from monitors.store.store import Store

    config = _write(tmp_path, {"store": {"url": f"sqlite:///{tmp_path / 's.db'}"}})
    (tmp_path / "schedules.yaml").write_text(
        yaml.safe_dump(
            {
                "jobs": [
                    {"name": "cost", "monitor": "cost", "cron": "*/15 * * * *"},
                    {"name": "audit", "monitor": "audit", "cron": "0 6 * * *"},
                ]
            }
        )
    )
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    now = datetime.now(UTC)
    store.record_run("cost", started=now, finished=now - timedelta(hours=2), status="ok", summary={})
    store.record_run("audit", started=now, finished=now - timedelta(hours=3), status="ok", summary={})
    result = CliRunner().invoke(cli, ["status", "-c", str(config)])
    assert result.exit_code == 1, result.output
    assert "cost: stale (last success 2h ago; scheduled every 15m by job cost)" in result.output
    assert "audit: stale" not in result.output  # daily: 3 hours is fine
    store.record_run("cost", started=now, finished=now, status="ok", summary={})
    assert CliRunner().invoke(cli, ["status", "-c", str(config)]).exit_code == 0


def test_status_on_a_fresh_install_waits_for_the_first_runs_to_be_due(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from monitors.store import schema
    from monitors.store.store import Store

    config = _write(tmp_path, {"store": {"url": f"sqlite:///{tmp_path / 's.db'}"}})
    jobs = [
        {"name": "cost", "monitor": "cost", "cron": "*/15 * * * *"},
        {"name": "weekly-report", "monitor": "report", "cron": "0 8 * * 4"},
    ]
    (tmp_path / "schedules.yaml").write_text(yaml.safe_dump({"jobs": jobs}))
    fresh = CliRunner().invoke(cli, ["status", "-c", str(config)])
    assert fresh.exit_code == 0, fresh.output  # just deployed: nothing was due yet
    assert "report: no run yet; next scheduled " in fresh.output and "(job weekly-report)" in fresh.output
    assert "stale monitors: 0" in fresh.output
    as_json = json.loads(CliRunner().invoke(cli, ["status", "-c", str(config), "--format", "json"]).stdout)
    assert [(w["monitor"], w["job"]) for w in as_json["not_run_yet"]] == [("cost", "cost"), ("report", "weekly-report")]
    assert as_json["stale"] == []
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    with store.engine.begin() as conn:  # the same store, set up 20 days ago, and still no run
        conn.execute(sa.update(schema.migrations).values(applied_at=datetime.now(UTC) - timedelta(days=20)))
    old = CliRunner().invoke(cli, ["status", "-c", str(config)])
    assert old.exit_code == 1, old.output
    assert "report: stale (never succeeded; scheduled every 7d by job weekly-report)" in old.output
    assert "cost: stale (never succeeded" in old.output


def test_status_shows_scores_waiting_to_be_written_back(tmp_path: Path) -> None:
    import json
    from datetime import UTC, datetime

    from monitors.store.store import Store

    config = _write(tmp_path, {"store": {"url": f"sqlite:///{tmp_path / 's.db'}"}})
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    store.queue_scores("drift", {"drift:t1": {"id": "drift:t1"}, "drift:t2": {"id": "drift:t2"}}, now=datetime.now(UTC))
    text = CliRunner().invoke(cli, ["status", "-c", str(config)])
    assert "drift: 2 score(s) waiting to be written back to Langfuse (its next run sends them)" in text.output
    document = json.loads(CliRunner().invoke(cli, ["status", "-c", str(config), "--format", "json"]).output)
    assert document["scores_pending"] == {"drift": 2}


def test_status_says_what_the_outbox_holds_in_words(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from monitors.store.rows import RunCommit
    from monitors.store.store import Store

    config = _write(tmp_path, {"store": {"url": f"sqlite:///{tmp_path / 's.db'}"}})
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    empty = CliRunner().invoke(cli, ["status", "-c", str(config)])
    assert "outbox: 0 waiting to be sent; stale monitors" in empty.output, empty.output
    now = datetime.now(UTC)
    messages = [(f"cost:k{i}", "ops", {"title": f"m{i}"}) for i in range(4)]
    store.commit_run(RunCommit("cost", now, None, [], messages, [], {}))
    rows = sorted(row.id for row in store.pending_outbox(now))
    store.mark_outbox(rows[0], now=now, status="sent")
    store.mark_outbox(rows[1], now=now, status="failed", error="channel no longer configured")
    text = CliRunner().invoke(cli, ["status", "-c", str(config)]).output
    assert "outbox: 2 waiting to be sent (in the last 30d: 1 sent, 1 given up); stale monitors" in text
    assert "{" not in text  # no Python dict reaches the reader
    document = json.loads(CliRunner().invoke(cli, ["status", "-c", str(config), "--format", "json"]).output)
    assert document["outbox"] == {"pending": 2, "sent": 1, "failed": 1}


@pytest.mark.slow
def test_silencing_a_pull_request_by_its_name_mutes_its_drift_alert(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parents[2] / "monitors" / "demo"
    config = _write(
        tmp_path,
        {
            "langfuse": {"host": "https://lf.example", "public_key": "pk-lf-x", "secret_key": "sk-lf-x"},
            "gitlab": {"url": "https://gitlab.example.com", "offline_file": str(demo / "gitlab.json")},
            "github": {"offline_file": str(demo / "github.json")},
            "store": {"url": f"sqlite:///{tmp_path / 's.db'}"},
            "channels": {"terminal": {"kind": "stdout"}},
            "default_route": {"channels": ["terminal"], "min_severity": "warning"},
        },
    )
    mute = ["silence", "drift", "-c", str(config), "--key", "acme-labs/agent-sdk#58", "--for", "2h"]
    muted = CliRunner().invoke(cli, mute)
    assert muted.exit_code == 0, muted.output
    run = CliRunner().invoke(cli, ["drift", "-c", str(config), "--source", str(demo / "observations.jsonl.gz")])
    assert run.exit_code == 0, run.output
    assert "Goal drift: pipeline-medic on acme-labs/agent-sdk#59" in run.output  # the other pull request is sent
    assert "acme-labs/agent-sdk#58" not in run.output
