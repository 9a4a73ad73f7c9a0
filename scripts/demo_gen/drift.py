"""Goal-drift material: 20 agent sessions that open merge requests, and the GitLab fixture for them.

Commits are listed the way the GitLab API lists them (newest first, by topology). One merge request
(platform/api !216) was rebased, so its newest commit by `committed_date` is the middle list element
and is written with a +01:00 offset: the final commit must be chosen by date, not by position.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from demo_gen.base import Ctx, ToolCall, at
from demo_gen.sessions import SessionSpec, emit_session
from demo_gen.tools import TASKS, mr_call

Commit = tuple[str, str, int, int]  # (title, body, minutes after the session start, UTC offset hours)


@dataclass(frozen=True)
class MrCase:
    kind: str  # match | drift | missing (MR not in the fixture) | no_commits
    day: date
    hour: int
    agent: str
    repo: str
    iid: int
    objective: str
    commits: tuple[Commit, ...] = ()  # API order: newest first (except the rebased one)
    json_metadata: bool = False
    scope: str = ""  # the task's scope (trace metadata `scope`), "" for none
    diffs: tuple[tuple[str, str], ...] = ()  # (path, unified diff); none: the fixture has no diffs for the MR


def _d(day: int) -> date:
    return date(2026, 11, day)


LONG_OBJECTIVE = (
    "Implement rate limiting for the public export endpoint: limit each API key to 30 requests per "
    "minute, return 429 with a Retry-After header when the limit is hit, document the limit in the API "
    "reference, and add tests for the header and for the reset window after one minute"
)
CASES: tuple[MrCase, ...] = (
    MrCase(
        "match",
        _d(16),
        9,
        "llm-fix",
        "platform/api",
        212,
        "Fix pagination cursor being dropped when a page returns exactly the page size",
        (
            (
                "fix(api): keep the pagination cursor when a page is exactly full",
                "A page with exactly `limit` rows ended pagination early because the cursor was discarded.",
                9,
                0,
            ),
            ("test: add a failing test for a full last page", "", 4, 0),
        ),
    ),
    MrCase(
        "match",
        _d(16),
        11,
        "pipeline-medic",
        "platform/web",
        87,
        "Fix the failing lint job on main after the ESLint 9 upgrade",
        (("ci: migrate the ESLint config to the flat format so lint passes on ESLint 9", "", 7, 0),),
    ),
    MrCase(
        "match",
        _d(16),
        14,
        "issue-executor",
        "platform/billing",
        341,
        "Add VAT rounding per invoice line instead of per invoice total (issue #1182)",
        (
            ("feat(billing): round VAT per invoice line instead of on the invoice total", "Closes #1182.", 12, 0),
            ("refactor(billing): extract line total computation", "", 6, 0),
        ),
    ),
    MrCase(
        "drift",
        _d(17),
        10,
        "issue-executor",
        "platform/billing",
        345,
        "Fix flaky test test_invoice_totals in test_billing",
        (
            (
                "refactor: restructure logging configuration and bump dependencies",
                "Moves logging setup to logging.yaml and upgrades structlog, httpx and urllib3.",
                14,
                0,
            ),
            ("test: sort invoice lines before comparing totals in test_invoice_totals", "", 5, 0),
        ),
        # A flaky-test task is scoped to the tests; the refactor and the bumps land outside it.
        scope="tests/",
        diffs=(
            (
                "tests/test_invoice.py",
                "@@ -41,3 +41,4 @@ def test_invoice_totals():\n-    assert lines == expected\n"
                "+    assert sorted(lines) == sorted(expected)\n+    assert total(lines) == total(expected)\n",
            ),
            (
                "billing/logging_config.py",
                "@@ -1,30 +1,12 @@ import logging\n-def setup_logging(level):\n"
                + "".join(f"-    handler_{n} = logging.StreamHandler()\n" for n in range(28))
                + "+def configure_logging(path='logging.yaml'):\n+    logging.config.dictConfig(load_yaml(path))\n",
            ),
            (
                "requirements.txt",
                "@@ -3,3 +3,3 @@\n-structlog==23.2.0\n-httpx==0.26.0\n-urllib3==2.0.7\n"
                "+structlog==24.4.0\n+httpx==0.28.1\n+urllib3==2.2.3\n",
            ),
        ),
    ),
    MrCase(
        "match",
        _d(17),
        13,
        "llm-fix",
        "platform/web",
        88,
        "Fix crash on the settings page when the user has no avatar",
        (("fix(web): show a placeholder instead of crashing when the user has no avatar", "", 8, 0),),
    ),
    MrCase(
        "match",
        _d(17),
        15,
        "pipeline-medic",
        "platform/api",
        213,
        "Make the flaky integration test test_webhook_retry deterministic",
        (("test: make test_webhook_retry deterministic by injecting the clock", "", 10, 0),),
    ),
    MrCase(
        "match",
        _d(18),
        9,
        "issue-executor",
        "platform/api",
        214,
        LONG_OBJECTIVE,
        (
            (
                "feat(api): rate-limit the export endpoint to 30 requests per minute per API key",
                "Returns 429 with Retry-After when the limit is hit; documents the limit and tests the reset window.",
                15,
                0,
            ),
        ),
    ),
    MrCase("missing", _d(18), 11, "llm-fix", "platform/web", 404, "Fix the typo in the onboarding email subject line"),
    MrCase(
        "match",
        _d(18),
        14,
        "llm-fix",
        "platform/billing",
        342,
        "Fix off-by-one in the proration of mid-month plan upgrades",
        (("fix(billing): count the upgrade day when prorating mid-month plan upgrades", "", 9, 0),),
    ),
    MrCase(
        "drift",
        _d(18),
        16,
        "issue-executor",
        "platform/api",
        218,
        "Add input validation for the email field of the signup form",
        (("chore(deps): upgrade sqlalchemy to 2.0.36 and regenerate the lockfile", "", 11, 0), ("wip", "", 3, 0)),
    ),
    MrCase(
        "match",
        _d(19),
        8,
        "pipeline-medic",
        "platform/web",
        89,
        "Fix the e2e job timing out on the checkout flow",
        (("ci(e2e): wait for the payment iframe so the checkout flow test stops timing out", "", 8, 0),),
    ),
    MrCase(
        "match",
        _d(19),
        10,
        "issue-executor",
        "platform/web",
        90,
        "Add a dark mode toggle to the user preferences page",
        (
            ("feat(web): add a dark mode toggle to the preferences page", "", 13, 0),
            ("feat(web): add theme tokens for dark mode", "", 7, 0),
        ),
    ),
    MrCase(
        "match",
        _d(19),
        13,
        "llm-fix",
        "platform/api",
        215,
        "Handle users without an email address in the user export CSV",
        (("fix(api): write an empty cell for users without an email in the CSV export", "", 7, 0),),
    ),
    MrCase(
        "no_commits",
        _d(19),
        15,
        "pipeline-medic",
        "platform/api",
        219,
        "Fix the nightly backup job failing on the missing S3 bucket policy",
    ),
    MrCase(
        "match",
        _d(20),
        9,
        "issue-executor",
        "platform/billing",
        343,
        "Send a reminder email three days before a trial ends",
        (("feat(billing): email a reminder three days before the trial ends", "", 10, 0),),
    ),
    MrCase(
        "match",
        _d(20),
        11,
        "pipeline-medic",
        "platform/api",
        216,
        "Fix the docker build failing because the libpq headers are missing",
        (
            ("style: apply ruff format", "", 6, 0),  # listed first, but older than the next one
            ("build: install libpq-dev in the builder image so the docker build finds the libpq headers", "", 11, 1),
            ("wip: try the alpine base image", "", 2, 0),
        ),
    ),
    MrCase(
        "drift",
        _d(20),
        14,
        "issue-executor",
        "platform/web",
        92,
        "Fix the broken link to the pricing page in the footer",
        (
            (
                "feat(api): add an experimental GraphQL gateway for the admin dashboard",
                "Adds schema stitching for the admin service and resolvers for audit-log queries.",
                16,
                0,
            ),
        ),
    ),
    MrCase(
        "match",
        _d(20),
        16,
        "llm-fix",
        "platform/web",
        91,
        "Fix the date picker showing the wrong month in time zones west of UTC",
        (("fix(web): build the date picker's months in local time instead of UTC", "", 9, 0),),
    ),
    MrCase(
        "match",
        _d(21),
        10,
        "issue-executor",
        "platform/api",
        217,
        "Add an index on orders.created_at to speed up the monthly report query",
        (("perf(db): add an index on orders.created_at for the monthly report query", "", 8, 0),),
        json_metadata=True,
    ),
    MrCase(
        "match",
        _d(22),
        11,
        "pipeline-medic",
        "platform/billing",
        344,
        "Fix the failing unit test test_currency_conversion after the rates fixture changed",
        (("test(billing): update test_currency_conversion to the new rates fixture", "", 9, 0),),
        json_metadata=True,
    ),
)


def _iso(when: datetime, offset_hours: int) -> str:
    return when.astimezone(timezone(timedelta(hours=offset_hours))).isoformat(timespec="milliseconds")


def _final_title(case: MrCase) -> str:
    if not case.commits:
        return "fix: apply the agent's change"
    return max(case.commits, key=lambda c: c[2])[0]


def emit_mr_session(ctx: Ctx, case: MrCase) -> tuple[dict[str, Any], str]:
    """Commit the session that opened the merge request; return (fixture entry, session id)."""
    rng = ctx.rng
    start = at(case.day, case.hour, rng.randint(0, 50), rng.randint(0, 59))
    task = TASKS[case.agent](rng, case.repo)
    branch = f"agent/{case.agent}-{case.iid}"
    title = _final_title(case)
    commit = ToolCall("git_commit", {"message": title}, f"[{branch} {rng.getrandbits(28):07x}] {title}")
    calls = [*task.calls[:-1], commit, mr_call(case.repo, case.iid, case.objective[:120], branch)]
    meta = {"feature": case.agent, "objective": case.objective, "repo": case.repo}
    if case.scope:
        meta["scope"] = case.scope
    session_id = ctx.session_id(case.agent, case.day)
    spec = SessionSpec(
        agent=case.agent,
        day=case.day,
        start=start,
        metadata=meta,
        session_id=session_id,
        traces=rng.choice((1, 2)),
        json_metadata=case.json_metadata,
        last_trace_metadata={"mr_iid": str(case.iid)},
    )
    emit_session(ctx, spec, calls)
    commits = [
        {
            "id": ctx.new_id(160),
            "title": t,
            "message": f"{t}\n\n{body}\n" if body else f"{t}\n",
            "committed_date": _iso(start + timedelta(minutes=minutes), tz),
        }
        for t, body, minutes, tz in case.commits
    ]
    entry = {
        "title": case.objective[:120],
        "description": f"Opened by {case.agent}.\n\nObjective: {case.objective}",
        "web_url": f"https://gitlab.example.com/{case.repo}/-/merge_requests/{case.iid}",
        "state": "opened",
        "commits": commits,
    }
    if case.diffs:
        entry["diffs"] = [{"old_path": path, "new_path": path, "diff": diff} for path, diff in case.diffs]
    return entry, session_id


def gitlab_fixture(entries: list[tuple[MrCase, dict[str, Any]]]) -> dict[str, Any]:
    """The offline GitLab file; `missing` cases are left out on purpose."""
    projects: dict[str, Any] = {}
    for case, entry in entries:
        if case.kind == "missing":
            continue
        mrs = projects.setdefault(case.repo, {"merge_requests": {}})["merge_requests"]
        mrs[str(case.iid)] = entry
    return {"projects": {repo: projects[repo] for repo in sorted(projects)}}
