"""Paths in `git diff` headers with spaces (written bare, a tab after `---`/`+++` paths) and non-ASCII
bytes (written in C-style quotes), as git 2.x writes them."""

from __future__ import annotations

from monitors.drift.diff_names import diff_names
from monitors.drift.diff_paths import git_paths, new_path

# `git diff` of a repository with a folder and a file named with spaces and one with an accent.
GIT_DIFF = (
    'diff --git "a/caf\\303\\251.txt" "b/caf\\303\\251.txt"\n'
    "index 49fd79f..d08dee7 100644\n"
    '--- "a/caf\\303\\251.txt"\n'
    '+++ "b/caf\\303\\251.txt"\n'
    "@@ -1 +1 @@\n"
    "-un\n"
    "+ un\n"
    "diff --git a/my file.txt b/my file.txt\n"
    "index ce01362..3b18e51 100644\n"
    "--- a/my file.txt\t\n"
    "+++ b/my file.txt\t\n"
    "@@ -1 +1 @@\n"
    "-hello\n"
    "+hello world\n"
    "diff --git a/tests/unit cases/test_parser.py b/tests/unit cases/test_parser.py\n"
    "index 88c72e2..478b18a 100644\n"
    "--- a/tests/unit cases/test_parser.py\t\n"
    "+++ b/tests/unit cases/test_parser.py\t\n"
    "@@ -1,6 +1,2 @@\n"
    " def test_parse_nested():\n"
    "     assert 1\n"
    "-\n"
    "-\n"
    "-def test_parse_unicode():\n"
    "-    assert 2\n"
)


def test_a_whole_git_diff_names_each_file_by_its_real_path() -> None:
    names = diff_names([("", GIT_DIFF)])
    assert list(names.removed_tests) == ["tests/unit cases/test_parser.py::test_parse_unicode"]
    assert sorted({*names.added_text, *names.removed_text}) == [
        "café.txt",
        "my file.txt",
        "tests/unit cases/test_parser.py",
    ]


def test_a_reformatting_of_files_with_spaces_and_accents_is_seen_as_one() -> None:
    reformatted = GIT_DIFF.split("diff --git a/tests")[0].replace("+hello world", "+hello ")
    assert diff_names([("", reformatted)]).format_only(["café.txt", "my file.txt"])  # the forge's file list


def test_header_forms() -> None:
    assert git_paths("diff --git a/my file.txt b/my file.txt") == ("my file.txt", "my file.txt")
    assert git_paths("diff --git a/a b/c.txt b/a b/c.txt") == ("a b/c.txt", "a b/c.txt")  # halves agree
    assert git_paths("diff --git a/old name.txt b/new name.txt") == ("old name.txt", "new name.txt")  # renamed
    renamed = 'diff --git a/my file.txt "b/notes \\303\\251t\\303\\251.txt"'
    assert git_paths(renamed) == ("my file.txt", "notes été.txt")
    assert git_paths('diff --git "a/tab\\there" "b/say \\"hi\\"\\\\"') == ("tab\there", 'say "hi"\\')
    assert git_paths('diff --git "a/unterminated b/x') is None
    assert git_paths("diff --git x y") is None  # no a/ b/ prefixes (--no-prefix): not read
    assert new_path("+++ b/my file.txt\t") == "my file.txt"
    assert new_path("+++ b/src/app.py\t2024-01-01 10:00:00.000000000 +0000") == "src/app.py"  # GNU diff
    assert new_path('+++ "b/caf\\303\\251.txt"') == "café.txt"
    assert new_path("+++ /dev/null") is None
    assert new_path('+++ "b/bad\\q"') is None


# A migration whose removed SQL comment reads `-- drop old index` and a Markdown file whose added line
# is `++ counter` (diff lines `--- drop old index` and `+++ counter`), then a test removed further on.
HEADER_LOOKALIKES = (
    "diff --git a/db/migrate.sql b/db/migrate.sql\n"
    "--- a/db/migrate.sql\n"
    "+++ b/db/migrate.sql\n"
    "@@ -1,3 +1,2 @@\n"
    "--- drop old index\n"
    "-DROP INDEX users_email;\n"
    "+CREATE INDEX users_email_lower ON users (lower(email));\n"
    "diff --git a/notes.md b/notes.md\n"
    "--- a/notes.md\n"
    "+++ b/notes.md\n"
    "@@ -1,2 +1,3 @@\n"
    " C++ idioms:\n"
    "+++ counter\n"
    "\n"
    "diff --git a/tests/test_users.py b/tests/test_users.py\n"
    "--- a/tests/test_users.py\n"
    "+++ b/tests/test_users.py\n"
    "@@ -1,2 +0,0 @@\n"
    "-def test_email_lookup():\n"
    "-    assert True\n"
)


def test_lines_that_look_like_file_headers_inside_a_hunk_are_content() -> None:
    names = diff_names([("", HEADER_LOOKALIKES)])
    assert names.removed_text["db/migrate.sql"][0] == "--dropoldindex"
    assert names.added_text["notes.md"] == ["++counter"]
    assert "counter" not in names.added_text  # not taken for a file called `counter`
    assert list(names.removed_tests) == ["tests/test_users.py::test_email_lookup"]
