"""Run one command as a child process and measure it: wall time, CPU, peak memory and API requests.

Peak memory is the child's maximum RSS as GNU time (`/usr/bin/time -f %M`) reports it. Not our own
`wait4`: Python starts children with vfork, so a child's ru_maxrss starts at the *runner's* RSS (which
holds the fake's million rows), and RUSAGE_CHILDREN keeps the maximum over every child so far. GNU
time is a small process, so the grandchild it reports on starts small.

Requests come from the fake servers' logs, counted in Langfuse's rate-limit buckets: Metrics (v2
`/api/public/v2/metrics`, legacy `/api/public/metrics`), score writes, and the general API (the
rest). The busiest minute is the most requests that arrived within any 60 s span of the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.server import IndexedFakeLangfuse

METRICS_PATHS = ("/api/public/v2/metrics", "/api/public/metrics")
SCORES_PATH = "/api/public/scores"
GNU_TIME = "/usr/bin/time"


@dataclass
class Measured:
    """What one child process cost. `projected_wall` is set when the run used a lower latency."""

    label: str
    wall: float
    cpu: float
    peak_mb: float
    exit_code: int
    general: int = 0
    metrics: int = 0
    scores: int = 0
    gitlab: int = 0
    busiest_minute: int = 0
    server_seconds: float = 0.0
    latency: float = 0.0
    projected_wall: float | None = None
    stdout: str = ""
    stderr_tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return self.general + self.metrics + self.scores

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["requests"] = self.requests
        out.pop("stdout")
        return out


def _gnu_time(text: str) -> tuple[float, float, float]:
    # The last line is ours; GNU time puts "Command exited with non-zero status N" before it.
    fields = text.strip().splitlines()[-1].split()
    return float(fields[0]), float(fields[1]), float(fields[2])


def busiest_minute(times: list[float]) -> int:
    """The most entries of a sorted list of times that fall within any 60 s span."""
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= 60:
            start += 1
        best = max(best, end - start + 1)
    return best


def run_measured(
    label: str,
    cmd: list[str],
    fake: IndexedFakeLangfuse | None = None,
    gitlab: Any = None,
    env: dict[str, str] | None = None,
) -> Measured:
    """Run `cmd` to completion and measure it; requests are those the fakes saw meanwhile."""
    seen = len(fake.requests) if fake else 0
    arrived = len(fake.arrivals) if fake else 0
    served = fake.compute_seconds if fake else 0.0
    gitlab_seen = len(gitlab.requests) if gitlab is not None else 0
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile() as gnu:
        started = time.monotonic()
        timed = [GNU_TIME, "-f", "%M %U %S", "-o", gnu.name, *cmd]
        proc = subprocess.Popen(timed, stdout=out, stderr=err, env={**os.environ, **(env or {})})
        proc.wait()
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        peak_kib, user, system = _gnu_time(Path(gnu.name).read_text())
    result = Measured(label, wall, user + system, peak_kib / 1024, proc.returncode)
    result.stdout, result.stderr_tail = stdout, stderr[-600:]
    if fake is not None:
        paths = [r.path for r in fake.requests[seen:]]
        result.metrics = sum(p in METRICS_PATHS for p in paths)
        result.scores = sum(p == SCORES_PATH for p in paths)
        result.general = len(paths) - result.metrics - result.scores
        result.busiest_minute = busiest_minute(fake.arrivals[arrived:])
        result.server_seconds = fake.compute_seconds - served
        result.latency = fake.latency
    if gitlab is not None:
        result.gitlab = len(gitlab.requests) - gitlab_seen
    if proc.returncode not in (0, 1):
        print(f"  ! {label}: exit {proc.returncode}: {stderr[-400:]}", file=sys.stderr)
    return result
