"""Evaluate the action-sequence audit on the real trajectories (docs/audit-evaluation.md).

Usage: .venv/bin/python scripts/audit_eval.py [TRAJECTORIES.jsonl] [--show N]

1. Runs the audit monitor over all 326 converted sessions (default config, and with min_tool_calls=1)
   and prints the findings per check; INFO notes (`polling`) are not findings: they are counted on a
   line of their own and left out of the flagged sessions.
2. Prints N flagged sessions (the calls around each finding) for reading by hand.
3. On tau-bench, uses each task's gold actions as the plan and reports whether the divergence score
   separates resolved from unresolved sessions (ROC AUC), next to simple baselines.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from sklearn.metrics import roc_auc_score

from monitors.audit.config import NOTES
from monitors.audit.monitor import ToolSequenceConfig, ToolSequenceMonitor
from monitors.audit.plan import plan_divergence
from monitors.audit.sequence import build_session, excerpt
from monitors.contracts.findings import RunWindow
from monitors.contracts.monitor import RunContext
from monitors.sources.replay import ReplaySource
from monitors.sources.trajectories import convert_file

DATA = str(Path(__file__).resolve().parents[1] / "data" / "agent_trajectories" / "trajectories.jsonl")
WINDOW = RunWindow(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
CONVERSATION = ("respond", "think")


def run_monitor(observations, config):
    ctx = RunContext(WINDOW, WINDOW.end, ReplaySource.from_observations(observations))
    findings = list(ToolSequenceMonitor(ToolSequenceConfig.model_validate(config)).run(ctx))
    return findings, ctx


def counts(observations) -> list:
    for label, config in (
        ("default (min_tool_calls=5)", {}),
        ("all sessions (min_tool_calls=1)", {"min_tool_calls": 1}),
    ):
        everything, ctx = run_monitor(observations, config)
        findings = [f for f in everything if f.kind not in NOTES]
        notes = Counter(f.kind for f in everything if f.kind in NOTES)
        by_source = defaultdict(Counter)
        for f in findings:
            by_source[f.kind][f.evidence["agent"]] += 1
        print(
            f"\n== {label}: audited {ctx.counters.get('audit.sessions_audited', 0)}, "
            f"skipped {ctx.counters.get('audit.sessions_skipped_short', 0)}, "
            f"flagged sessions {len({f.evidence['session'] for f in findings})}"
        )
        noted = ", ".join(f"{kind} {n}" for kind, n in sorted(notes.items())) or "none"
        print(f"  INFO notes, not findings (left out of the flagged sessions): {noted}")
        for kind, per in sorted(by_source.items()):
            waste = sum(f.evidence["wasted_steps"] for f in findings if f.kind == kind)
            usd = sum(f.evidence["usd"] for f in findings if f.kind == kind)
            print(f"  {kind:12s} {sum(per.values()):3d}  {dict(per)}  wasted steps {waste}, ${usd:.3f}")
    return findings  # the min_tool_calls=1 run


def show(findings, sessions, n: int) -> None:
    print(f"\n== {n} flagged findings to read")
    for f in findings[:n]:
        s = sessions[f.evidence["session"]]
        print(f"\n-- {f.kind} {f.severity.label} {f.evidence['session']}\n   {f.summary}")
        marked = set(f.evidence["steps"])
        lo, hi = max(1, min(marked) - 3), min(len(s.calls), max(marked) + 1)
        for c in s.calls[lo - 1 : hi]:
            flag = "*" if c.step in marked else " "
            err = " ERR" if c.is_error else ""
            print(f"   {flag}{c.step:3d} {c.name}({excerpt(c.args, 70)}){err} -> {excerpt(c.output, 60)}")


def tau_auc(sessions, path: str) -> None:
    with open(path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    labels, scores, miss, extra, lengths = [], [], [], [], []
    skipped = 0
    for row in rows:
        if not row["session_id"].startswith("tau-bench/"):
            continue
        calls = sessions[row["session_id"]].calls
        gold = row["meta"]["gold_actions"]
        result = plan_divergence(gold, calls, ignore=CONVERSATION, min_steps=1)
        if result is None:  # a task whose gold sequence is empty: nothing to align
            skipped += 1
            continue
        labels.append(1 if row["outcome"] != "resolved" else 0)
        scores.append(result.score)
        miss.append(len(result.missed) / result.planned)
        extra.append(len(result.unplanned) / max(1, result.considered))
        lengths.append(len(calls))
    print(
        f"\n== tau-bench plan divergence vs outcome: {len(labels)} sessions, {sum(labels)} unresolved, "
        f"{skipped} without gold actions"
    )
    for name, values in (
        ("divergence score", scores),
        ("missed-step share", miss),
        ("unplanned-action share", extra),
        ("baseline: tool calls", lengths),
    ):
        print(f"  ROC AUC {name:24s} {roc_auc_score(labels, values):.3f}")
    for label in (0, 1):
        vals = sorted(s for s, y in zip(scores, labels, strict=True) if y == label)
        print(f"  {'unresolved' if label else 'resolved  '}: median {vals[len(vals) // 2]:.3f}, n={len(vals)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "trajectories", nargs="?", default=DATA, help="a trajectories.jsonl file (default: the bundled one)"
    )
    parser.add_argument("--show", type=int, default=20)
    args = parser.parse_args()
    observations = list(convert_file(args.trajectories))
    by_session = defaultdict(list)
    for o in observations:
        by_session[o.session_id].append(o)
    sessions = {k: build_session(k, v) for k, v in by_session.items()}
    findings = counts(observations)
    prose, _ = run_monitor(observations, {"plan": {"free_text": True}})
    prose = [f for f in prose if f.kind == "plan"]
    print(f"\n== with plan.free_text on: {len(prose)} plan findings (prose first thoughts as plans)")
    show(findings + prose, sessions, args.show)
    tau_auc(sessions, args.trajectories)


if __name__ == "__main__":
    main()
