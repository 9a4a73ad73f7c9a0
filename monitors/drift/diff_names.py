"""Names in a unified diff: what a change request's patch touches, adds, drops, and which tests it disables.

Names come from the diff two ways, as `git diff` itself shows them:
- hunk headers (`@@ -10,4 +10,6 @@ def prepare_body(self):`): the enclosing function or class of a
  change, i.e. a name the change touches;
- added and removed definition lines (`+def test_x(`, `-class Foo:`): names the change adds or drops.
A test is a definition in a test file named like one (`test_x`, `TestX`, `it("...")`, RSpec's and
minitest's `it "..." do`, `test "..." do`), or any definition under a test attribute (`@Test`,
`#[test]`, `[Fact]`), where test names follow no rule.

The diff is untrusted agent output: it is only sliced with regular expressions, never run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from monitors.drift.diff_paths import git_paths, new_path

_HUNK = re.compile(r"^@@ -\d+(?:,(?P<old>\d+))? \+\d+(?:,(?P<new>\d+))? @@ ?(?P<context>.*)$")
# Definitions in the languages agents mostly write: Python, JS/TS, Go, Rust, Ruby, and the classes of
# Java, Kotlin and C# (whose modifiers come first: `public final class Foo`).
_DEFINITION = re.compile(
    r"^\s*(?:export\s+)?(?:default\s+)?(?:pub(?:\(\w+\))?\s+)?"
    r"(?:(?:public|protected|private|internal|static|final|abstract|sealed|open|data|partial)\s+)*(?:async\s+)?"
    r"(?:def|class|function|func|fn|interface|struct|trait|enum|module)\s+"
    r"(?:\([^)]*\)\s*)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
)
# Methods of Java, Kotlin, C# and Scala, read only in their files: a return type (or `fun`) then the
# name and its parameters. Statements that look alike (`return foo(`, `new Foo(`) are left out.
_MEMBER_FILES = (".java", ".kt", ".kts", ".cs", ".scala", ".groovy")
_MEMBER = re.compile(
    r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*"
    r"(?:(?:public|protected|private|internal|static|final|abstract|synchronized|native|default|override|open"
    r"|suspend|async|virtual|sealed|inline)\s+)*"
    r"(?:fun\s+(?:<[^>]*>\s*)?|(?!(?:return|new|throw|else|case|await|yield|assert|if|while|for|switch|catch|do)\b)"
    r"[\w$.<>\[\]?,]+\s+)(?P<name>[A-Za-z_$][\w$]*)\s*\("
)
# JS/TS test blocks: it("does x", ...), test('y', ...), describe("z", ...), also skipped or focused
# (`it.skip(`, `xit(`): the same test, so turning `it(` into `it.skip(` removes no test.
_JS_TEST = re.compile(
    r"""^\s*[xf]?(?P<kind>it|test|describe)(?:\.(?:skip|only|todo|concurrent|failing))?\s*\(\s*"""
    r"""(?P<q>["'`])(?P<name>[^"'`]{1,120})(?P=q)"""
)
# RSpec and minitest blocks, in Ruby files only: it "does x" do, describe User do, xit "y" do, test "z" do.
# Disabled (`xit`) or focused (`fit`) they are the same test, as in JS.
_RUBY_TEST = re.compile(
    r"""^\s*(?:RSpec\.)?[xf]?(?P<kind>it|specify|describe|context|test)(?:\s*\(\s*|\s+)"""
    r"""(?:(?P<q>["'])(?P<name>[^"']{1,120})(?P=q)|(?P<const>[A-Z][\w:]*))"""
)
_RUBY_FILES = (".rb",)
# Attributes that make the next definition a test whatever its name (JUnit, Rust, xUnit/NUnit/MSTest).
_TEST_ATTRIBUTE = re.compile(
    r"^\s*(?:@(?:Test|ParameterizedTest|RepeatedTest|TestFactory|TestTemplate)\b|#\[(?:\w+::)*test\]"
    r"|\[(?:Fact|Theory|Test|TestCase|TestMethod)\b)"
)
_NO_SPACE = re.compile(r"\s+")
_SKIP_MARKERS = re.compile(
    r"@pytest\.mark\.(?:skip|skipif|xfail)\b|@unittest\.skip|\bpytest\.skip\(|\bself\.skipTest\("
    r"|\b(?:it|test|describe)\.skip\(|\bx(?:it|describe|test)\(|@Disabled\b|@Ignore\b|\b\w+\.Skip(?:f|Now)?\("
    r"|#\[ignore\b|\[(?:Fact|Theory)\([^)]*\bSkip\s*=|\[Ignore\b"
)
# Ruby (RSpec, minitest): `xit`/`xdescribe`/`xcontext`/`xspecify`, a `skip` or `pending` call (bare, with a
# reason, or `skip if ...`), and `skip:`/`pending:` metadata on an example. Read in Ruby files only.
_RUBY_SKIP_MARKERS = re.compile(
    r"^\s*(?:x(?:it|specify|describe|context)\b|(?:skip|pending)\b(?!\s*[=.:?!])|.*,\s*(?:skip|pending):\s)"
)
# Rust tests live beside the code they test (`mod tests` in src/lib.rs): a skip there counts too.
_TESTS_BESIDE_CODE = (".rs",)
_TEST_PATH = (
    "test_*.py",
    "*_test.py",
    "tests/*",
    "*/tests/*",
    "test/*",
    "*/test/*",
    "spec/*",
    "*/spec/*",
    "testing/*",
    "*/testsuite/*",
    "*__tests__/*",
    "*.Tests/*",
    "*.test.[jt]s",
    "*.test.[jt]sx",
    "*.test.[cm]js",
    "*.spec.[jt]s",
    "*.spec.[jt]sx",
    "*.spec.[cm]js",
    "*.e2e-spec.ts",
    "*_test.go",
    "*Test.java",
    "*Tests.java",
    "*Test.kt",
    "*Tests.kt",
    "*Test.cs",
    "*Tests.cs",
    "*Test.php",
    "*Tests.swift",
    "*_spec.rb",
    "*_test.rb",
    "conftest.py",
    "*/conftest.py",
)


def is_test_path(path: str) -> bool:
    """A path that holds tests by the usual conventions of Python, JS/TS, Go, JVM, .NET, PHP and Ruby."""
    return path_matches(path, _TEST_PATH)


def path_matches(path: str, patterns: Iterable[str]) -> bool:
    """Whether the path, or its file name alone, matches one of the glob patterns."""
    name = path.rsplit("/", 1)[-1]
    return any(fnmatchcase(path, p) or fnmatchcase(name, p) for p in patterns)


_BLOCK_KINDS = ("it: ", "test: ", "describe: ", "context: ", "specify: ")  # JS/TS and Ruby test blocks


def is_test_name(name: str) -> bool:
    return name.startswith(("test_", "Test", "test")) or name.endswith(("_test", "Test", "Tests"))


def is_skip_marker(code: str, path: str) -> bool:
    """A line that skips or disables a test (`@pytest.mark.skip`, `it.skip(`, `xit "..." do`, `skip`)."""
    if _SKIP_MARKERS.search(code):
        return True
    return path.endswith(_RUBY_FILES) and _RUBY_SKIP_MARKERS.match(code) is not None


@dataclass
class DiffNames:
    touched: dict[str, None] = field(default_factory=dict)  # ordered sets
    added: dict[str, None] = field(default_factory=dict)
    removed: dict[str, None] = field(default_factory=dict)
    removed_tests: dict[str, None] = field(default_factory=dict)
    removed_code: set[str] = field(default_factory=set)  # definitions removed from non-test files
    added_tests: set[str] = field(default_factory=set)
    skips_added: dict[str, None] = field(default_factory=dict)
    # Per file, the removed and the added text with all whitespace dropped: equal means reformatting.
    removed_text: dict[str, list[str]] = field(default_factory=dict)
    added_text: dict[str, list[str]] = field(default_factory=dict)
    # "path::name" of a definition with the skip markers the diff puts on it; those of existing code
    # (marked_existing), or of a test removed from the same file and added back (disabled in place),
    # are skips, unless the test carried a skip before the change (skipped_before).
    marked: dict[str, dict[str, None]] = field(default_factory=dict)
    marked_existing: set[str] = field(default_factory=set)
    skipped_before: set[str] = field(default_factory=set)
    # (path, added): a test attribute seen on that side, waiting for the definition it marks.
    test_attribute: set[tuple[str, bool]] = field(default_factory=set)

    def format_only(self, paths: Iterable[str]) -> bool:
        """Some lines changed, and in every file only whitespace or line breaks did, `paths` among them: a
        changed file with no changed lines (binary, renamed, mode changed) changed more than formatting."""
        changed = self.removed_text.keys() | self.added_text.keys()
        return (
            bool(changed)
            and all(p in changed for p in paths)
            and all("".join(self.removed_text.get(p, [])) == "".join(self.added_text.get(p, [])) for p in changed)
        )


def diff_names(patches: Iterable[tuple[str, str]]) -> DiffNames:
    """Names from (path, unified diff) pairs; a whole `git diff` may come as one ("", text) pair."""
    out = DiffNames()
    for start_path, patch in patches:
        walker = _SkipWalker(out, start_path)
        # Lines of the current hunk still to come, as its header counts them: until they are read, a
        # line `+++ x` or `--- x` is an added `++ x` or a removed `-- x` (an SQL comment), not a header.
        old_left = new_left = 0
        for line in patch.splitlines():
            in_hunk = old_left > 0 or new_left > 0
            if line.startswith("diff --git "):  # never a hunk line: those start with +, - or a space
                old_left = new_left = 0
                if paths := git_paths(line):
                    walker = _SkipWalker(out, paths[1])
            elif not in_hunk and line.startswith("+++ "):
                if path := new_path(line):
                    walker.path = path
            elif not in_hunk and line.startswith("--- "):
                continue
            elif m := _HUNK.match(line):
                old_left, new_left = int(m["old"] or 1), int(m["new"] or 1)
                name = definition(m["context"], walker.path)
                walker.enter(name, added=False)
                if name:
                    out.touched.setdefault(name)
            elif line.startswith(("+", "-")):
                if line[0] == "+":
                    new_left -= 1
                else:
                    old_left -= 1
                _added_or_removed(out, walker.path, line[0] == "+", line[1:])
                if line[0] == "+":
                    walker.line(line[1:], added=True)
                else:
                    walker.removed(line[1:])
            elif line.startswith(" ") or (in_hunk and not line):  # some tools strip a blank context line
                old_left, new_left = old_left - 1, new_left - 1
                walker.line(line[1:], added=False)
    for test, markers in out.marked.items():
        existed = test in out.marked_existing or test in out.removed_tests
        if existed and test not in out.skipped_before:
            out.skips_added.update(markers)
    return out


class _SkipWalker:
    """Finds skip markers added to tests that already existed (a skip on a brand-new test is a choice).

    A marker decorator is held until the next definition, and a skip call in a body belongs to the
    enclosing definition. Markers on existing code (a context line, the hunk's enclosing function) are
    skips. Markers on a definition the diff adds (`+@pytest.mark.skip` over a rewritten `+def test_x(...)`,
    `it(` turned into `it.skip(` or `xit "..." do`, a `skip` in the new body) are held for that test:
    once the whole diff is read, they count when the same test was removed from the same file, since
    the test then existed and is now disabled, not rewritten. Either way, a test whose removed side
    already carried a skip (`-@pytest.mark.skip` made a conditional `pytest.skip`) was skipped before:
    its skip changed, nothing was disabled.
    """

    def __init__(self, out: DiffNames, path: str) -> None:
        self.out, self.path = out, path
        self.current_added: bool | None = None  # the enclosing definition, None when unknown
        self.current = ""  # "path::name" of the enclosing definition
        self.pending: list[str] = []
        self.removed_current = ""  # "path::name" of the definition whose lines are being removed
        self.removed_marker = False  # a marker decorator removed, its definition not yet seen

    def enter(self, name: str | None, *, added: bool) -> None:
        if name is None:
            return
        self.current_added, self.current = added, f"{self.path}::{name}"
        if self.removed_marker and not added:  # removed from above a definition that stays
            self.out.skipped_before.add(self.current)
        self.removed_marker, self.removed_current = False, ""
        for marker in self.pending:
            self._found(marker)
        self.pending = []

    def line(self, code: str, *, added: bool) -> None:
        marker = added and self._marks(code)
        stripped = code.strip()[:80]
        name = definition(code, self.path)
        if name is not None:
            self.enter(name, added=added)
            if marker:
                self._found(stripped)
        elif marker and stripped.startswith(("@", "#[", "[")):
            self.pending.append(stripped)
        elif marker and self.current_added is not None:
            self._found(stripped)

    def removed(self, code: str) -> None:
        """A removed line: notes the tests that carried a skip before this change."""
        marker = self._marks(code)
        if (name := definition(code, self.path)) is not None:
            self.removed_current = f"{self.path}::{name}"
            if marker or self.removed_marker:
                self.out.skipped_before.add(self.removed_current)
            self.removed_marker = False
        elif marker and code.strip().startswith(("@", "#[", "[")):
            self.removed_marker = True
        elif marker and (self.removed_current or self.current):
            self.out.skipped_before.add(self.removed_current or self.current)

    def _marks(self, code: str) -> bool:
        # A commented-out marker disables nothing.
        return is_skip_marker(code, self.path) and self._holds_tests() and not code.lstrip().startswith(("# ", "// "))

    def _found(self, marker: str) -> None:
        """A marker on the enclosing definition, kept for it until the whole diff is read."""
        self.out.marked.setdefault(self.current, {}).setdefault(f"{self.path}: {marker}")
        if not self.current_added:
            self.out.marked_existing.add(self.current)

    def _holds_tests(self) -> bool:
        return is_test_path(self.path) or self.path.endswith(_TESTS_BESIDE_CODE)


def definition(code: str, path: str = "") -> str | None:
    """The name a line of code defines (a JS/TS or Ruby test block as "it: name"), or None."""
    if path.endswith(_RUBY_FILES) and (m := _RUBY_TEST.match(code)):
        return f"{m['kind']}: {(m['name'] or m['const']).strip()}"
    if m := _DEFINITION.match(code):
        return m["name"]
    if m := _JS_TEST.match(code):
        return f"{m['kind']}: {m['name'].strip()}"
    if path.endswith(_MEMBER_FILES) and (m := _MEMBER.match(code)):
        return m["name"]
    return None


def _added_or_removed(out: DiffNames, path: str, added: bool, code: str) -> None:
    (out.added_text if added else out.removed_text).setdefault(path, []).append(_NO_SPACE.sub("", code))
    if _TEST_ATTRIBUTE.match(code):
        out.test_attribute.add((path, added))
    name = definition(code, path)
    if name is None:
        return
    marked = (path, added) in out.test_attribute
    out.test_attribute.discard((path, added))
    named_like_a_test = is_test_name(name) or name.startswith(_BLOCK_KINDS)
    is_test = marked or (is_test_path(path) and named_like_a_test)
    if added:
        out.added.setdefault(name)
        if is_test:
            out.added_tests.add(name)
    else:
        out.removed.setdefault(name)
        if is_test:
            out.removed_tests.setdefault(f"{path}::{name}")
        elif not is_test_path(path):
            out.removed_code.add(name)
