"""The action audit side by side with an earlier version of itself: CPU, wall time and peak memory.

    python -m benchmarks.audit_compare --traces 10000 --chats 2000 --baseline 4ccd3dd --work /tmp/bench/audit
    python -m benchmarks.audit_compare --traces 100000 --chats 0 --baseline 4ccd3dd --work /tmp/bench/audit1m

Data: the benchmark generator's week (`benchmarks/generate.py`: coding and review agents, tool calls
only) plus `--chats` conversational sessions cloned from the tau-bench and ReAct trajectories in
`data/agent_trajectories` (real replies, searches and misses, new ids, moved into the same week), so
the conversation checks have real text to read. Written once as an export file.

Each version runs in its own child process over that file (`ReplaySource`, the default config; the
baseline from `git archive <commit> monitors`), one after the other in this run, so both see the same
machine. CPU is the child's user+system time and peak memory its maximum RSS (`os.wait4`). Optional
extra configurations of the current version (e.g. embeddings) run the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from benchmarks.generate import WEEK_END, WEEK_START, Generator
from monitors.contracts.records import Observation, observation_to_row
from monitors.sources.trajectories import convert_file

ROOT = Path(__file__).resolve().parents[1]
TRAJECTORIES = ROOT / "data" / "agent_trajectories" / "trajectories.jsonl"
CHAT_SOURCES = ("tau-bench/", "reflexion-react-hotpotqa/")

CHILD = """
import json, sys
from datetime import datetime, UTC
from monitors.audit.monitor import ToolSequenceConfig, ToolSequenceMonitor
from monitors.contracts.findings import RunWindow
from monitors.contracts.monitor import RunContext
from monitors.sources.replay import ReplaySource
window = RunWindow(datetime.fromisoformat(sys.argv[2]), datetime.fromisoformat(sys.argv[3]))
ctx = RunContext(window, window.end, ReplaySource(sys.argv[1]))
findings = list(ToolSequenceMonitor(ToolSequenceConfig.model_validate(json.loads(sys.argv[4]))).run(ctx))
kinds = {}
for f in findings:
    kinds[f.kind] = kinds.get(f.kind, 0) + 1
print(json.dumps({"findings": len(findings), "kinds": kinds, "observations": ctx.counters.get("audit.observations"),
                  "sessions": ctx.counters.get("audit.sessions_audited")}))
"""


def _chat_sessions(count: int) -> Iterator[Observation]:
    """`count` sessions cloned round-robin from the conversational trajectories, spread over the week."""
    by_session: dict[str, list[Observation]] = {}
    for obs in convert_file(TRAJECTORIES):
        if obs.session_id and obs.session_id.startswith(CHAT_SOURCES) and obs.type != "AGENT":
            by_session.setdefault(obs.session_id, []).append(obs)
    originals = list(by_session.values())
    span = (WEEK_END - WEEK_START - timedelta(hours=2)) / max(1, count)
    for n in range(count):
        group = originals[n % len(originals)]
        shift = WEEK_START + span * n - min(o.start_time for o in group)
        sid = f"chat-{n:06d}"
        for obs in group:
            yield dataclasses.replace(
                obs,
                id=f"{sid}-{obs.id}",
                trace_id=f"{sid}-trace",
                session_id=sid,
                parent_id=None,
                start_time=obs.start_time + shift,
                end_time=(obs.end_time + shift) if obs.end_time else None,
            )


def write_data(path: Path, traces: int, chats: int) -> int:
    rows = 0
    with path.open("w", encoding="utf-8") as handle:
        for obs in _chat_sessions(chats):
            handle.write(json.dumps(observation_to_row(obs)) + "\n")
            rows += 1
        for obs in Generator(traces).observations():
            handle.write(json.dumps(observation_to_row(obs)) + "\n")
            rows += 1
    return rows


def export_baseline(commit: str, into: Path) -> Path:
    """The `monitors` package as it was at `commit`, unpacked under `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "monitors"], capture_output=True, check=True)
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def run_child(pythonpath: Path, data: Path, config: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    args = [sys.executable, "-c", CHILD, str(data), WEEK_START.isoformat(), WEEK_END.isoformat(), json.dumps(config)]
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, cwd=pythonpath)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"child failed ({status}) for {pythonpath}")
    result = json.loads(out)
    result.update(
        cpu_s=round(usage.ru_utime + usage.ru_stime, 2), wall_s=round(wall, 2), peak_mb=round(usage.ru_maxrss / 1024)
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=10_000, help="generator traces in the week")
    parser.add_argument("--chats", type=int, default=2_000, help="conversational sessions added")
    parser.add_argument("--baseline", required=True, help="git commit of the version to compare with")
    parser.add_argument("--current-only", action="store_true", help="skip the baseline run (memory checks)")
    parser.add_argument("--work", type=Path, required=True, help="scratch directory")
    parser.add_argument("--extra", action="append", default=[], help="NAME=JSON: another config of the current")
    parser.add_argument("--out", type=Path, help="write the results as JSON here too")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    data = args.work / f"audit-{args.traces}-{args.chats}.jsonl"
    rows = write_data(data, args.traces, args.chats)
    runs = {}
    if not args.current_only:
        baseline = export_baseline(args.baseline, args.work / f"baseline-{args.baseline}")
        runs[f"baseline {args.baseline}"] = run_child(baseline, data, {})
    runs["current"] = run_child(ROOT, data, {})
    for extra in args.extra:
        name, _, config = extra.partition("=")
        runs[f"current, {name}"] = run_child(ROOT, data, json.loads(config))
    base_cpu = runs.get(f"baseline {args.baseline}", {}).get("cpu_s", 0.0)
    print(f"{rows:,} observations ({args.traces:,} generator traces + {args.chats:,} chat sessions)")
    print(f"{'version':32s} {'CPU s':>7s} {'x base':>7s} {'wall s':>7s} {'peak MB':>8s}  findings")
    for name, r in runs.items():
        ratio = f"{r['cpu_s'] / base_cpu:7.2f}" if base_cpu else f"{'-':>7s}"
        print(f"{name:32s} {r['cpu_s']:7.2f} {ratio} {r['wall_s']:7.2f} {r['peak_mb']:8d}  {r['kinds']}")
    if args.out:
        args.out.write_text(json.dumps({"argv": sys.argv, "rows": rows, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
