"""`run-monitor report` through click's runner: posts to local webhook receivers, writes files, exit codes."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from monitors.app.cli.main import cli
from monitors.contracts.findings import Severity
from monitors.contracts.records import observation_to_row
from monitors.store.store import Store
from tests.fakes.webhook_server import Reply, WebhookServer
from tests.report import builders as b


@pytest.fixture
def hooks() -> Iterator[tuple[WebhookServer, WebhookServer]]:
    with WebhookServer() as mattermost, WebhookServer() as slack:
        yield mattermost, slack


@pytest.fixture
def setup(tmp_path: Path, hooks: tuple[WebhookServer, WebhookServer]) -> dict[str, Path]:
    mattermost, slack = hooks
    db = tmp_path / "state.db"
    store = Store.open(f"sqlite:///{db}")
    b.store_events(store, "cost", b.event(b.budget_finding("2026-11-21", 100, 52.54)))
    b.store_events(
        store, "audit", b.event(b.audit_finding("llm-fix-1121-4883", "runaway", Severity.CRITICAL, 22.47, 203))
    )
    b.record_run(store, "cost")
    store.close()
    rows = [b.obs(d, b.WEEK_START + timedelta(days=d, hours=3), 20.0 + (30 if d == 5 else 0)) for d in range(7)]
    source = tmp_path / "rows.jsonl.gz"
    with gzip.open(source, "wt") as fh:
        fh.writelines(json.dumps(observation_to_row(o), default=str) + "\n" for o in rows)
    config = {
        "langfuse": {"host": b.HOST, "public_key": "pk-lf-x", "secret_key": "sk-lf-x"},
        "store": {"url": f"sqlite:///{db}"},
        "channels": {
            "ops-mm": {"kind": "mattermost", "webhook_url": mattermost.url("/hooks/mm-secret-id")},
            "ops-slack": {"kind": "slack", "webhook_url": slack.url("/services/T0/B0/slack-secret")},
        },
        "monitors": {"cost": {"budgets": [{"name": "global", "daily_cap": 40}]}},
        "report": {"output_dir": str(tmp_path / "reports")},
    }
    (tmp_path / "monitors.yaml").write_text(yaml.safe_dump(config))
    return {"config": tmp_path / "monitors.yaml", "source": source, "db": db, "reports": tmp_path / "reports"}


def _invoke(setup: dict[str, Path], *extra: str):
    args = ["report", "-c", str(setup["config"]), "--source", str(setup["source"]), "--week", "2026-W47", *extra]
    return CliRunner().invoke(cli, args)


def test_posts_the_digest_to_every_channel_and_writes_both_files(setup, hooks) -> None:
    mattermost, slack = hooks
    result = _invoke(setup)
    assert result.exit_code == 0, result.output
    assert "monitor=report status=ok week=2026-W47 spend=$170.00" in result.output
    assert "channels=2 delivered=2 failed=0" in result.output
    assert sorted(p.name for p in setup["reports"].iterdir()) == ["report-2026-W47.html", "report-2026-W47.md"]
    [mm], [sl] = mattermost.bodies(), slack.bodies()
    assert mm["text"].startswith("#### :large_orange_diamond: **WARNING** Weekly report 2026\\-W47")
    assert mm["attachments"][0]["footer"].endswith("/reports/report-2026-W47.html")
    attachment = mm["attachments"][0]["text"]
    assert "##### Days over budget" in attachment and "▄▄▄▄▄█▄ peak Sat 21 Nov \\$50\\.00" in attachment
    headers = [blk["text"]["text"] for blk in sl["blocks"] if blk["type"] == "header"]
    assert headers == ["🟠 WARNING: Weekly report 2026-W47 (16-22 Nov 2026)"]
    sections = [blk["text"]["text"] for blk in sl["blocks"] if blk["type"] == "section"]
    assert any(s.startswith("*Action audit: 1 finding(s)*") for s in sections)
    store = Store.open(f"sqlite:///{setup['db']}")
    assert store.last_runs()["report"]["last_ok"] is not None


def test_dry_run_prints_the_digest_and_touches_nothing(setup, hooks) -> None:
    result = _invoke(setup, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "[WARNING] Weekly report 2026-W47 (16-22 Nov 2026)" in result.output
    assert "== Days over budget ==" in result.output and "dry_run=true" in result.output
    assert not setup["reports"].exists()
    assert hooks[0].requests == [] and hooks[1].requests == []
    assert "report" not in Store.open(f"sqlite:///{setup['db']}").last_runs()


def test_a_failing_channel_exits_1_and_the_other_still_gets_it(setup, hooks) -> None:
    mattermost, slack = hooks
    mattermost.script(Reply(404, json.dumps({"id": "web.incoming_webhook.invalid.app_error"})))
    result = _invoke(setup, "--format", "json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)  # stdout is the JSON alone; why it failed is one line on stderr
    assert (summary["delivered"], summary["failed"], summary["status"]) == (1, 1, "delivery_failed")
    assert result.stderr.count("\n") == 1 and "ops-mm" in result.stderr
    assert "the webhook id is invalid" in summary["errors"]["ops-mm"]
    assert "mm-secret-id" not in result.output and len(slack.requests) == 1


def test_bad_week_exits_2(setup) -> None:
    result = CliRunner().invoke(cli, ["report", "-c", str(setup["config"]), "--week", "2026-W60"])
    assert result.exit_code == 2 and "--week: 2026 has no ISO week 60" in result.output


def test_unknown_report_channel_exits_2(setup) -> None:
    config = yaml.safe_load(setup["config"].read_text())
    config["report"]["channels"] = ["nope"]
    setup["config"].write_text(yaml.safe_dump(config))
    result = _invoke(setup)
    assert result.exit_code == 2 and "report.channels: unknown channel(s) 'nope'" in result.output


def test_json_mode_keeps_a_terminal_channel_off_stdout(setup: dict[str, Path]) -> None:
    config = yaml.safe_load(setup["config"].read_text())
    config["channels"]["term"] = {"kind": "stdout"}
    setup["config"].write_text(yaml.safe_dump(config))
    result = _invoke(setup, "--format", "json")
    assert result.exit_code == 0, result.output
    [summary] = [json.loads(line) for line in result.stdout.splitlines()]  # only JSON on stdout
    assert summary["week"] == "2026-W47" and summary["channels"] == ["ops-mm", "ops-slack", "term"]
    assert "[WARNING] Weekly report 2026-W47" in result.stderr  # the terminal channel still shows it


@pytest.mark.parametrize("flag", [["-c", "monitors.yaml"], ["--source", "rows.jsonl.gz"], ["-s", "schedules.yaml"]])
def test_demo_report_rejects_flags_it_would_ignore(flag: list[str]) -> None:
    result = CliRunner().invoke(cli, ["report", "--demo", *flag])
    assert result.exit_code == 2 and "--demo reports on the bundled sample week with its own config" in result.output


def test_json_dry_run_prints_only_the_summary_on_stdout(setup: dict[str, Path]) -> None:
    result = _invoke(setup, "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # one document: the digest does not share stdout with it
    assert summary["week"] == "2026-W47" and summary["dry_run"] is True
    assert "[WARNING] Weekly report 2026-W47" in result.stderr


def _documented_json_keys() -> set[str]:
    """The keys `report --help` lists for --format json."""
    text = " ".join(CliRunner().invoke(cli, ["report", "--help"]).output.split())
    listed = re.sub(r"\([^)]*\)", "", text.split("--format json keys:", 1)[1].split(" Options:", 1)[0])
    return {key.strip(" .") for part in listed.split(";") for key in part.split(",") if key.strip(" .")}


def test_help_lists_every_key_of_the_json_summary(setup: dict[str, Path]) -> None:
    result = _invoke(setup, "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    assert _documented_json_keys() == set(json.loads(result.stdout))


@pytest.mark.slow
def test_demo_report_covers_every_monitor_and_a_dry_run_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where the demo's report.output_dir (./reports) would be
    result = CliRunner().invoke(cli, ["report", "--demo", "--dry-run", "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["dry_run"], summary["markdown"], summary["html"], summary["channels"]) == (True, None, None, [])
    assert list(tmp_path.iterdir()) == []  # no report written, no store left behind
    assert "== Errors and evaluations: 2 alert(s) ==" in result.stderr
    assert "did not run" not in result.stderr and "events: ok, 168 run(s) this week" in result.stderr


@pytest.mark.slow
def test_the_demo_writes_its_full_report_and_says_it_was_not_a_dry_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", "--demo", "--format", "json", "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # It wrote the two files and printed the digest on the terminal channel: not a dry run, and says so.
    assert (summary["dry_run"], summary["channels"], summary["delivered"]) == (False, ["terminal"], 1)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report-2026-W47.html", "report-2026-W47.md"]
    assert summary["markdown"] == str(tmp_path / "out" / "report-2026-W47.md")
    assert "[WARNING] Weekly report 2026-W47" in result.stderr


def test_a_second_run_for_the_week_posts_nothing_unless_asked_to_resend(setup, hooks) -> None:
    assert _invoke(setup).exit_code == 0
    again = _invoke(setup)
    assert again.exit_code == 0 and "delivered=0 failed=0" in again.output
    assert "already_sent=ops-mm,ops-slack" in again.output
    assert [len(h.requests) for h in hooks] == [1, 1]
    resent = _invoke(setup, "--resend")
    assert resent.exit_code == 0 and "delivered=2" in resent.output
    assert [len(h.requests) for h in hooks] == [2, 2]


def test_a_report_run_publishes_its_own_health_for_the_stale_alert(setup, tmp_path: Path) -> None:
    config = yaml.safe_load(setup["config"].read_text())
    config["metrics"] = {"textfile_path": str(tmp_path / "monitors.prom")}
    setup["config"].write_text(yaml.safe_dump(config))
    assert _invoke(setup, "--dry-run").exit_code == 0
    assert not (tmp_path / "monitors.prom").exists()  # a dry run records nothing, publishes nothing
    assert _invoke(setup).exit_code == 0
    text = (tmp_path / "monitors.prom").read_text()
    assert 'langfuse_monitors_last_success_timestamp_seconds{monitor="report"}' in text
