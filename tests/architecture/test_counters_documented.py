"""Every number a run's summary line can print is explained in docs/counters.md, and nothing more.

Names are collected from the code, not listed here:
- every `ctx.count(NAME, ...)` under monitors/: a literal NAME, or a module-level string constant
  (cost's NEGATIVE_COST) resolved in its module;
- `ctx.count(f"...")`: each placeholder is expanded with the values the code gives it (EXPANSIONS:
  the forges, audit's checks, cost's deferred steps); a placeholder the test cannot expand, or a NAME
  that is neither a literal, a constant nor an f-string, fails the test rather than being skipped;
- keys set as `<anything>.counters["name"] = ...` (the pipeline's own counters, the demo's `runs`);
- the keys the real `RunSummary.line()`, `ReportRun.line()` and alertmanager `SyncResult.line()` print
  with every field set, and the keys of the real `WriteBack.counters()` with every count set.

The doc side is the first cell of every table whose header begins `| counter |`; the report's and the
alertmanager's lines are their own, so their keys are looked up only under the doc's `## report` and
`## Alertmanager` headings, and a run's only under the others. A name documented as a
template (`audit.findings.<check>`) covers a concrete name only if the row also names the value
(`loop`) in backticks. The check runs both ways: a counter the code emits and the doc lacks, and a row
for a counter the code no longer emits, both fail.

Not seen: a count through a receiver not called `ctx` (`context.count(...)`), and keys copied in from
another mapping (`counters.update(...)`) other than WriteBack's.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from monitors.audit.config import CHECKS
from monitors.drift.forges import FORGE_NAMES
from monitors.engine.pipeline import RunSummary
from monitors.engine.score_writes import WriteBack
from monitors.metrics.alert_sync import SyncResult
from monitors.report.run import ReportRun

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "monitors"
DOC = ROOT / "docs" / "counters.md"
# Keys of the summary lines that are not numbers; docs/counters.md names them in its text, not its tables.
NOT_COUNTERS = {"monitor", "status", "window", "dry_run", "error", "week", "html", "markdown", "channel"}
NOT_COUNTERS |= {"langfuse_error"}
_KEY = re.compile(r"(?:^| )([a-z_.]+)(?:\[[^\]]*\])?=")
_PLACEHOLDER = re.compile(r"<(\w+)>")


def _skipped_steps() -> list[str]:
    """The values cost's `skipped_for_budget` list is given (`cost.{what}_deferred_for_metrics_budget`)."""
    tree = ast.parse((PACKAGE / "cost" / "sync.py").read_text(encoding="utf-8"))
    return [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "append"
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "skipped_for_budget"
        and isinstance(node.args[0], ast.Constant)
    ]


# f-string placeholder (as written in the code) -> the values it takes, read from the code.
EXPANSIONS: dict[str, list[str]] = {
    "forge": list(FORGE_NAMES),
    "check": list(CHECKS),
    "what": _skipped_steps(),
}


@dataclass
class Emitted:
    names: dict[str, set[str]]  # by line: "run", "report", "alertmanager"
    unresolved: list[str]  # file:line of a name the test cannot work out


def _constants(tree: ast.Module) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _is_ctx(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "ctx") or (isinstance(node, ast.Attribute) and node.attr == "ctx")


def _expand(name: ast.JoinedStr) -> list[str] | None:
    names = [""]
    for part in name.values:
        if isinstance(part, ast.Constant):
            names = [n + str(part.value) for n in names]
            continue
        values = EXPANSIONS.get(ast.unparse(part.value)) if isinstance(part, ast.FormattedValue) else None
        if not values:
            return None
        names = [n + v for n in names for v in values]
    return names


