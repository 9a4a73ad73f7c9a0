"""The digest of the bundled demo week, built from real pipeline runs, as Mattermost and Slack receive it.

Slow: goal-drift loads the offline embedding model. Golden-ish: asserts the key content (totals,
sparkline, the over-budget day, the worst three drift alerts, audit kinds), not every byte.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitors.app.demo import DEMO_END, load_demo_source, run_demo
from monitors.engine.config import settings_from_dict
from monitors.report.digest import build_digest_message
from monitors.report.period import parse_week
from monitors.report.run import run_report
from monitors.store.store import Store
from tests.fakes.webhook_server import WebhookServer

pytestmark = pytest.mark.slow


SUMMARIES: list[str] = []  # the demo runs' summary lines, one per monitor


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("demo")
    with contextlib.redirect_stdout(io.StringIO()):
        assert run_demo(("cost", "drift", "audit"), fmt="text", echo=SUMMARIES.append, store_dir=folder) == 0
    store = Store.open(f"sqlite:///{folder / 'demo.db'}")
    yield store
    store.close()


@pytest.fixture(scope="module")
def posted(demo_store: Store, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from monitors.engine.config import load_config
    from monitors.engine.wiring import build_notifiers, demo_path

    demo = load_config(demo_path("monitors.yaml"), env={})
    with WebhookServer() as mattermost, WebhookServer() as slack:
        raw = demo.model_dump(mode="json", exclude={"channels", "default_route", "store", "langfuse", "gitlab"})
        raw["langfuse"] = {"host": demo.langfuse.host, "public_key": "pk", "secret_key": "sk"}
        raw["channels"] = {
            "mm": {"kind": "mattermost", "webhook_url": mattermost.url("/hooks/demo")},
            "slack": {"kind": "slack", "webhook_url": slack.url("/services/T/B/demo")},
        }
        settings = settings_from_dict(raw, env={})
        week = parse_week("2026-W47", ZoneInfo("UTC"))
        out = tmp_path_factory.mktemp("reports")
        result, report, _ = run_report(
            settings, demo_store, load_demo_source(), build_notifiers(settings), week,
            now=DEMO_END + timedelta(days=3, hours=8), output_dir=out,
        )  # fmt: skip
        assert result.exit_code == 0, result.errors
        return {"mm": mattermost.bodies()[0], "slack": slack.bodies()[0], "report": report, "html": Path(result.html)}


def _unescape(text: str) -> str:
    """Undo Mattermost's Markdown escapes (backslash before punctuation) to read the plain text."""
    return re.sub(r"\\(.)", r"\1", text)


def test_mattermost_receives_the_demo_digest(posted: dict) -> None:
    mm = posted["mm"]
    text = _unescape(mm["text"])
    assert text.startswith("#### :large_orange_diamond: **WARNING** Weekly report 2026-W47 (16-22 Nov 2026)")
    assert "Spend $195.71 (+34% vs the week before); 1 day(s) over budget; 5 goal-drift alert(s)" in text
    body = _unescape(mm["attachments"][0]["text"])
    assert "Total $195.71: +34% vs $146.15" in body
    assert "Mon-Sun ▄▄▄▅▄█▄ peak Sat 21 Nov $52.54, cap $40.00/day" in body
    # The demo's cost runs read Saturday to its end: each figure is the whole day's, and says so.
    assert "Sat 21 Nov: budget global, all spend: $52.54 of $40.00 (131%), whole day\n" in body
    assert "Sat 21 Nov: budget per-user, svc-llm-fix: $33.26 of $5.00 (665%), whole day\n" in body
    assert "truncated" not in body


def test_slack_blocks_carry_drift_worst_three_and_audit_kinds(posted: dict) -> None:
    blocks = posted["slack"]["blocks"]
    assert blocks[0]["text"]["text"] == "🟠 WARNING: Weekly report 2026-W47 (16-22 Nov 2026)"
    sections = {
        b["text"]["text"].split("*\n")[0].strip("*"): b["text"]["text"] for b in blocks if b["type"] == "section"
    }
    drift = next(text for head, text in sections.items() if head.startswith("Goal drift"))
    assert [line[:4] for line in drift.splitlines()[1:]] == ["[1] ", "[2] ", "[3] "]
    # Worst first by the most serious signal, then the score: PR 58 removed tests (its score, 3.21, is high:
    # its commit reads like the objective), then the two off-goal MRs (-2.34, -2.09). MR 345 (-0.85) and
    # PR 59 (outside its scope, score above the threshold) are in the full report.
    lines = drift.splitlines()[1:]
    assert "acme-labs/agent-sdk#58" in lines[0] and "platform/web!92" in lines[1] and "platform/api!218" in lines[2]
    audit = next(text for head, text in sections.items() if head.startswith("Action audit"))
    assert "By kind: loop 2 · repeat 2" in audit and "runaway 1" in audit
    assert "llm-fix-1121-4883" in audit.splitlines()[3]  # the $22 runaway is the first session to open
    links = next(b["text"]["text"] for b in blocks if b["type"] == "section" and "<https://" in b["text"]["text"])
    assert "agent-sdk/pull/58|Drift 1: Pull request>" in links  # the worst: tests removed
    assert posted["report"].audit_by_kind["runaway"] == 1 and len(posted["report"].drift) == 5


def test_full_report_of_the_demo_week_is_written(posted: dict) -> None:
    page = posted["html"].read_text()
    assert page.count("data:image/png;base64,") == 3
    assert "llm-fix-1121-4883" in page and "platform/api!218" in page


def test_demo_digest_bookkeeping_matches_the_week(posted: dict) -> None:
    body = _unescape(posted["mm"]["attachments"][0]["text"])
    # The runs just made are this week's runs, and only this week's data is vouched for.
    assert "cost: ok, 168 run(s) this week, whole week checked" in body
    assert "audit: ok, 8 run(s) this week, whole week checked" in body  # daily at 07:15, and once at the end
    assert " Dec " not in body  # no wall-clock date from after the week
    # Traces naming no change request are not drift's to check: apart from the checks that failed.
    assert "1,968 traces of 4 agents: traces state an objective but name no merge request" in body
    assert "Goal drift, 1,968" not in body and "1,971" not in body
    summary = build_digest_message(posted["report"]).summary
    assert "3 trace(s) goal drift could not check" in summary and "1,971" not in summary
    assert "1,968 trace(s) not linked to a change request (nothing for goal drift to check)" in summary
    assert "GitLab: the merge request has no commits (e.g. platform/api!219)" in body


def test_the_demo_writes_no_score_and_its_summary_says_so(demo_store: Store) -> None:
    # The demo replays a file: there is no Langfuse to write goal drift's scores to ("scores_written=27").
    [drift] = [line for line in SUMMARIES if line.startswith("monitor=drift ")]
    counters = dict(part.split("=", 1) for part in drift.split() if "=" in part)
    assert counters["scores_written"] == "0" and int(counters["scores_not_written"]) > 0
