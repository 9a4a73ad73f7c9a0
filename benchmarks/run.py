"""Benchmark runner: each monitor as a whole process against the fake Langfuse, next to the naive baseline.

    .venv/bin/python -m benchmarks.run --scales 1k,10k,100k --latency 0.05 --work /tmp/bench \
        --out benchmarks/results.json

Per scale (traces a week): generate the dataset once (cached in --work), serve it with
IndexedFakeLangfuse (and the merge requests with FakeGitLab) on 127.0.0.1 with `--latency` seconds per
request, then run `run-monitor cost|drift|audit -c <tmp monitors.yaml>` in child processes and the
naive baseline (benchmarks/naive.py) on the same data in the same run. Every figure comes from
benchmarks/measure.py: wall, CPU, the child's peak RSS, requests per rate-limit bucket from the
fake's log. The fake's own memory is the runner's (reported apart as `server_peak_mb`).

A naive run whose expected requests x latency exceeds `--naive-budget` seconds runs at zero latency
and reports `projected_wall` = measured wall + requests x latency (marked "projected" in the tables);
one expecting more than `--naive-max-requests` requests is skipped. Then the startup benchmark, the
embedding throughput (benchmarks/embed_bench.py) and the schedule arithmetic. `benchmarks.report`
turns the JSON into the tables of RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.generate import WEEK_END, WEEK_START, generate
from benchmarks.measure import Measured, run_measured
from benchmarks.server import IndexedFakeLangfuse, _span
from tests.fakes import gitlab_server
from tests.fakes.gitlab_server import FakeGitLab, running

SCALES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}
COST_END = WEEK_START + timedelta(days=6, hours=18)  # the first cost run ends Sunday 18:00 UTC
RUN_EVERY = timedelta(minutes=15)
BIN = Path(sys.executable).parent


@dataclass
class Bench:
    args: argparse.Namespace
    fake: IndexedFakeLangfuse
    gitlab: FakeGitLab
    gitlab_fixture: Path
    work: Path
    results: dict[str, Any] = field(default_factory=dict)

    def config(self, name: str, extra: str = "") -> Path:
        """A fresh monitors.yaml (and empty store) for one scenario."""
        store = self.work / f"{name}.db"
        store.unlink(missing_ok=True)
        path = self.work / f"{name}.yaml"
        path.write_text(
            f"langfuse:\n  host: {self.fake.url}\n  public_key: {self.fake.public_key}\n"
            f"  secret_key: {self.fake.secret_key}\n"
            f"gitlab:\n  url: {self.gitlab.url}\n  token: {self.gitlab.token}\n"
            f"store:\n  url: sqlite:///{store}\n"
            "monitors:\n  cost:\n    budgets:\n"
            "      - {name: global, daily_cap: 40}\n"
            "      - {name: per-agent, scope: agent, per_value: true, daily_cap: 20}\n"
            "      - {name: per-user, scope: user, per_value: true, daily_cap: 5}\n" + extra
        )
        return path

    def monitor(self, label: str, name: str, cfg: Path, *opts: str) -> Measured:
        cmd = [str(BIN / "run-monitor"), name, "-c", str(cfg), "--format", "json", *opts]
        result = run_measured(label, cmd, self.fake, self.gitlab)
        _parse_summary(result)
        return result

    def naive(self, label: str, check: str, since: datetime, until: datetime, expected: int) -> Measured | None:
        """The baseline on the same window; zero latency (and a projection) past the budget."""
        latency = self.args.latency
        if expected > self.args.naive_max_requests:
            print(f"  naive {label}: skipped (~{expected} requests)", file=sys.stderr)
            return None
        projected = expected * latency > self.args.naive_budget
        self.fake.latency = 0.0 if projected else latency
        cmd = [sys.executable, "-m", "benchmarks.naive", check, "--host", self.fake.url, "--gitlab", self.gitlab.url]
        cmd += ["--since", since.isoformat(), "--until", until.isoformat()]
        try:
            result = run_measured(label, cmd, self.fake, self.gitlab)
        finally:
            self.fake.latency = latency
        try:
            result.extra = json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            result.extra = {"error": result.stderr_tail}
        if projected:
            result.projected_wall = result.wall + result.requests * latency  # GitLab has no latency here
        return result

    def traces_between(self, since: datetime, until: datetime, *, drift_only: bool = False) -> int:
        lo, hi = _span(self.fake._trace_times, since, until)
        n = len(self.fake._trace_list)
        traces = self.fake._trace_list[n - hi : n - lo]
        if drift_only:
            return sum(1 for t in traces if {"objective", "mr_iid"} & set(t.get("metadata") or {}))
        return len(traces)


def _parse_summary(result: Measured) -> None:
    for line in reversed(result.stdout.strip().splitlines()):
        try:
            result.extra = json.loads(line)
            return
        except ValueError:
            continue
    result.extra = {"error": result.stderr_tail}


def _log(result: Measured | None) -> dict[str, Any] | None:
    if result is None:
        return None
    print(
        f"  {result.label}: wall={result.wall:.1f}s cpu={result.cpu:.1f}s peak={result.peak_mb:.0f}MB "
        f"req={result.general}+{result.metrics}m+{result.scores}s gitlab={result.gitlab} "
        f"server={result.server_seconds:.1f}s"
        + (f" projected={result.projected_wall:.0f}s" if result.projected_wall else ""),
        file=sys.stderr,
        flush=True,
    )
    return result.to_dict()


def bench_cost(b: Bench) -> dict[str, Any]:
    cfg = b.config("cost")
    runs = [
        b.monitor(
            "cost cold", "cost", cfg, "--since", (COST_END - RUN_EVERY).isoformat(), "--until", COST_END.isoformat()
        )
    ]
    until = COST_END
    for i in range(b.args.steady_runs):
        until += RUN_EVERY
        runs.append(b.monitor(f"cost steady {i + 1}", "cost", cfg, "--until", until.isoformat()))
    midnight = until.replace(hour=0, minute=0)
    traces = b.traces_between(midnight, until)
    naive = b.naive("naive cost", "cost", midnight, until, traces + traces // 50 + 1)
    return {
        "runs": [_log(r) for r in runs],
        "naive": _log(naive),
        "naive_window": [midnight.isoformat(), until.isoformat()],
    }


def bench_window(b: Bench, check: str, since: datetime, until: datetime, *, naive: bool = True) -> dict[str, Any]:
    """One monitor over [since, until) on a fresh store, then the baseline over the same window."""
    run = b.monitor(
        f"{check} {since:%m-%d}..{until:%m-%d}",
        check,
        b.config(check),
        "--since",
        since.isoformat(),
        "--until",
        until.isoformat(),
    )
    out: dict[str, Any] = {"window": [since.isoformat(), until.isoformat()], "run": _log(run), "naive": None}
    if naive:
        traces = b.traces_between(since, until, drift_only=check == "drift")
        pages = b.traces_between(since, until) // 50 + 1
        out["naive"] = _log(b.naive(f"naive {check}", check, since, until, traces + pages))
    return out


def bench_startup(b: Bench) -> dict[str, Any]:
    cfg = b.config("startup")
    until = COST_END
    b.monitor("startup warm-up", "cost", cfg, "--since", (until - RUN_EVERY).isoformat(), "--until", until.isoformat())
    cost, helps = [], []
    for _ in range(b.args.repeat):
        until += timedelta(minutes=1)
        cost.append(b.monitor("startup cost", "cost", cfg, "--until", until.isoformat()))
        helps.append(run_measured("startup help", [str(BIN / "run-monitor"), "--help"]))
    return {
        "cost_wall_median": statistics.median(r.wall for r in cost),
        "cost_walls": [round(r.wall, 3) for r in cost],
        "cost_requests": [r.requests for r in cost],
        "help_wall_median": statistics.median(r.wall for r in helps),
        "help_walls": [round(r.wall, 3) for r in helps],
        "help_peak_mb": max(r.peak_mb for r in helps),
    }


def bench_scale(args: argparse.Namespace, name: str, traces: int) -> dict[str, Any]:
    work = args.work / name
    work.mkdir(parents=True, exist_ok=True)
    data, fixture = work / "observations.jsonl", work / "gitlab.json"
    meta_file = data.with_suffix(".meta.json")
    t0 = time.monotonic()
    if not meta_file.exists() or json.loads(meta_file.read_text()).get("traces") != traces:
        generate(traces, data, fixture)
    meta = json.loads(meta_file.read_text())
    meta["generate_s"] = round(time.monotonic() - t0, 1)
    print(f"[{name}] {meta}", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    fake = IndexedFakeLangfuse.from_jsonl(data, latency=args.latency).start()
    meta["server_load_s"] = round(time.monotonic() - t0, 1)
    meta["server_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out: dict[str, Any] = {"dataset": meta}
    try:
        # Same Nagle stall as in benchmarks/server.py; set on the fake GitLab's handler for this process.
        gitlab_server._Handler.disable_nagle_algorithm = True
        with running(FakeGitLab(json.loads(fixture.read_text())["projects"])) as gitlab:
            b = Bench(args, fake, gitlab, fixture, work)
            out.update(run_scenarios(b, name))
    finally:
        fake.stop()
    return out


def run_scenarios(b: Bench, name: str) -> dict[str, Any]:
    args, out = b.args, {}
    last_day = WEEK_END - timedelta(days=1)
    if "cost" in args.checks:
        out["cost"] = bench_cost(b)
    if "drift" in args.checks and name in args.drift_scales:
        out["drift"] = bench_window(b, "drift", WEEK_START, WEEK_END)
        out["drift_daily"] = bench_window(b, "drift", last_day, WEEK_END, naive=False)
    if "audit" in args.checks:
        out["audit"] = bench_window(b, "audit", WEEK_START, WEEK_END)
        out["audit_daily"] = bench_window(b, "audit", last_day, WEEK_END, naive=False)
    if "report" in args.checks and name in args.drift_scales:
        cfg = b.config("report", f"report:\n  output_dir: {b.work / 'reports'}\n")
        out["report"] = _log(b.monitor("report weekly", "report", cfg, "--week", "2026-W47", "--dry-run"))
    if "startup" in args.checks and name == args.startup_scale:
        out["startup"] = bench_startup(b)
    if "embed" in args.checks and name in args.drift_scales:
        cmd = [sys.executable, "-m", "benchmarks.embed_bench", str(b.gitlab_fixture)]
        run = run_measured("embedding throughput", cmd)
        _parse_summary(run)
        out["embed"] = run.extra
        print(f"  embed: {run.extra}", file=sys.stderr)
    return out


def machine() -> dict[str, Any]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "?",
    )
    mem = next(
        (int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")), 0
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem / 1024**2, 1),
        "python": platform.python_version(),
        "load_avg_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="1k,10k,100k")
    parser.add_argument("--checks", default="cost,drift,audit,report,startup,embed")
    parser.add_argument("--drift-scales", default="10k", help="scales where drift runs (it loads the model)")
    parser.add_argument("--startup-scale", default="1k")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every Langfuse request")
    parser.add_argument("--steady-runs", type=int, default=8, help="15-minute cost runs after the first")
    parser.add_argument("--repeat", type=int, default=7, help="startup repetitions (median reported)")
    parser.add_argument("--naive-budget", type=float, default=300.0, help="seconds of latency a naive run may wait")
    parser.add_argument("--naive-max-requests", type=int, default=30_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results.json"))
    args = parser.parse_args(argv)
    args.checks, args.drift_scales = set(args.checks.split(",")), set(args.drift_scales.split(","))
    started = datetime.now(UTC)
    results: dict[str, Any] = {"date": started.isoformat(timespec="seconds"), "argv": sys.argv, "machine": machine()}
    results["params"] = {k: sorted(v) if isinstance(v, set) else str(v) for k, v in vars(args).items()}
    for name in args.scales.split(","):
        results[name] = bench_scale(args, name, SCALES[name])
        gc.collect()
        args.out.write_text(json.dumps(results, indent=1, default=str))  # keep what we have if a later scale dies
    results["duration_s"] = round((datetime.now(UTC) - started).total_seconds())
    results["machine"]["load_avg_end"] = os.getloadavg()
    args.out.write_text(json.dumps(results, indent=1, default=str))
    print(f"wrote {args.out} in {results['duration_s']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
