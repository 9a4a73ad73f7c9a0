"""Backtracking: contradicting operations on the same resource, and the legitimate look-alikes."""

from __future__ import annotations

import pytest

from monitors.audit.backtrack import find_backtracking, find_redone
from monitors.audit.operations import operation_of, resource_of
from tests.audit.helpers import seq

EDITOR = "str_replace_editor"

CASES = [
    # (id, calls, flagged steps)
    ("read after delete", seq(("rm", "notes.txt", ""), ("cat", "notes.txt", "No such file", True)), [2]),
    ("read after delete, paths differ in prefix", seq(
        ("delete_file", {"path": "/repo/a.py"}), ("read_file", {"path": "a.py"})), [2]),
    ("writing back the content an earlier write replaced", seq(
        ("write_file", {"path": "a.py", "content": "x = 1"}), ("write_file", {"path": "a.py", "content": "x = 2"}),
        ("write_file", {"path": "a.py", "content": "x = 1"})), [3]),
    ("undo_edit command", seq(
        (EDITOR, {"command": "str_replace", "path": "a.py", "old_str": "x", "new_str": "y"}),
        (EDITOR, {"command": "undo_edit", "path": "a.py"})), [2]),
    ("edit that swaps back the previous edit", seq(
        ("str_replace", {"path": "a.py", "old_str": "x = 1", "new_str": "x = 2"}),
        ("str_replace", {"path": "a.py", "old_str": "x = 2", "new_str": "x = 1"})), [2]),
    ("created then deleted at once", seq(("create", "tmp.py", ""), ("rm", "tmp.py", "")), [2]),
    ("SWE-agent edit acts on the open file, after deleting it", seq(
        ("open", "a.py", "1: x"), ("edit", "1:1\ny\nend_of_edit", "1: y"), ("rm", "a.py", ""),
        ("edit", "2:2\nz\nend_of_edit", "Error: no file open", True)), [4]),
    # legitimate
    # Reading a file right after writing it verifies the write: not undoing anything (docs/audit-rubric.md).
    ("re-read right after writing", seq(
        ("write_file", {"path": "a.py", "content": "x"}), ("read_file", {"path": "a.py"})), []),
    ("re-open right after a SWE-agent edit", seq(
        ("open", "a.py", "1: x"), ("edit", "1:1\ny\nend_of_edit", "1: y"), ("open", "a.py", "1: y")), []),
    ("a second write with new content", seq(
        ("write_file", {"path": "a.py", "content": "x = 1"}), ("write_file", {"path": "a.py", "content": "x = 2"}),
        ("write_file", {"path": "a.py", "content": "x = 3"})), []),
    ("list folder after a rename", seq(
        ("ls", {"path": "src"}), ("mv", {"src": "src/a.py", "dst": "src/b.py"}), ("ls", {"path": "src"})), []),
    ("read after a failed delete", seq(("rm", "a.py", "Permission denied", True), ("cat", "a.py")), []),
    ("read after write with a test run in between", seq(
        ("write_file", {"path": "a.py"}), ("python", "a.py"), ("read_file", {"path": "a.py"})), []),
    ("clean up a helper file at the end", seq(
        ("create", "reproduce.py"), ("edit", "1:1 print()"), ("python", "reproduce.py"), ("rm", "reproduce.py")),
        []),
    ("re-create after delete", seq(("rm", "a.py"), ("create", "a.py"), ("python", "a.py")), []),
    ("two different files", seq(("rm", "a.py"), ("cat", "b.py")), []),
    ("unknown tools are ignored", seq(("frobnicate", {"path": "a"}), ("frobnicate", {"path": "a"})), []),
]  # fmt: skip


@pytest.mark.parametrize(("calls", "flagged"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_backtracking(calls, flagged):
    assert [s for i in find_backtracking(calls) for s in i.steps] == flagged


def test_detail_names_the_earlier_step():
    (issue,) = find_backtracking(seq(("ls", {"path": "."}), ("rm", "a.py"), ("cat", "a.py")))
    assert issue.related == (2,)
    assert issue.detail == "cat a.py: used after deleting it (step 2)"


def test_configured_operation_map():
    calls = seq(("trash", {"file": "a"}), ("peek", {"file": "a"}))
    assert find_backtracking(calls) == []
    assert find_backtracking(calls, operations={"trash": "delete", "peek": "read"})[0].steps == (2,)


@pytest.mark.parametrize(
    ("name", "args", "op"),
    [
        ("read_file", {"path": "a"}, "read"),
        (EDITOR, {"command": "view", "path": "a"}, "read"),
        (EDITOR, {"command": "create", "path": "a"}, "create"),
        ("rm", "a", "delete"),
        ("get_reservation_details", {}, "read"),
        ("cancel_reservation", {}, "mutate"),
        ("Search", "x", "read"),
        ("frobnicate", {}, "other"),
    ],
)
def test_operation_of(name, args, op):
    assert operation_of(name, args) == op


@pytest.mark.parametrize(
    ("args", "resource"),
    [
        ({"path": "./src/a.py"}, "src/a.py"),
        ({"kwargs": {"file_path": "a"}, "args": []}, "a"),
        ('"/repo/x.py" 100', "/repo/x.py"),
        ("-la src", "src"),
        ({"query": "x"}, None),
        ("", None),
        (None, None),
    ],
)
def test_resource_of(args, resource):
    assert resource_of(args) == resource


BOOK = ("book_reservation", {"user_id": "mia_li_3668", "flights": ["HAT136", "HAT039"]}, '{"reservation_id": "HATHAU"}')
CANCEL = ("cancel_reservation", {"reservation_id": "HATHAU"}, "{}")
UPGRADE = ("update_reservation_flights", {"reservation_id": "XEHM4B", "cabin": "economy"}, "{}")

REDO_CASES = [
    # (id, calls, wasted steps): the undo and the redo
    ("book, cancel, book the same again", seq(BOOK, ("respond", {"content": "Done."}, "ok"), CANCEL, BOOK), [3, 4]),
    ("must not fire: upgrade then cancel, as the user asked", seq(
        UPGRADE, ("cancel_reservation", {"reservation_id": "XEHM4B"}, "{}")), []),
    ("must not fire: book again after a failed cancel", seq(BOOK, (*CANCEL[:2], "Error: not allowed", True), BOOK), []),
    ("must not fire: a different booking after the cancel", seq(
        BOOK, CANCEL, ("book_reservation", {"user_id": "mia_li_3668", "flights": ["HAT069"]}, "{}")), []),
]  # fmt: skip


@pytest.mark.parametrize(("calls", "wasted"), [c[1:] for c in REDO_CASES], ids=[c[0] for c in REDO_CASES])
def test_redone_after_undo(calls, wasted):
    assert sorted(s for i in find_redone(calls) for s in i.steps) == wasted
