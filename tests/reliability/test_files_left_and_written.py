"""Files a run leaves or writes: the audit's spool after a SIGKILL, and the export and report files
(private, never written through a symlink planted under the temporary name)."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitors.engine.export import export_observations
from monitors.sources.replay import ReplaySource
from monitors.support.files import write_private_text
from tests.reliability.harness import NOW, window
from tests.reliability.subprocess_run import loops

ROOT = Path(__file__).resolve().parents[2]

SPOOL_AND_DIE = """
import os, signal, sys
from monitors.audit.spool import SessionSpool
spool = SessionSpool(directory=sys.argv[1])
print("open", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.slow  # a subprocess
def test_a_killed_audit_leaves_no_spool_file(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SPOOL_AND_DIE, str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == -signal.SIGKILL and done.stdout.strip() == "open", done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["export.jsonl", "export.jsonl.gz"])
def test_an_export_is_private_and_never_written_through_a_planted_symlink(name: str, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    # The names the old code wrote to first: a local user could plant them to redirect the write.
    for planted in (tmp_path / f".{name}.partial", tmp_path / f"{name}.tmp"):
        planted.symlink_to(victim)
    target = tmp_path / name
    count = export_observations(ReplaySource.from_observations(loops(NOW)), window(48), target)
    assert count == len(loops(NOW)) and victim.read_text() == "precious"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sum(1 for _ in ReplaySource(target).observations(_query())) == count  # readable, complete


def test_an_export_over_a_symlink_replaces_the_link_not_its_target(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "export.jsonl"
    target.symlink_to(victim)
    export_observations(ReplaySource.from_observations(loops(NOW)), window(48), target)
    assert victim.read_text() == "precious" and not target.is_symlink()


def test_report_files_are_private_and_never_written_through_a_planted_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "report-2026-W10.md"
    (tmp_path / "report-2026-W10.md.tmp").symlink_to(victim)  # the old temporary name
    write_private_text(target, "# report\n")
    assert victim.read_text() == "precious" and target.read_text() == "# report\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report-2026-W10.md", "report-2026-W10.md.tmp", "victim.txt"]


def _query():
    from monitors.contracts.findings import RunWindow
    from monitors.contracts.source import ObservationQuery

    return ObservationQuery(window=RunWindow(datetime(2000, 1, 1, tzinfo=UTC), NOW + timedelta(days=1)))
