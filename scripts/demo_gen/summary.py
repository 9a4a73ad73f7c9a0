"""The figures monitors/demo/README.md quotes, computed from the written lines (what monitors read)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from demo_gen.base import AGENTS
from monitors.contracts.records import MalformedRecord, Observation, parse_observation

CAP, WARN = 40.0, 32.0  # the demo's global daily budget and its 80% mark
SHORT = {
    "pipeline-medic": "medic",
    "mr-review": "review",
    "llm-fix": "fix",
    "issue-executor": "issue",
    "release-notes": "notes",
}


def parse_lines(lines: Sequence[str]) -> list[Observation]:
    out = []
    for line in lines:
        try:
            out.append(parse_observation(json.loads(line)))
        except (ValueError, MalformedRecord):
            continue
    return out


def first_crossing(rows: Sequence[Observation], day: date, limit: float, user: str | None = None) -> str:
    """Time (UTC) of the observation that takes the day's running total to `limit` or more."""
    total = 0.0
    for obs in sorted((o for o in rows if o.start_time.date() == day), key=lambda o: o.start_time):
        if user is not None and obs.user_id != user:
            continue
        total += obs.total_cost
        if total >= limit:
            return obs.start_time.strftime("%H:%M:%S")
    return "never"


def _daily_table(rows: Sequence[Observation]) -> list[str]:
    by_day: dict[date, list[Observation]] = defaultdict(list)
    for obs in rows:
        by_day[obs.start_time.date()].append(obs)
    head = "| day | | total $ | % of $40 | " + " | ".join(SHORT[a] for a in AGENTS) + " | top user $ | traces |"
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for day in sorted(by_day):
        day_rows = by_day[day]
        agents: Counter[str] = Counter()
        users: Counter[str] = Counter()
        for obs in day_rows:
            agents[obs.trace_name or ""] += obs.total_cost
            users[obs.user_id or ""] += obs.total_cost
        total = sum(agents.values())
        top, top_cost = max(users.items(), key=lambda kv: (kv[1], kv[0]))
        traces = len({o.trace_id for o in day_rows})
        cells = " | ".join(f"{agents[a]:.2f}" for a in AGENTS)
        out.append(
            f"| {day} | {day:%a} | {total:.2f} | {100 * total / CAP:.1f} | {cells} | {top} {top_cost:.2f} | {traces} |"
        )
    return out


def _user_maxima(rows: Sequence[Observation]) -> list[str]:
    spend: Counter[tuple[str, date]] = Counter()
    for obs in rows:
        spend[(obs.user_id or "", obs.start_time.date())] += obs.total_cost
    best: dict[str, tuple[float, date]] = {}
    for (user, day), cost in spend.items():
        if user not in best or cost > best[user][0]:
            best[user] = (cost, day)
    out = ["| user | max $ in one UTC day | on |", "|---|---|---|"]
    out += [f"| {u} | {c:.2f} | {d} |" for u, (c, d) in sorted(best.items(), key=lambda kv: -kv[1][0])]
    return out


def summary_markdown(lines: Sequence[str], planted: Sequence[dict[str, Any]]) -> str:
    rows = parse_lines(lines)
    thu, sat = date(2026, 11, 19), date(2026, 11, 21)
    out = ["## Daily totals (UTC days, USD, parsed rows only)", "", *_daily_table(rows), ""]
    out += ["## Budget crossings (time of the observation that crosses)", ""]
    out += [
        f"- {d} global $32 (80%): {first_crossing(rows, d, WARN)}; $40 (100%): {first_crossing(rows, d, CAP)}"
        for d in (thu, sat)
    ]
    out.append(
        f"- {sat} svc-llm-fix $4 (80% of $5): {first_crossing(rows, sat, 4.0, 'svc-llm-fix')}; "
        f"$5: {first_crossing(rows, sat, 5.0, 'svc-llm-fix')}"
    )
    out += ["", "## Per-user maxima", "", *_user_maxima(rows), "", "## Planted sessions", ""]
    out += ["| name | verdict | session | day | agent | tool calls | cost $ |", "|---|---|---|---|---|---|---|"]
    for p in planted:
        out.append(
            f"| {p['name']} | {p['verdict']} | {p['session']} | {p['day']} | {p['agent']} | "
            f"{p.get('tool_calls', '')} | {p.get('cost', '')} |"
        )
    counts = Counter(o.type for o in rows)
    first = min(o.start_time for o in rows)
    last = max(o.start_time for o in rows)
    out += ["", f"Rows: {len(rows)} parsed ({dict(sorted(counts.items()))}), {_span(first, last)}"]
    return "\n".join(out)


def _span(first: datetime, last: datetime) -> str:
    return f"first {first.isoformat()}, last {last.isoformat()}"
