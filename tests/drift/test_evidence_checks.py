"""Evidence from real-shaped diffs, and the explicit checks that read it."""

from __future__ import annotations

import pytest

from monitors.contracts.forge import ChangeEvidence, ChangeTotals, FileStat
from monitors.drift.checks import in_scope, parse_scope, run_checks
from monitors.drift.diff_names import is_test_path
from monitors.drift.evidence import build_evidence, merge_evidence, removes_a_feature, summary_text
from tests.drift.diffs import (
    ADD_ONE_DELETE_THREE,
    BUMP_AND_REFACTOR,
    REFORMAT_ONLY,
    REMOVE_HELPER_AND_ITS_TEST,
    REMOVE_HELPER_AND_OTHER_TESTS,
    RENAME_TESTS,
    SKIP_EXISTING_AND_NEW,
)


def evidence(patch: str, files: list[FileStat], commits: tuple[str, ...] = ("Work",)) -> ChangeEvidence:
    return build_evidence(list(commits), files, [("", patch)], head_sha="abc")


def modified(path: str, add: int, delete: int) -> FileStat:
    return FileStat(path, "modified", add, delete)


def test_adding_one_test_and_deleting_three_reports_the_three_by_name() -> None:
    ev = evidence(ADD_ONE_DELETE_THREE, [modified("tests/test_parser.py", 3, 10)], ("Add a test for empty input",))
    assert ev.added_names == ("test_parse_handles_empty_input",)
    assert ev.removed_tests == (
        "tests/test_parser.py::test_parse_nested",
        "tests/test_parser.py::test_parse_unicode",
        "tests/test_parser.py::test_parse_errors",
    )
    (check,) = run_checks("Add a test for empty input to the parser", ev, files_known=True)
    assert check.name == "tests_removed"
    assert check.reason.startswith("3 test(s) removed (tests/test_parser.py::test_parse_nested, ")
    # Asked for it: no check.
    assert run_checks("Remove the obsolete parser tests", ev, files_known=True) == []


@pytest.mark.parametrize(
    ("patch", "removed", "fires"),
    [
        # The helper and the test named after it go together: a feature removed, not coverage lost.
        (REMOVE_HELPER_AND_ITS_TEST, (), False),
        # The helper goes, and so do tests about something else: still reported.
        (
            REMOVE_HELPER_AND_OTHER_TESTS,
            (
                "testing/test_terminal.py::test_report_collect_errors",
                "testing/test_terminal.py::test_summary_counts_warnings",
            ),
            True,
        ),
        # The article's "add a test" that deleted three: no code removed with them, still reported.
        (ADD_ONE_DELETE_THREE, ("tests/test_parser.py::test_parse_nested",), True),
    ],
)
def test_tests_removed_with_the_code_they_test_are_not_a_loss(
    patch: str, removed: tuple[str, ...], fires: bool
) -> None:
    ev = evidence(patch, [modified("src/_pytest/python.py", 1, 2), modified("testing/python/collect.py", 0, 9)])
    assert ev.removed_tests[: len(removed)] == removed
    checks = run_checks("python: small optimization in PyCollector.collect()", ev, files_known=True)
    assert [c.name for c in checks] == (["tests_removed"] if fires else [])


@pytest.mark.parametrize(
    ("tests", "code", "expected"),
    [
        (["t.py::test_cwd_snapshot"], ["CwdSnapshot", "__init__", "restore"], True),  # CamelCase pieces meet
        (["t.py::test_init_order"], ["__init__"], False),  # dunders and generic pieces tie nothing
        (
            ["a.py::test_preserve_once", "a.py::test_preserve_error", "b.py::test_client_teardown"],
            ["preserve_ctx"],
            True,
        ),
        (["a.py::test_preserve_once", "b.py::test_client_teardown"], ["preserve_ctx"], False),  # half is not most
        ([], ["anything"], False),
    ],
)
def test_removes_a_feature_needs_most_removed_tests_named_after_removed_code(
    tests: list[str], code: list[str], expected: bool
) -> None:
    assert removes_a_feature(tests, code) is expected


def test_skip_on_an_existing_test_counts_but_a_new_skipped_test_does_not() -> None:
    ev = evidence(SKIP_EXISTING_AND_NEW, [modified("tests/test_client.py", 6, 0)])
    assert ev.skips_added == ('tests/test_client.py: @pytest.mark.skip(reason="flaky")',)
    assert [c.name for c in run_checks("Speed up the client", ev, files_known=True)] == ["tests_removed"]


