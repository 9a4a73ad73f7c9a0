"""Generate the bundled demo data for `run-monitor all --demo`: deterministic, no network.

Writes monitors/demo/observations.jsonl.gz (Observations v2 rows, one JSON object per line, 21 UTC days
2026-11-02 .. 2026-11-22), monitors/demo/gitlab.json (the merge requests the agents opened, in the
offline GitLab fixture format), monitors/demo/github.json (the pull requests, offline GitHub format)
and monitors/demo/scores.jsonl.gz (evaluator scores of the demo week).
monitors/demo/README.md documents what is planted; `--summary` prints the figures it quotes, computed
from the written file.

Usage:
    .venv/bin/python scripts/make_demo_data.py                 # regenerate monitors/demo/
    .venv/bin/python scripts/make_demo_data.py --out /tmp/x    # somewhere else
    .venv/bin/python scripts/make_demo_data.py --summary       # also print the README figures
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from demo_gen.base import AGENTS, DAYS, DEMO_WEEK_START, Ctx
from demo_gen.drift import CASES, emit_mr_session, gitlab_fixture
from demo_gen.events import SCORES_FILE, plant_events
from demo_gen.github import emit_pull_sessions
from demo_gen.output import gzip_bytes, observation_lines, write_files
from demo_gen.planted import emit_plants
from demo_gen.runaway import RUNAWAY_DAY, emit_runaway
from demo_gen.summary import summary_markdown
from demo_gen.traffic import day_targets, fill_agent

DEMO_DIR = Path(__file__).resolve().parent.parent / "monitors" / "demo"
GITHUB_FILE = "github.json"


def generate() -> tuple[list[str], list[str], dict[str, Any], Ctx, list[str], dict[str, Any]]:
    """Lines of the observations file, why the malformed ones are bad, the GitLab fixture, the state,
    the lines of the scores file and the GitHub fixture."""
    ctx = Ctx()
    mr_entries = []
    for day in DAYS:
        targets = day_targets(ctx, day)
        if day >= DEMO_WEEK_START:
            for case in (c for c in CASES if c.day == day):
                entry, session_id = emit_mr_session(ctx, case)
                mr_entries.append((case, entry))
                ctx.planted.append(
                    {
                        "name": f"mr-{case.repo}!{case.iid}",
                        "verdict": case.kind,
                        "session": session_id,
                        "day": day.isoformat(),
                        "agent": case.agent,
                    }
                )
            emit_plants(ctx, day)
        if day == RUNAWAY_DAY:
            before = ctx.agent_spend[(day, "llm-fix")]
            emit_runaway(ctx)
            targets["llm-fix"] += ctx.agent_spend[(day, "llm-fix")] - before  # on top of a normal day
        for agent in AGENTS:
            fill_agent(ctx, day, agent, targets[agent])
    score_lines, counts = plant_events(ctx)
    print("events plants: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    github = emit_pull_sessions(ctx)  # last, from its own random stream: nothing above changes
    lines, reasons = observation_lines(ctx)
    return lines, reasons, gitlab_fixture(mr_entries), ctx, score_lines, github


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEMO_DIR, help="output folder (default: monitors/demo)")
    parser.add_argument("--summary", action="store_true", help="print the figures the README quotes")
    args = parser.parse_args(argv)
    lines, reasons, gitlab, ctx, score_lines, github = generate()
    paths = write_files(args.out, lines, gitlab)
    scores_path = args.out / SCORES_FILE
    scores_path.write_bytes(gzip_bytes(score_lines))
    paths.append(scores_path)
    github_path = args.out / GITHUB_FILE
    github_path.write_text(json.dumps(github, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths.append(github_path)
    for path in paths:
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    print(f"{len(lines):,} lines, {len(reasons)} malformed: {'; '.join(reasons)}")
    if args.summary:
        print(summary_markdown(lines, ctx.planted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
