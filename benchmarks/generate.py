"""Synthetic Langfuse data for the benchmarks: one week of agent sessions at a chosen scale.

    python -m benchmarks.generate --traces 10000 --out /tmp/bench/10k.jsonl --gitlab /tmp/bench/10k-gitlab.json

Writes one stored Observations v2 row per line (the shape `tests/fakes/langfuse_server.FakeLangfuse`
serves), streamed, so a million rows never sit in memory here, plus the merge requests the coding
sessions opened, in the OfflineGitLab / FakeGitLab fixture format. The same arguments always write
the same bytes (one `random.Random(seed)`, fixed calendar).

Shape (per DESIGN.md section 3): a third of the sessions are coding agents (llm-fix, issue-executor,
pipeline-medic) whose every observation carries `feature`, `objective` and `repo`, with `mr_iid` on
the session's last trace; some state a numbered `plan`. Every trace is a root SPAN, then 1-8 steps of
GENERATION (tokens, cost) followed by a TOOL call; a few sessions loop on the same tool calls. About
ten observations per trace, so 100k traces a week is about a million observations.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from monitors.contracts.records import Observation
from tests.fakes.langfuse_rows import stored_row

WEEK_START = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday; the data covers [WEEK_START, WEEK_END)
WEEK_END = WEEK_START + timedelta(days=7)
PROJECT_ID = "proj-bench"
CODING_AGENTS = ("llm-fix", "issue-executor", "pipeline-medic")
OTHER_AGENTS = ("mr-review", "release-notes")
CODING_SHARE = 1 / 3  # with 1-3 traces per coding session, 10k traces a week is ~2,000 coding sessions
REPOS = ("platform/api", "platform/web", "platform/billing", "data/etl", "infra/deploy")
USERS = ("alice", "bruno", "chen", "dana", "emeka", "farah", "svc-bot")
MODELS = {"gpt-4o": (2.5, 10.0), "gpt-4o-mini": (0.15, 0.6), "claude-sonnet-4": (3.0, 15.0)}
TOOLS = ("read_file", "edit_file", "run_tests", "search", "list_dir", "write_file")
# Hours of the day agents start sessions, weighted towards working hours.
HOUR_WEIGHTS = [1] * 7 + [3, 5, 6, 6, 5, 4, 5, 6, 6, 5, 4] + [2] * 6
VERBS = ("Fix", "Add", "Refactor", "Speed up", "Document", "Remove", "Harden")
COMPONENTS = (
    "pagination cursor", "webhook retry", "invoice rounding", "login redirect", "CSV export", "cache eviction",
    "rate limiter", "search index", "session timeout", "audit log", "file upload", "email digest",
    "feature flags", "tax calculation", "schema migration", "health check", "metrics endpoint", "password reset",
    "dark mode toggle", "PDF renderer", "job scheduler", "S3 sync", "GraphQL resolver", "currency conversion",
)  # fmt: skip
DETAILS = (
    "when the page is exactly full", "for users in a non-UTC timezone", "under concurrent requests",
    "after a deploy", "on empty input", "for very large files", "when the upstream returns 429",
    "in the nightly job", "for archived accounts", "behind the proxy", "with unicode names", "on retry",
    "in the admin panel", "for the EU region", "during the billing run", "with stale cache entries",
)  # fmt: skip
PLAN_STEPS = ("Read the failing test", "Search for the handler", "Edit the handler", "Run the tests", "Open an MR")


@dataclass
class Generator:
    """Emits sessions until `traces` traces exist; collects the merge requests they opened."""

    traces: int
    seed: int = 10
    rng: random.Random = field(init=False)
    emitted: int = 0
    sessions: int = 0
    coding_sessions: int = 0
    rows: int = 0
    merge_requests: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def observations(self) -> Iterator[Observation]:
        while self.emitted < self.traces:
            yield from self._session()

    def _session(self) -> Iterator[Observation]:
        rng = self.rng
        coding = rng.random() < CODING_SHARE
        agent = rng.choice(CODING_AGENTS if coding else OTHER_AGENTS)
        n_traces = min(rng.randint(1, 3) if coding else rng.randint(1, 2), self.traces - self.emitted)
        self.sessions += 1
        self.coding_sessions += coding
        sid = f"sess-{self.sessions:07d}"
        day = rng.randrange(7)
        hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        start = WEEK_START + timedelta(days=day, hours=hour, seconds=rng.randrange(3600))
        meta: dict[str, Any] = {"feature": agent}
        looping = coding and rng.random() < 0.05
        if coding:
            meta["objective"] = self._objective()
            meta["repo"] = rng.choice(REPOS)
            if rng.random() < 0.3:
                meta["plan"] = "\n".join(f"{i}. {s}" for i, s in enumerate(PLAN_STEPS, 1))
        user, model = rng.choice(USERS), rng.choice(list(MODELS))
        for t in range(n_traces):
            trace_meta = dict(meta)
            if coding and t == n_traces - 1:
                trace_meta["mr_iid"] = str(self._open_mr(meta["repo"], meta["objective"], start))
            ctx = _Trace(f"tr-{self.emitted:08d}", sid, agent, user, model, trace_meta, start)
            yield from self._trace(ctx, looping and t == 0)
            self.emitted += 1
            start += timedelta(minutes=rng.randint(2, 10))

    def _trace(self, tr: _Trace, looping: bool) -> Iterator[Observation]:
        rng = self.rng
        steps = 12 if looping else rng.randint(1, 8)
        clock = min(tr.start, WEEK_END - timedelta(minutes=30))
        yield self._obs(tr, "SPAN", tr.agent, clock, is_root=True)
        for step in range(steps):
            clock += timedelta(seconds=rng.randint(2, 20))
            tokens_in, tokens_out = rng.randint(3000, 12000), rng.randint(200, 800)
            price_in, price_out = MODELS[tr.model]
            cost = round((tokens_in * price_in + tokens_out * price_out) / 1e6, 6)
            usage = {"input": tokens_in, "output": tokens_out, "total": tokens_in + tokens_out}
            yield self._obs(tr, "GENERATION", "llm", clock, model=tr.model, usage=usage, cost=cost)
            clock += timedelta(seconds=rng.randint(1, 5))
            if looping:  # the same two calls over and over: a loop the audit must find
                tool, args = ("run_tests", {"path": "tests/"}) if step % 2 else ("edit_file", {"path": "src/app.py"})
            else:
                tool = rng.choice(TOOLS)
                args = {"path": f"src/{rng.choice(COMPONENTS).replace(' ', '_')}.py"}
            yield self._obs(tr, "TOOL", tool, clock, io=(json.dumps(args), "ok"))

    def _obs(self, tr: _Trace, kind: str, name: str, when: datetime, **extra: Any) -> Observation:
        self.rows += 1
        io = extra.get("io") or (None, None)
        return Observation(
            id=f"{tr.trace_id}-{self.rows:09d}",
            trace_id=tr.trace_id,
            type=kind,
            start_time=when,
            end_time=when + timedelta(seconds=1),
            project_id=PROJECT_ID,
            name=name,
            environment="production",
            user_id=tr.user,
            session_id=tr.session_id,
            trace_name=tr.agent,
            tags=("agent", tr.agent),
            model=extra.get("model"),
            usage=extra.get("usage") or {},
            total_cost=extra.get("cost", 0.0),
            metadata=tr.metadata,
            input=io[0],
            output=io[1],
            is_root=extra.get("is_root", False),
        )

    def _objective(self) -> str:
        rng = self.rng
        return f"{rng.choice(VERBS)} the {rng.choice(COMPONENTS)} {rng.choice(DETAILS)}"

    def _open_mr(self, repo: str, objective: str, when: datetime) -> int:
        mrs = self.merge_requests.setdefault(repo, {"merge_requests": {}})["merge_requests"]
        iid = len(mrs) + 1
        # 5% of merge requests drift: the final commit is about some other component.
        subject = objective if self.rng.random() >= 0.05 else self._objective()
        words = subject.split(" ", 1)
        final = f"{words[0].lower()}: {words[1]}\n\nChanged the code path and added a regression test."
        commits = [
            {"id": _sha(f"{repo}!{iid}:final"), "title": final.split("\n")[0],
             "message": final, "committed_date": (when + timedelta(minutes=30)).isoformat()},
            {"id": _sha(f"{repo}!{iid}:test"), "title": "test: reproduce the bug",
             "message": "test: reproduce the bug\n", "committed_date": (when + timedelta(minutes=20)).isoformat()},
        ]  # fmt: skip
        mrs[str(iid)] = {
            "title": objective,
            "description": f"Objective: {objective}",
            "web_url": f"https://gitlab.example.com/{repo}/-/merge_requests/{iid}",
            "state": "opened",
            "commits": commits,
        }
        return iid


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


@dataclass
class _Trace:
    trace_id: str
    session_id: str
    agent: str
    user: str
    model: str
    metadata: dict[str, Any]
    start: datetime


def write(gen: Generator, out: TextIO) -> None:
    """Stream every row of `gen` to `out` as JSON lines."""
    for obs in gen.observations():
        out.write(json.dumps(stored_row(obs, PROJECT_ID), separators=(",", ":")))
        out.write("\n")


def generate(traces: int, out: Path, gitlab: Path, *, seed: int = 10) -> dict[str, Any]:
    """Write the dataset and the GitLab fixture; return counts (also stored next to `out` as .meta.json)."""
    gen = Generator(traces, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        write(gen, fh)
    gitlab.write_text(json.dumps({"projects": gen.merge_requests}, sort_keys=True), encoding="utf-8")
    meta = {
        "traces": gen.emitted,
        "observations": gen.rows,
        "sessions": gen.sessions,
        "coding_sessions": gen.coding_sessions,
        "merge_requests": sum(len(p["merge_requests"]) for p in gen.merge_requests.values()),
        "seed": seed,
        "week_start": WEEK_START.isoformat(),
    }
    out.with_suffix(".meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=int, required=True, help="traces in the week")
    parser.add_argument("--out", type=Path, required=True, help="observations JSONL to write")
    parser.add_argument("--gitlab", type=Path, required=True, help="merge-request fixture JSON to write")
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args(argv)
    print(json.dumps(generate(args.traces, args.out, args.gitlab, seed=args.seed)))


if __name__ == "__main__":
    main()