def test_renamed_tests_are_not_a_loss() -> None:
    ev = evidence(RENAME_TESTS, [modified("tests/unit/test_types.py", 4, 4)])
    assert ev.removed_tests == ()
    assert "test_csv_string_attribute_input" in ev.added_names


def test_deleted_test_file_counts_without_a_patch() -> None:
    ev = build_evidence(["Clean up"], [FileStat("tests/test_old.py", "deleted", 0, 120)])
    assert ev.removed_tests == ("tests/test_old.py (file deleted)",)


def test_too_large_against_the_agents_usual_size() -> None:
    ev = evidence("", [modified("src/app.py", 700, 200)])
    usual = [40, 60, 55, 80, 35, 50]
    (check,) = run_checks("Fix the login redirect", ev, files_known=True, usual_churn=usual)
    assert check.name == "too_large"
    assert check.reason.startswith("900 lines changed, 17.1x this agent's usual 52.5 (median of its last 6")
    # Too little history, or a small change, or an agent that always writes big changes: nothing.
    assert run_checks("Fix", ev, files_known=True, usual_churn=usual[:4]) == []
    assert run_checks("Fix", ev, files_known=True, usual_churn=[800, 950, 700, 1200, 900]) == []
    small = evidence("", [modified("src/app.py", 150, 20)])
    assert run_checks("Fix", small, files_known=True, usual_churn=[10] * 10) == []


def test_too_large_on_a_partial_line_count_says_at_least() -> None:
    # GitLab sends no line totals: the +/- of the diffs read is a lower bound, and the reason says so
    # (a lower bound past the limit is past it); the flag survives the change cache's JSON.
    ev = build_evidence(["Work"], [modified("src/app.py", 700, 200)], totals=ChangeTotals(lines_at_least=True))
    (check,) = run_checks("Fix the login redirect", ev, files_known=True, usual_churn=[40, 60, 55, 80, 35, 50])
    assert check.reason.startswith("at least 900 lines changed, 17.1x this agent's usual 52.5 (")
    assert ChangeEvidence.from_json(ev.to_json()) == ev and ev.lines_at_least and not ev.files_at_least


def test_files_outside_the_scope() -> None:
    files = [
        modified("src/auth/login.py", 10, 2),
        modified("src/billing/export.py", 40, 3),
        modified("README.md", 1, 0),
    ]
    ev = evidence("", files)
    scope = parse_scope("src/auth/, *.md")
    assert scope == ("src/auth/", "*.md")
    (check,) = run_checks("Fix login", ev, files_known=True, scope=scope)
    assert check.name == "outside_scope"
    assert check.reason == "1 of 3 files outside scope (src/auth/, *.md): src/billing/export.py"
    assert in_scope("src/auth/deep/x.py", ["src/auth"]) and not in_scope("src/authx/y.py", ["src/auth"])
    assert parse_scope(["a/**", " ", 3]) == ("a/**", "3")
    assert parse_scope('["src/auth/", "docs/*.md"]') == ("src/auth/", "docs/*.md")  # a list sent as JSON text


@pytest.mark.parametrize("written", ["./src/auth/", "/src/auth", "./src/**/*.py", "././src/auth", "./"])
def test_a_scope_written_from_the_repository_root_matches(written: str) -> None:
    # Forges send paths without "./" or "/"; a scope written as one would otherwise put every file
    # outside it (from the trace's metadata, or from the repository's config, which parse_scope skips).
    ev = evidence("", [modified("src/auth/login.py", 10, 2)])
    assert run_checks("Fix login", ev, files_known=True, scope=(written,)) == []
    assert run_checks("Fix login", ev, files_known=True, scope=parse_scope(written)) == []


