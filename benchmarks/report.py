"""Markdown tables from the runner's JSON (benchmarks/run.py), for benchmarks/RESULTS.md.

    python -m benchmarks.report results-a.json [results-b.json ...]

Several files (e.g. the small scales and the 100k scale run separately) are merged by scale.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

HOBBY_GENERAL_PER_MIN = 30
HOBBY_METRICS_PER_DAY = 100
RUNS_PER_DAY = {"cost": 96, "drift": 1, "audit": 1, "report": 1 / 7}


def _wall(r: dict[str, Any]) -> str:
    if r.get("projected_wall"):
        return f"{r['projected_wall']:.0f} (projected; {r['wall']:.0f} at 0 ms)"
    return f"{r['wall']:.1f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.0f}x" if b else "n/a"


def table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def datasets(scales: dict[str, Any]) -> str:
    rows = []
    for name, s in scales.items():
        d = s["dataset"]
        rows.append([name, d["traces"], d["observations"], d["sessions"], d["coding_sessions"], d["server_load_s"]])
        rows[-1].append(d["server_peak_mb"])
    return table(
        ["scale", "traces/week", "observations", "sessions", "coding sessions", "fake load s", "fake MB"], rows
    )


def cost(scales: dict[str, Any]) -> str:
    rows = []
    for name, s in scales.items():
        if "cost" not in s:
            continue
        cold, steady, naive = s["cost"]["runs"][0], s["cost"]["runs"][1:], s["cost"]["naive"]
        per_run = statistics.mean(r["requests"] for r in steady)
        row = [name, f"{cold['general']} + {cold['metrics']}m", f"{per_run:.2f}", max(r["requests"] for r in steady)]
        row += [
            f"{statistics.median(r['wall'] for r in steady):.1f}",
            f"{max(r['peak_mb'] for r in s['cost']['runs']):.0f}",
        ]
        if naive:
            row += [naive["requests"], _wall(naive), f"{naive['peak_mb']:.0f}", _ratio(naive["requests"], per_run)]
            row.append(_ratio(naive["requests"], cold["requests"]))
        rows.append(row)
    head = ["scale", "first run req", "req/run steady", "max steady", "steady wall s", "peak MB"]
    head += ["naive req/run", "naive wall s", "naive MB", "naive/steady", "naive/first run"]
    return table(head, rows)


def window_runs(scales: dict[str, Any], key: str) -> str:
    rows = []
    for name, s in scales.items():
        if key not in s:
            continue
        run, naive = s[key]["run"], s[key]["naive"]
        fetch_wait = run["requests"] * run["latency"]
        row = [
            name,
            run["extra"].get("records", "?"),
            f"{run['requests']} (+{run['gitlab']} GitLab)",
            f"{run['wall']:.1f}",
        ]
        row += [f"{run['cpu']:.1f}", f"{fetch_wait + run['server_seconds']:.1f}", f"{run['peak_mb']:.0f}"]
        if naive:
            row += [f"{naive['requests']} (+{naive['gitlab']} GitLab)", _wall(naive), f"{naive['peak_mb']:.0f}"]
            row.append(_ratio(naive.get("projected_wall") or naive["wall"], run["wall"]))
        else:
            row += ["not run", "", "", ""]
        rows.append(row)
    head = ["scale", "records", "requests", "wall s", "CPU s", "fetch s (latency+server)", "peak MB"]
    return table([*head, "naive requests", "naive wall s", "naive MB", "speed-up"], rows)


def schedule(s: dict[str, Any]) -> str:
    rows = []
    steady = s["cost"]["runs"][1:]
    per_run = statistics.mean(r["general"] for r in steady)
    metrics_day = sum(r["metrics"] for r in steady) * RUNS_PER_DAY["cost"] / len(steady)
    busiest = max(r["busiest_minute"] for r in s["cost"]["runs"])
    rows.append(["cost (every 15 min)", f"{per_run:.2f}", f"{per_run * 96:.0f}", busiest, f"{metrics_day:.0f}"])
    for key, label in (("drift_daily", "drift (daily)"), ("audit_daily", "audit (daily)")):
        if key in s:
            r = s[key]["run"]
            rows.append(
                [label, r["general"] + r["scores"], r["general"] + r["scores"], r["busiest_minute"], r["metrics"]]
            )
    if s.get("report"):
        r = s["report"]
        rows.append(
            ["report (weekly)", r["general"], f"{r['general'] / 7:.1f}", r["busiest_minute"], f"{r['metrics'] / 7:.1f}"]
        )
    head = ["job", "general req/run", "general req/day", "busiest minute (Hobby half: 15)", "Metrics v2/day (half: 50)"]
    return table(head, rows)


def main(argv: list[str] | None = None) -> None:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    merged: dict[str, Any] = {}
    for path in paths:
        data = json.loads(path.read_text())
        merged.update({k: v for k, v in data.items() if isinstance(v, dict) and "dataset" in v})
    print("### Datasets\n\n" + datasets(merged))
    print("\n### Cost\n\n" + cost(merged))
    print("\n### Drift (whole week)\n\n" + window_runs(merged, "drift"))
    print("\n### Audit (whole week)\n\n" + window_runs(merged, "audit"))
    if "10k" in merged and "cost" in merged["10k"]:
        print("\n### Default schedules at 10k traces/week\n\n" + schedule(merged["10k"]))
    for name, s in merged.items():
        if "startup" in s:
            print(f"\n### Startup ({name})\n\n```\n{json.dumps(s['startup'], indent=1)}\n```")
        if "embed" in s:
            print(f"\n### Embedding throughput ({name})\n\n```\n{json.dumps(s['embed'], indent=1)}\n```")


if __name__ == "__main__":
    main()
