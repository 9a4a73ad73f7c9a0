"""Goal-drift on evidence next to the final-commit method, side by side in one run, as whole processes.

    PYTHONPATH=. .venv/bin/python -m benchmarks.drift_bench --scale 10k --work /tmp/bench-drift \
        --changes data/drift_pairs/changes.jsonl --out benchmarks/results/drift-evidence-real.json

The dataset is the benchmark's (benchmarks/generate.py: at 10k traces a week, 1,951 merge requests).
With `--changes`, each merge request gets the commits and whole diff of a real pull request
(benchmarks/real_changes.py: 600 rows, each serving about three merge requests, made distinct).
Without it, each gets a synthetic diff (`with_diffs`: one source file and its test) and the same
second commit, so the changes summaries collapse to 37 texts (benchmarks/results/drift-evidence.json).
Served by the indexed fake Langfuse and the fake GitLab on 127.0.0.1 with `--latency` seconds per
Langfuse request. Three runs of `run-monitor drift` over the whole week, each a child process measured
by benchmarks/measure.py:

1. **final commit** (the method before the evidence one): `method: csls`, `checks: false`: the MR and
   its commits, the final commit scored; fresh store.
2. **evidence** (the default now): the MR, its commits and its diffs, final commit + changes summary
   scored, explicit checks; fresh store.
3. **evidence, second run** over the same window on the store of run 2: nothing should be read again.

The model's embedding cache lives in each run's store, so runs 1 and 2 both start cold.

Both first runs write one Langfuse score per trace, one POST each (3,902 at 10k): at `--latency` per
request that is the same fixed cost in both, after all the drift work. Each run reports it as
`score_writes_s` (first to last score POST, as the fake saw them arrive, plus one latency), and the
verdict gives the wall ratio with and without it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from benchmarks.generate import WEEK_END, WEEK_START, generate
from benchmarks.measure import SCORES_PATH, Measured, run_measured
from benchmarks.real_changes import load_rows, with_real_changes
from benchmarks.server import IndexedFakeLangfuse
from tests.fakes import gitlab_server
from tests.fakes.gitlab_server import FakeGitLab, running

SCALES = {"1k": 1_000, "10k": 10_000}
ROOT = Path(__file__).resolve().parents[1]


def with_diffs(projects: dict[str, Any]) -> dict[str, Any]:
    """Every merge request gets a diff: a change in one source file and a test for it (deterministic)."""
    for project in projects.values():
        for iid, mr in project["merge_requests"].items():
            name = f"component_{int(iid) % 37}"
            source = (
                f"@@ -{10 + int(iid) % 50},4 +{10 + int(iid) % 50},9 @@ def handle_{name}(request):\n"
                f"     value = request.get('{name}')\n-    return value\n+    if value is None:\n"
                f"+        raise ValueError('{name} is required')\n+    return normalise(value)\n"
            )
            test = f"@@ -0,0 +1,3 @@\n+def test_{name}_is_required():\n+    with pytest.raises(ValueError):\n"
            mr["diffs"] = [
                {"old_path": f"src/{name}.py", "new_path": f"src/{name}.py", "diff": source},
                {"old_path": f"tests/test_{name}.py", "new_path": f"tests/test_{name}.py", "diff": test},
            ]
    return projects


def config(work: Path, name: str, fake: IndexedFakeLangfuse, gitlab: FakeGitLab, drift: str, *, fresh: bool) -> Path:
    store = work / f"{name}.db"
    if fresh:
        store.unlink(missing_ok=True)
    path = work / f"{name}.yaml"
    path.write_text(
        f"langfuse:\n  host: {fake.url}\n  public_key: {fake.public_key}\n  secret_key: {fake.secret_key}\n"
        f"gitlab:\n  url: {gitlab.url}\n  token: {gitlab.token}\n"
        f"store:\n  url: sqlite:///{store}\n"
        f"monitors:\n  drift:\n{drift or '    {}'}\n"
    )
    return path


def run(label: str, cfg: Path, fake: IndexedFakeLangfuse, gitlab: FakeGitLab) -> dict[str, Any]:
    seen = len(fake.requests), len(fake.arrivals)
    cmd = [sys.executable, "-m", "monitors.app.cli.main", "drift", "-c", str(cfg), "--format", "json"]
    cmd += ["--since", WEEK_START.isoformat(), "--until", WEEK_END.isoformat()]
    result: Measured = run_measured(label, cmd, fake, gitlab, env={"PYTHONPATH": str(ROOT)})
    summary = json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else {}
    counters = summary.get("counters", {})
    checked = counters.get("drift_candidates", 0) - counters.get("already_judged", 0)
    out = {
        "label": label,
        "exit": result.exit_code,
        "wall_s": round(result.wall, 1),
        "cpu_s": round(result.cpu, 1),
        "peak_mb": round(result.peak_mb),
        "langfuse_requests": result.general + result.scores,
        "gitlab_requests": result.gitlab,
        "findings": summary.get("findings"),
        "counters": counters,
    }
    out["traces_checked"] = checked
    out["score_writes_s"] = score_writes_s(fake, *seen)
    print(f"  {label}: {out['wall_s']} s wall, {out['cpu_s']} s CPU, gitlab {result.gitlab}", file=sys.stderr)
    return out


def score_writes_s(fake: IndexedFakeLangfuse, requests_before: int, arrivals_before: int) -> float:
    """Seconds from the first score POST's arrival to the last one's answer (0 when none were sent)."""
    requests, arrivals = fake.requests[requests_before:], fake.arrivals[arrivals_before:]
    times = [t for r, t in zip(requests, arrivals, strict=True) if r.path == SCORES_PATH]
    return round(times[-1] - times[0] + fake.latency, 1) if times else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="10k")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-drift"))
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per Langfuse request")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--changes", type=Path, help="real PRs (JSON lines) to give the merge requests")
    args = parser.parse_args()
    work = args.work / args.scale
    work.mkdir(parents=True, exist_ok=True)
    data, fixture = work / "observations.jsonl", work / "gitlab.json"
    if not data.exists():
        generate(SCALES[args.scale], data, fixture)
    projects = json.loads(fixture.read_text())["projects"]
    projects = with_real_changes(projects, load_rows(args.changes)) if args.changes else with_diffs(projects)
    merge_requests = sum(len(p["merge_requests"]) for p in projects.values())
    fake = IndexedFakeLangfuse.from_jsonl(data, latency=args.latency).start()
    results: dict[str, Any] = {"scale": args.scale, "merge_requests": merge_requests, "latency": args.latency}
    results["changes"] = str(args.changes) if args.changes else "synthetic (with_diffs)"
    try:
        gitlab_server._Handler.disable_nagle_algorithm = True  # as benchmarks/run.py: no Nagle stalls
        with running(FakeGitLab(projects)) as gitlab:
            old = config(work, "final-commit", fake, gitlab, "    method: csls\n    checks: false", fresh=True)
            new = config(work, "evidence", fake, gitlab, "", fresh=True)
            results["runs"] = [
                run("final commit (csls), before", old, fake, gitlab),
                run("evidence, first run", new, fake, gitlab),
                run(
                    "evidence, second run, same window",
                    config(work, "evidence", fake, gitlab, "", fresh=False),
                    fake,
                    gitlab,
                ),
            ]
    finally:
        fake.stop()
    before, first, second = results["runs"]
    results["verdict"] = {
        "gitlab_requests_per_mr": round(first["gitlab_requests"] / merge_requests, 2),
        "wall_ratio_vs_before": round(first["wall_s"] / before["wall_s"], 2),
        "wall_ratio_without_score_writes": round(
            (first["wall_s"] - first["score_writes_s"]) / (before["wall_s"] - before["score_writes_s"]), 2
        ),
        "second_run_gitlab_requests": second["gitlab_requests"],
    }
    print(json.dumps(results["verdict"]), file=sys.stderr)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