def _names_in(path: Path) -> tuple[set[str], list[str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = _constants(tree)
    names: set[str] = set()
    unresolved: list[str] = []
    where = f"{path.relative_to(ROOT)}:"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "count":
            if not _is_ctx(node.func.value) or not node.args:
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.add(arg.value)
            elif isinstance(arg, ast.Name) and arg.id in constants:
                names.add(constants[arg.id])
            elif isinstance(arg, ast.JoinedStr) and (expanded := _expand(arg)):
                names.update(expanded)
            else:
                unresolved.append(f"{where}{node.lineno}: {ast.unparse(arg)}")
        targets = node.targets if isinstance(node, ast.Assign) else []
        for target in targets:
            if (
                isinstance(target, ast.Subscript)
                and isinstance(target.value, ast.Attribute)
                and target.value.attr == "counters"
                and isinstance(target.slice, ast.Constant)
            ):
                names.add(str(target.slice.value))
    return names, unresolved


def _line_keys(line: str) -> set[str]:
    return set(_KEY.findall(line)) - NOT_COUNTERS


def _printed_keys() -> dict[str, set[str]]:
    run = RunSummary("cost", records=1, malformed=1, dry_run=True, error="e").line()
    report = ReportRun(
        "2026-W47",
        channels=["a"],
        already_sent=["b"],
        errors={"a": "e"},
        langfuse_errors=["e"],
        markdown="m",
        html="h",
        dry_run=True,
    ).line()
    synced = SyncResult("am", 1, False, "e").line()
    return {"run": _line_keys(run), "report": _line_keys(report), "alertmanager": _line_keys(synced)}


def emitted() -> Emitted:
    names, unresolved = set(), []
    for path in sorted(PACKAGE.rglob("*.py")):
        found, missed = _names_in(path)
        names |= found
        unresolved += missed
    printed = _printed_keys()
    names |= printed["run"] | set(WriteBack(written=1, unchanged=1, rejected=1, pending=1, not_written=1).counters())
    return Emitted({**printed, "run": names}, unresolved)


@dataclass
class Row:
    line: str  # the summary line it explains: "run", "report" or "alertmanager"
    names: list[str]
    text: str


def _line_of(heading: str) -> str:
    title = heading.removeprefix("## ").lower()
    return "report" if title.startswith("report") else "alertmanager" if title.startswith("alertmanager") else "run"


def documented(doc: str) -> Iterator[Row]:
    """The rows of the doc's counter tables (header `| counter | ...`)."""
    in_table, line_kind = False, "run"
    for line in doc.splitlines():
        if line.startswith("## "):
            line_kind = _line_of(line)
        if not line.startswith("|"):
            in_table = False
            continue
        if line.startswith("| counter |"):
            in_table = True
            continue
        if in_table and not line.startswith("| ---"):
            yield Row(line_kind, re.findall(r"`([^`]+)`", line.split("|")[1]), line)


def _template(name: str) -> re.Pattern[str]:
    return re.compile("".join("(.+)" if i % 2 else re.escape(p) for i, p in enumerate(_PLACEHOLDER.split(name))))


def _covered(name: str, rows: list[Row]) -> bool:
    for row in rows:
        if name in row.names:
            return True
        for documented_name in row.names:
            match = _template(documented_name).fullmatch(name) if "<" in documented_name else None
            if match and all(f"`{value}`" in row.text for value in match.groups()):
                return True
    return False


def undocumented(names: dict[str, set[str]], doc: str) -> set[str]:
    """Emitted names the doc does not explain, as `line:name` for the report's and alertmanager's lines."""
    rows = list(documented(doc))
    return {
        name if line == "run" else f"{line}:{name}"
        for line, emitted_names in names.items()
        for name in emitted_names
        if not _covered(name, [r for r in rows if r.line == line])
    }


def stale(names: dict[str, set[str]], doc: str) -> set[str]:
    """Documented counters the code does not emit (a template must match at least one that it does)."""
    out = set()
    for row in documented(doc):
        for name in row.names:
            pattern = _template(name)
            if not any(pattern.fullmatch(n) for n in names[row.line]):
                out.add(name)
    return out


def test_every_counter_name_in_the_code_can_be_read() -> None:
    assert emitted().unresolved == []


def test_every_counter_a_run_prints_is_documented() -> None:
    assert undocumented(emitted().names, DOC.read_text(encoding="utf-8")) == set()


def test_the_doc_lists_no_counter_the_code_lost() -> None:
    assert stale(emitted().names, DOC.read_text(encoding="utf-8")) == set()


def test_the_collection_sees_each_kind_of_counter() -> None:
    by_line = emitted().names
    names = by_line["run"]
    # A literal, a module constant, each f-string expansion, a pipeline subscript, a printed field, a write-back key.
    expected = {"evaluated", "cost.negative_cost_buckets", "gitlab_requests", "audit.findings.monologue"}
    expected |= {"cost.backfill_deferred_for_metrics_budget", "left_at_deadline", "malformed", "scores_pending"}
    assert expected | {"runs"} <= names
    assert {"spend", "already_sent", "delivered"} <= by_line["report"]
    assert by_line["alertmanager"] == {"alerts"}
    assert not set().union(*by_line.values()) & NOT_COUNTERS


def test_a_deleted_row_or_a_stale_row_is_caught() -> None:
    doc = DOC.read_text(encoding="utf-8")
    names = emitted().names
    without = "\n".join(line for line in doc.splitlines() if not line.startswith("| `evaluated` |"))
    assert undocumented(names, without) == {"evaluated"}
    template_gone = "\n".join(line for line in doc.splitlines() if "`audit.findings.<check>`" not in line)
    assert undocumented(names, template_gone) == {f"audit.findings.{check}" for check in CHECKS}
    value_gone = doc.replace("`claimed_not_done`, ", "")
    assert undocumented(names, value_gone) == {"audit.findings.claimed_not_done"}
    # The report's `findings` row does not stand in for the run's.
    run_findings_gone = "\n".join(line for line in doc.splitlines() if not line.startswith("| `findings` | findings,"))
    assert undocumented(names, run_findings_gone) == {"findings"}
    extra = doc.replace("| `evaluated` |", "| `evaluated_twice` | traces | never | |\n| `evaluated` |")
    assert stale(names, extra) == {"evaluated_twice"}
