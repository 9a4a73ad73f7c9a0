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