@pytest.mark.parametrize(
    "written",
    ["src\\auth\\", ".\\src\\auth", "\\src\\auth", "src\\auth\\**", ".\\src\\auth\\**\\*.py", "src\\auth\\*.py"],
)
def test_a_scope_written_with_windows_separators_matches_the_forges_paths(written: str) -> None:
    # An agent on Windows writes its scope with backslashes; forges write every path with "/".
    inside, outside = modified("src/auth/login.py", 10, 2), modified("src/billing/export.py", 3, 1)
    assert run_checks("Fix login", evidence("", [inside]), files_known=True, scope=parse_scope(written)) == []
    (check,) = run_checks("Fix login", evidence("", [inside, outside]), files_known=True, scope=parse_scope(written))
    assert check.name == "outside_scope" and "src/billing/export.py" in check.reason
    assert "src/auth/login.py" not in check.reason


def test_nothing_done() -> None:
    assert (
        run_checks("Add retries", evidence("", []), files_known=True)[0].reason == "the change request changes no files"
    )
    locks = evidence("", [modified("poetry.lock", 30, 30), modified("web/package-lock.json", 5, 5)])
    assert run_checks("Add retries to the client", locks, files_known=True)[0].name == "nothing_done"
    assert run_checks("Bump urllib3", locks, files_known=True) == []  # a dependency task may touch only locks
    fmt = evidence(REFORMAT_ONLY, [modified("src/app/api.py", 4, 1)])
    assert fmt.format_only
    assert run_checks("Add retries to the client", fmt, files_known=True)[0].reason.startswith("only whitespace")
    assert run_checks("Reformat with black", fmt, files_known=True) == []
    # A source that read no changes (offline fixture) runs no check at all.
    assert run_checks("Add retries", evidence("", []), files_known=False) == []


def test_bump_that_refactored_the_module_summarises_the_refactor() -> None:
    files = [modified("requirements.txt", 1, 1), modified("src/http/session.py", 9, 3)]
    ev = evidence(BUMP_AND_REFACTOR, files, ("Bump urllib3 to 2.2.1",))
    assert ev.added_names == ("PooledSession", "__init__", "send_request", "ConnectionCache", "evict_idle")
    assert ev.removed_names == ("Session", "send")
    text = summary_text(ev)
    # The one commit is the final one, scored on its own: the summary is the paths and the names.
    assert text == "src http session py; requirements txt\nPooled Session; init; send request; Connection Cache"
    assert not ev.format_only


def test_summary_leaves_out_the_final_subject_and_keeps_a_text_without_anything_else() -> None:
    commits = ("Add retry policy", "test: cover retries\n\nbody", "Fix typo", "Add retries to the client")
    ev = build_evidence(commits, [modified("src/http/retry.py", 40, 2)])
    assert summary_text(ev) == "Add retry policy; test: cover retries; Fix typo\nsrc http retry py"
    # The final subject repeated earlier is left out there too; the three newest others stay, "Old work" not.
    again = build_evidence(("Old work", *commits, "Add retries to the client"), [])
    assert summary_text(again) == "Add retry policy; test: cover retries; Fix typo"
    # Nothing but the final commit (an offline source, no files read): its subject, not an empty text.
    assert summary_text(build_evidence(["Add retries\n\nWith backoff."], [])) == "Add retries"


def test_evidence_is_bounded_and_survives_json() -> None:
    files = [modified(f"src/m{i}.py", i, 0) for i in range(120)]
    ev = build_evidence([f"commit {i}" for i in range(80)], files)
    assert (ev.file_count, len(ev.files), ev.files[0].path) == (120, 50, "src/m119.py")
    assert (ev.commit_count, len(ev.commits), ev.commits[-1]) == (80, 30, "commit 79")
    assert ev.additions == sum(range(120))
    assert ChangeEvidence.from_json(ev.to_json()) == ev


def test_merge_keeps_the_later_final_commit_and_all_files() -> None:
    a = build_evidence(["Fix login"], [modified("src/auth.py", 5, 1)])
    b = build_evidence(["Rewrite billing"], [modified("src/billing.py", 50, 10)])
    merged = merge_evidence(a, b)
    assert merged.final_commit == "Rewrite billing" and merged.commits == ("Fix login", "Rewrite billing")
    assert [f.path for f in merged.files] == ["src/billing.py", "src/auth.py"] and merged.additions == 55


def test_test_paths() -> None:
    for path in ("tests/test_a.py", "pkg/tests/helpers.py", "src/a_test.go", "web/x.spec.ts", "conftest.py"):
        assert is_test_path(path), path
    for path in ("src/testament.py", "docs/testing.rst", "src/contest.py"):
        assert not is_test_path(path), path
