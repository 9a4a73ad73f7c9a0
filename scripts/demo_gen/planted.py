"""The planted audit sessions: loops, repeats, a backtrack, an error storm, ignored plans, and legit look-alikes.

Each plant is a fixed tool-call list on a fixed day and hour; its session id is recorded in
`ctx.planted` so the README and the tests can name it. Two plants are legitimate patterns that an
audit must NOT flag (a retry after a transient error, re-listing a folder after a rename), and one is
a session that follows the same plan a divergent one ignores.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from demo_gen.base import Ctx, ToolCall, at
from demo_gen.sessions import SessionSpec, emit_session, plan_text

T = ToolCall
TEST_PLAN = ("read failing test", "fix assertion", "run tests")
PROR_TEST = {"command": "pytest tests/test_proration.py -q"}


def edit_call(path: str, i: int) -> ToolCall:
    return T("edit_file", {"path": path, "old": "round(", "new": f"round_half_even(  # attempt {i}"}, "applied 1 hunk")


def loop_tests(_: int) -> list[ToolCall]:
    # Stuck: the same edit, the same failure, a revert, and again (an exact 3-call cycle, 6 turns).
    calls = [
        T("read_file", {"path": "tests/test_proration.py"}, "88 lines"),
        T("read_file", {"path": "billing/proration.py"}, "214 lines"),
    ]
    revert = T("run_command", {"command": "git checkout -- billing/proration.py"}, "Updated 1 path from the index")
    for _ in range(6):
        calls += [
            edit_call("billing/proration.py", 0),
            T("run_tests", PROR_TEST, "1 failed, 41 passed: AssertionError: 10.01 != 10.00"),
            revert,
        ]
    return calls


def loop_build(_: int) -> list[ToolCall]:
    # Stuck: rebuild, re-read the same file, rebuild... without changing anything (2-call cycle, 7 turns).
    calls = [
        T(
            "get_pipeline_logs",
            {"project": "platform/web", "pipeline_id": 490210, "job": "build"},
            "job build failed: TS2345 in src/lib/api-client.ts",
        )
    ]
    for _ in range(7):
        calls += [
            T(
                "run_command",
                {"command": "npm run build"},
                "exit 2: src/lib/api-client.ts(88,14): error TS2345: Argument of type 'string | undefined'",
            ),
            T("read_file", {"path": "src/lib/api-client.ts"}, "212 lines"),
        ]
    return calls


def repeat_logs(_: int) -> list[ToolCall]:
    args = {"project": "platform/web", "pipeline_id": 481516, "job": "e2e"}
    calls = [T("get_pipeline_logs", args, "job e2e is still running; log not available yet") for _ in range(5)]
    return [*calls, T("read_file", {"path": "tests/e2e/checkout.spec.ts"}, "140 lines")]


def repeat_read(_: int) -> list[ToolCall]:
    read = T("read_file", {"path": "src/api/orders.py"}, "318 lines")
    return [
        T("list_dir", {"path": "src/api"}, "orders.py, users.py, export.py"),
        read,
        T("search_code", {"query": "def monthly_report"}, "1 match in src/api/orders.py"),
        read,
        read,
        read,
        T("edit_file", {"path": "src/api/orders.py", "old": "created >", "new": "created >="}, "applied 1 hunk"),
        T("run_tests", {"command": "pytest tests/test_orders.py -q"}, "23 passed in 2.10s"),
        T("git_commit", {"message": "fix(api): include the first day in the monthly report"}, "[agent] ok"),
    ]


def backtrack(_: int) -> list[ToolCall]:
    path = "src/lib/legacy-auth.ts"
    return [
        T("list_dir", {"path": "src/lib"}, "api-client.ts, dates.ts, legacy-auth.ts"),
        T("read_file", {"path": path}, "97 lines"),
        T("delete_file", {"path": path}, "deleted"),
        T("edit_file", {"path": "src/lib/api-client.ts", "old": "legacyAuth(", "new": "auth("}, "applied 1 hunk"),
        T("read_file", {"path": path}, "", error=f"ENOENT: no such file or directory, open '{path}'"),
        T("write_file", {"path": path, "content": "export function legacyAuth() {}"}, "written"),
        T("run_tests", {"command": "npx vitest run tests/unit/api-client.test.ts"}, "12 passed"),
        T("git_commit", {"message": "refactor(web): drop legacy auth"}, "[agent] ok"),
    ]


def error_storm(_: int) -> list[ToolCall]:
    bad = "502 Bad Gateway from gitlab.example.com"
    return [
        T(
            "get_pipeline_logs",
            {"project": "platform/api", "pipeline_id": 493377, "job": "unit-tests"},
            "job unit-tests failed: ImportError in tests/test_users.py",
        ),
        T("get_pipeline_logs", {"project": "platform/api", "pipeline_id": 493377, "job": "lint"}, "", error=bad),
        T("run_command", {"command": "git fetch origin"}, "", error="fatal: unable to access remote: 503"),
        T("run_command", {"command": "git fetch origin --depth 50"}, "", error="fatal: unable to access remote: 503"),
        T("run_tests", {"command": "pytest tests/test_users.py -q"}, "", error="runner unavailable: no executor"),
        T("get_pipeline_logs", {"project": "platform/api", "pipeline_id": 493377, "job": "build"}, "", error=bad),
        T(
            "create_merge_request",
            {
                "project": "platform/api",
                "source_branch": "agent/fix-imports",
                "target_branch": "main",
                "title": "Fix imports",
            },
            "",
            error=bad,
        ),
    ]


def plan_ignored_deps(_: int) -> list[ToolCall]:
    return [
        T("list_dir", {"path": "billing"}, "invoice.py, proration.py, currency.py, trials.py, vat.py"),
        T("run_command", {"command": "pip install -U pytest-xdist"}, "Successfully installed pytest-xdist-3.6.1"),
        T("write_file", {"path": "pyproject.toml", "content": "[tool.pytest.ini_options]\naddopts='-n 4'"}, "written"),
        T("run_command", {"command": "pip freeze > requirements.lock"}, "exit 0"),
        T("git_commit", {"message": "chore: run tests in parallel with pytest-xdist"}, "[agent] ok"),
    ]


def plan_ignored_docs(_: int) -> list[ToolCall]:
    # Planned a test-first bug fix; spent the session on docs and CI config instead.
    return [
        T("read_file", {"path": "README.md"}, "210 lines"),
        T("list_dir", {"path": "docs"}, "api.md, CHANGELOG.md, deploy.md"),
        T("read_file", {"path": "docs/deploy.md"}, "75 lines"),
        T("write_file", {"path": "docs/CHANGELOG.md", "content": "## Unreleased\n- docs"}, "written"),
        T("write_file", {"path": ".gitlab-ci.yml", "content": "include: templates/python.yml"}, "written"),
    ]


def plan_followed(_: int) -> list[ToolCall]:
    return [
        T("read_file", {"path": "tests/test_vat.py"}, "64 lines"),
        T(
            "edit_file",
            {"path": "tests/test_vat.py", "old": "== 19.0", "new": "== pytest.approx(19.0)"},
            "applied 1 hunk",
        ),
        T("run_tests", {"command": "pytest tests/test_vat.py -q"}, "9 passed in 0.41s"),
        T("git_commit", {"message": "test: compare VAT with approx"}, "[agent] ok"),
    ]


def retry_transient(_: int) -> list[ToolCall]:
    run = {"command": "pytest tests/test_webhooks.py -q"}
    return [
        T(
            "get_pipeline_logs",
            {"project": "platform/api", "pipeline_id": 488802, "job": "unit-tests"},
            "job unit-tests failed: KeyError in tests/test_webhooks.py",
        ),
        T("read_file", {"path": "src/api/webhooks.py"}, "176 lines"),
        T(
            "edit_file",
            {"path": "src/api/webhooks.py", "old": "payload['id']", "new": "payload.get('id')"},
            "applied 1 hunk",
        ),
        T("run_tests", run, "", error="runner lost connection to the executor (transient), retry"),
        T("run_tests", run, "31 passed in 3.02s"),
        T("git_commit", {"message": "fix(api): tolerate webhook payloads without id"}, "[agent] ok"),
    ]


def relist_after_rename(_: int) -> list[ToolCall]:
    folder = {"path": "src/components"}
    return [
        T("list_dir", folder, "Btn.tsx, DatePicker.tsx, Footer.tsx"),
        T("run_command", {"command": "git mv src/components/Btn.tsx src/components/Button.tsx"}, "exit 0"),
        T("list_dir", folder, "Button.tsx, DatePicker.tsx, Footer.tsx"),
        T("search_code", {"query": "from './Btn'"}, "1 match in src/pages/Settings.tsx"),
        T("edit_file", {"path": "src/pages/Settings.tsx", "old": "./Btn", "new": "./Button"}, "applied 1 hunk"),
        T("run_tests", {"command": "npx vitest run"}, "58 passed"),
        T("git_commit", {"message": "refactor(web): rename Btn to Button"}, "[agent] ok"),
    ]


# (name, what an audit should say, day, hour, agent, repo, objective, plan, calls)
Plant = tuple[str, str, date, int, str, str, str, tuple[str, ...] | None, Callable[[int], list[ToolCall]]]
PLANTS: tuple[Plant, ...] = (
    (
        "loop-tests",
        "loop",
        date(2026, 11, 16),
        10,
        "llm-fix",
        "platform/billing",
        "Fix the rounding error in test_proration",
        None,
        loop_tests,
    ),
    (
        "retry-transient",
        "ok",
        date(2026, 11, 16),
        15,
        "pipeline-medic",
        "platform/api",
        "Fix the failing unit-tests job of pipeline #488802",
        None,
        retry_transient,
    ),
    (
        "repeat-logs",
        "repeat",
        date(2026, 11, 17),
        9,
        "pipeline-medic",
        "platform/web",
        "Fix the failing e2e job of pipeline #481516",
        None,
        repeat_logs,
    ),
    (
        "plan-ignored-deps",
        "plan",
        date(2026, 11, 17),
        14,
        "llm-fix",
        "platform/billing",
        "Fix the failing assertion in tests/test_invoice.py",
        TEST_PLAN,
        plan_ignored_deps,
    ),
    (
        "plan-followed",
        "ok",
        date(2026, 11, 18),
        9,
        "llm-fix",
        "platform/billing",
        "Fix the failing assertion in tests/test_vat.py",
        TEST_PLAN,
        plan_followed,
    ),
    (
        "backtrack",
        "backtrack",
        date(2026, 11, 18),
        10,
        "issue-executor",
        "platform/web",
        "Remove the legacy auth helper (issue #1207)",
        None,
        backtrack,
    ),
    (
        "loop-build",
        "loop",
        date(2026, 11, 18),
        13,
        "pipeline-medic",
        "platform/web",
        "Fix the failing build job of pipeline #490210",
        None,
        loop_build,
    ),
    (
        "relist-after-rename",
        "ok",
        date(2026, 11, 19),
        11,
        "issue-executor",
        "platform/web",
        "Rename the Btn component to Button (issue #1215)",
        None,
        relist_after_rename,
    ),
    (
        "error-storm",
        "error_storm",
        date(2026, 11, 19),
        16,
        "pipeline-medic",
        "platform/api",
        "Fix the failing unit-tests job of pipeline #493377",
        None,
        error_storm,
    ),
    (
        "plan-ignored-docs",
        "plan",
        date(2026, 11, 20),
        10,
        "issue-executor",
        "platform/api",
        "Fix the date parsing bug in the orders API (issue #1221)",
        (
            "reproduce the bug with a unit test",
            "fix the date parsing in src/api/orders.py",
            "run the test suite",
            "commit the fix",
        ),
        plan_ignored_docs,
    ),
    (
        "repeat-read",
        "repeat",
        date(2026, 11, 20),
        15,
        "issue-executor",
        "platform/api",
        "Include the first day of the month in the monthly report",
        None,
        repeat_read,
    ),
)


def emit_plants(ctx: Ctx, day: date) -> None:
    for name, verdict, when, hour, agent, repo, objective, plan, make in PLANTS:
        if when != day:
            continue
        calls = make(0)
        meta = {"feature": agent, "objective": objective, "repo": repo}
        if plan:
            meta["plan"] = plan_text(plan)
        session_id = ctx.session_id(agent, day)
        start = at(day, hour, ctx.rng.randint(0, 40), ctx.rng.randint(0, 59))
        spec = SessionSpec(
            agent=agent, day=day, start=start, metadata=meta, session_id=session_id, traces=1 if len(calls) < 9 else 2
        )
        cost = emit_session(ctx, spec, calls, think=0.3)
        ctx.planted.append(
            {
                "name": name,
                "verdict": verdict,
                "session": session_id,
                "day": day.isoformat(),
                "agent": agent,
                "tool_calls": len(calls),
                "cost": round(cost, 4),
            }
        )
