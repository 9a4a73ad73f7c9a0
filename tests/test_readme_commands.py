"""Every command the README shows, run as written, with its exit code and a check of what it prints.

The commands are read from README.md itself (every `run-monitor ...` line of a shell block and every
inline `run-monitor ...`), so a command added to the README without a check here fails the first test.
They run in a folder holding copies of the repository's monitors.yaml and schedules.yaml, with the
environment variables those files name pointing at local fakes: Langfuse, GitLab and two webhooks.
`make demo` and `make test` need a fresh clone and a network to install from: `.ci/fresh-clone` runs
them (see `MAKE_TARGETS`).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitors.app.cli.main import cli
from tests.fakes.gitlab_server import FakeGitLab, running
from tests.fakes.langfuse_server import FakeLangfuse
from tests.fakes.webhook_server import WebhookServer
from tests.reliability.subprocess_run import loops

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

Check = Callable[[str], bool]

# README command -> (exit code, what its output must show). In README order; the runs build on each other
# (export writes the file audit replays, `all` leaves the runs `status` reads).
CHECKS: dict[str, tuple[int, Check]] = {
    "run-monitor validate -c monitors.yaml -s schedules.yaml": (
        0,
        lambda out: "ok: monitors.yaml, schedules.yaml valid" in out,
    ),
    "run-monitor cost -c monitors.yaml --dry-run": (
        0,
        lambda out: "monitor=cost status=ok" in out and "dry_run=true" in out,
    ),
    "run-monitor all -c monitors.yaml": (
        0,
        lambda out: all(f"monitor={m} status=ok" in out for m in ("cost", "drift", "audit")) and "findings=2" in out,
    ),
    "run-monitor export --since 7d -o week.jsonl.gz": (
        0,
        lambda out: re.search(r"exported to week\.jsonl\.gz: ([1-9]\d*) observations", out) is not None,
    ),
    "run-monitor audit --source week.jsonl.gz --dry-run": (
        0,
        lambda out: "monitor=audit status=ok" in out and "findings=2" in out and "records=0" not in out,
    ),
    "run-monitor drift calibrate my-pairs.jsonl --changes my-changes.jsonl": (
        0,
        lambda out: "ROC AUC 0." in out and "drift recall" in out and "warning" not in out,
    ),
    "run-monitor silence cost --key global --for 2h": (0, lambda out: "silenced cost key=global until" in out),
    "run-monitor test-alert --channel ops": (0, lambda out: "channel=ops kind=mattermost ok=True status=200" in out),
    # The weekly report is scheduled but has not run yet on this fresh install: not due, so not stale.
    "run-monitor status": (
        0,
        lambda out: (
            "cost: last=ok at 20" in out
            and "report: no run yet; next scheduled 20" in out
            and "(job weekly-report)" in out
            and "stale monitors: 0" in out
        ),
    ),
    "run-monitor scheduler": (0, lambda out: "scheduler" in out.lower()),
    "run-monitor drift": (0, lambda out: "monitor=drift status=ok" in out),
    "run-monitor report --week 2026-W47": (0, lambda out: "monitor=report status=ok week=2026-W47" in out),
    "run-monitor k8s render -s schedules.yaml -c monitors.yaml --image registry.example/langfuse-monitors:0.1": (
        0,
        lambda out: "deploy/k8s" in out,
    ),
    "run-monitor cost": (0, lambda out: "monitor=cost status=ok" in out),
    "run-monitor events -c monitors.yaml --since 6h": (0, lambda out: "monitor=events status=ok" in out),
    "run-monitor audit evaluate week.jsonl.gz --labels mine.jsonl": (0, lambda out: "precision" in out.lower()),
    "run-monitor drift calibrate pairs.jsonl scope_pairs.jsonl --changes changes.jsonl --split test "
    "--false-alarm 0.05 --format json": (0, lambda out: "auc" in json.loads(out) and "recall" in json.loads(out)),
    "run-monitor drift calibrate data/drift_pairs/pairs.jsonl data/drift_pairs/scope_pairs.jsonl "
    "--changes data/drift_pairs/changes.jsonl --split dev": (
        0,
        lambda out: (  # the figures the README quotes for this command
            "  drift: 154 pairs, ROC AUC 0.978, recall 93.5% at the threshold" in out
            and "  scope_creep: 154 pairs, ROC AUC 0.753, recall 26.0% at the threshold" in out
            and "at threshold -0.550: false alarms 4.5% of genuine pairs" in out
            and "warning" not in out
        ),
    ),
    # The dev half only: the test half is for the final report (docs/audit-evaluation.md).
    "run-monitor audit evaluate data/agent_trajectories/trajectories.jsonl --labels data/audit_labels/dev.jsonl": (
        0,
        lambda out: "labelled sessions found: 131" in out and "precision" in out and "recall" in out,
    ),
    "run-monitor help silence": (0, lambda out: "Usage: run-monitor silence" in out and "--remove INTEGER" in out),
}
# Shown in the README, run elsewhere: they install from a package index, or need a cluster.
ELSEWHERE = {
    "make demo": ".ci/run (CI, output checked) and .ci/fresh-clone (a fresh clone in an empty folder)",
    "make test": ".ci/run (CI) and .ci/fresh-clone",
    "make lint": ".ci/fresh-clone",
    "make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu": "needs PyTorch's wheel index on the network",
    "kubectl apply -k deploy/k8s/cronjobs": "needs a cluster; tests/test_k8s.py validates the manifests",
    "kubectl apply -k deploy/k8s/scheduler": "needs a cluster; tests/test_k8s.py validates the manifests",
}
LONG_RUNNING = {"run-monitor scheduler"}


def readme_commands() -> list[str]:
    """Commands in README order: shell-block lines (comments dropped) and inline code spans."""
    text = README.read_text()
    found: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command:
                found.append(command)
    for span in re.findall(r"`((?:run-monitor|make) [^`]+)`", text):
        # `run-monitor report [--week 2026-W47]`: the optional part, as a reader would type it.
        found.append(re.sub(r"\s+", " ", span.replace("[", "").replace("]", "")).strip())
    return list(dict.fromkeys(c for c in found if not c.startswith("#")))


def test_every_readme_command_has_a_check() -> None:
    commands = readme_commands()
    assert commands, "no commands found in README.md"
    unchecked = [c for c in commands if c not in CHECKS and c not in ELSEWHERE]
    assert unchecked == [], f"README commands with no check in {Path(__file__).name}: {unchecked}"
    assert "run-monitor audit --source week.jsonl.gz --dry-run" in commands


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    now = datetime.now(UTC)
    gitlab = FakeGitLab(token="glpat-readme")
    with (
        FakeLangfuse(loops(now), public_key="pk-lf-readme", secret_key="sk-lf-readme") as lf,
        WebhookServer() as hook,
        running(gitlab),
    ):
        for name in ("monitors.yaml", "schedules.yaml"):
            shutil.copy(ROOT / name, tmp_path / name)
        pairs = (ROOT / "data" / "drift_pairs" / "pairs.jsonl").read_text().splitlines()
        # A small labelled history: the calibration figures are not the point here, the command is.
        sample = [p for p in pairs if json.loads(p).get("split") == "test"][:40]
        (tmp_path / "my-pairs.jsonl").write_text("\n".join(sample) + "\n")
        (tmp_path / "pairs.jsonl").write_text("\n".join(sample) + "\n")
        scope = (ROOT / "data" / "drift_pairs" / "scope_pairs.jsonl").read_text().splitlines()
        (tmp_path / "scope_pairs.jsonl").write_text("\n".join(s for s in scope if '"test"' in s) + "\n")
        shutil.copy(ROOT / "data" / "drift_pairs" / "changes.jsonl", tmp_path / "changes.jsonl")
        shutil.copy(ROOT / "data" / "drift_pairs" / "changes.jsonl", tmp_path / "my-changes.jsonl")
        (tmp_path / "data").symlink_to(ROOT / "data")  # the labelled sets the README measures on
        # The user's own judgement of the exported week's two sessions (both are tool-call loops).
        labels = [
            {"session_id": s, "verdict": "problem", "problems": [{"kind": "loop", "steps": []}]} for s in ("s1", "s2")
        ]
        (tmp_path / "mine.jsonl").write_text("".join(json.dumps(label) + "\n" for label in labels))
        env = {
            "LANGFUSE_HOST": lf.url,
            "LANGFUSE_PUBLIC_KEY": "pk-lf-readme",
            "LANGFUSE_SECRET_KEY": "sk-lf-readme",
            "GITLAB_URL": gitlab.url,
            "GITLAB_TOKEN": "glpat-readme",
            "MONITORS_STORE_URL": f"sqlite:///{tmp_path / 'state' / 'monitors.db'}",
            "MATTERMOST_WEBHOOK_URL": hook.url("/hooks/readme-mm"),
            "SLACK_WEBHOOK_URL": hook.url("/services/T0/B0/readme-slack"),
        }
        (tmp_path / "state").mkdir()
        monkeypatch.chdir(tmp_path)
        yield env


def _run_in_process(command: str, env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, shlex.split(command)[1:], env=env, catch_exceptions=False, prog_name="run-monitor")
    return result.exit_code, result.output


def _run_until_sigterm(command: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """A long-running command, as a process: started, given time to come up, then stopped with SIGTERM."""
    import os

    argv = [sys.executable, "-m", "monitors.app.cli.main", *shlex.split(command)[1:]]
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    return proc.returncode, out


@pytest.mark.slow
def test_every_readme_command_runs_as_written(world: dict[str, str]) -> None:
    results: dict[str, Any] = {}
    for command in readme_commands():
        if command in ELSEWHERE:
            continue
        check = CHECKS[command][1]
        if command in LONG_RUNNING:
            code, out = _run_until_sigterm(command, world, Path.cwd())
        else:
            code, out = _run_in_process(command, world)
        assert "Traceback" not in out, (command, out)
        results[command] = (code, check(out), out[-600:])
    failed = {c: r for c, r in results.items() if r[0] != CHECKS[c][0] or not r[1]}
    assert failed == {}, json.dumps(failed, indent=1)


def test_the_entry_point_is_installed_as_the_readme_names_it() -> None:
    script = Path(sys.executable).parent / "run-monitor"
    assert script.exists(), f"run-monitor is not installed beside {sys.executable}: make install"
    out = subprocess.run([str(script), "help"], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0 and "Usage: run-monitor" in out.stdout


# Built from pieces so this file does not match itself.
OUTSIDE_PATHS = re.compile("/" + "work/|\\.\\./" + "shared")


def _repository_files() -> list[Path]:
    """The files a clone holds: git's list when this is a checkout, else every file but caches."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode == 0 and listed.stdout:
        return [ROOT / name for name in listed.stdout.decode().split("\0") if name]
    caches = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}
    return [p for p in ROOT.rglob("*") if p.is_file() and not caches & set(p.relative_to(ROOT).parts)]


def test_the_repository_reads_nothing_outside_itself() -> None:
    """A fresh clone in an empty folder has everything its tests and scripts read: no absolute path to
    the machine it was written on, no sibling folder."""
    offenders = []
    for path in _repository_files():
        if path.suffix in (".png", ".gz") or not path.is_file():
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            continue
        offenders += [f"{path.relative_to(ROOT)}:{n}" for n, line in enumerate(lines, 1) if OUTSIDE_PATHS.search(line)]
    assert offenders == []
