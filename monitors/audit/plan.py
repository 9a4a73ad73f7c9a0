"""Plan versus action: align the steps an agent said it would take with the calls it made.

A plan is either structured (a list of `{"name": tool, "kwargs": {...}}`, like tau-bench's gold
actions) or text (metadata `plan`, or the numbered steps of the first model turn). Each planned step
is scored against each call in [0, 1]:
- structured: the tool name must match; then half credit plus half the share of planned arguments
  the call used with the same value;
- text: whether the step mentions the tool or a verb for its operation ("open", "fix", "run"...),
  plus how many of the call's argument words the step names.
An order-preserving alignment (dynamic programming, like sequence alignment with free gaps) keeps
the best pairs scoring at least `match_threshold`. The divergence score is
    miss_weight * (1 - matched credit / planned steps) + (1 - miss_weight) * (unplanned / actions),
0 when every planned step was taken in order and nothing else was done, 1 when nothing matched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitors.audit.operations import operation_of
from monitors.audit.sequence import ToolCall, normalize_args

MAX_PLAN_STEPS = 100  # a longer "plan" is a transcript, not a plan; the rest is ignored
_WORD = re.compile(r"[a-z0-9]{3,}")
_NUMBERED = re.compile(r"^\s*\d{1,2}[.):]\s+(.+)$", re.MULTILINE)
_INLINE_NUMBER = re.compile(r"(?:^|(?<=\s))(\d{1,2})[.)]\s+")
_CLAUSE = re.compile(r"(?:\n+|(?<=[.;!?])\s+|,?\s+(?:and\s+)?then\s+)", re.IGNORECASE)
_STOP = frozenset(
    [
        "the",
        "and",
        "then",
        "will",
        "that",
        "this",
        "with",
        "for",
        "from",
        "into",
        "have",
        "need",
        "first",
        "next",
        "finally",
        "let",
        "begin",
        "see",
        "what",
        "which",
        "where",
        "there",
        "their",
        "its",
        "are",
        "was",
        "were",
        "can",
        "should",
        "would",
        "could",
        "also",
        "now",
    ]
)
_OP_WORDS: dict[str, frozenset[str]] = {
    "read": frozenset({"open", "read", "view", "look", "examine", "inspect", "check", "cat", "review"}),
    "search": frozenset({"search", "find", "locate", "grep", "look", "lookup"}),
    "list": frozenset({"list", "explore", "directory", "folder", "structure", "files"}),
    "stat": frozenset({"check", "inspect", "file", "type"}),
    "edit": frozenset({"edit", "fix", "change", "modify", "update", "correct", "replace", "insert", "add"}),
    "write": frozenset({"write", "create", "save", "add"}),
    "create": frozenset({"create", "write", "make", "new", "add", "reproduce"}),
    "delete": frozenset({"delete", "remove", "clean", "cleanup"}),
    "exec": frozenset({"run", "execute", "test", "reproduce", "verify", "script", "python", "confirm"}),
    "mutate": frozenset({"update", "change", "book", "cancel", "send", "modify", "submit"}),
}


@dataclass(frozen=True, slots=True)
class PlanStep:
    text: str
    tool: str | None = None
    args: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PlanResult:
    """Alignment outcome. `missed` are plan step indexes (0-based); `unplanned` are call steps."""

    score: float
    planned: int
    considered: int
    matched: tuple[tuple[int, int], ...]
    missed: tuple[int, ...]
    unplanned: tuple[int, ...]
    steps: tuple[PlanStep, ...]


def _kwargs(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, Mapping) else None


def _step(item: Any) -> PlanStep | None:
    if isinstance(item, Mapping):
        tool = item.get("name") or item.get("tool") or item.get("action")
        args = _kwargs(item.get("kwargs", item.get("args", item.get("arguments"))))
        if isinstance(tool, str) and tool:
            return PlanStep(text=tool, tool=tool, args=args)
        text = item.get("text") or item.get("step") or item.get("description")
        return PlanStep(str(text)) if isinstance(text, str) and text.strip() else None
    if isinstance(item, str) and item.strip():
        return PlanStep(item.strip())
    return None


def numbered_steps(text: str) -> list[str]:
    """Steps numbered one per line, or inline ("1. read the test 2. fix it 3. run tests").

    Inline numbers count only when they run 1, 2, 3... in order, so "bump to v2. then" is not a plan.
    """
    lines = _NUMBERED.findall(text)
    if len(lines) >= 2:
        return lines
    parts = _INLINE_NUMBER.split(text)  # [before, n1, step1, n2, step2, ...]
    numbers, steps = parts[1::2], [p.strip() for p in parts[2::2]]
    if len(steps) >= 2 and [int(n) for n in numbers] == list(range(1, len(numbers) + 1)):
        return steps
    return []


def parse_plan(value: Any) -> list[PlanStep]:
    """Plan steps from metadata or text: a list, a JSON list, numbered lines, or sentences."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] == "[":
            try:
                return parse_plan(json.loads(text))
            except ValueError:
                pass
        parts = numbered_steps(text) or _CLAUSE.split(text)
        value = [p for p in parts if len(_WORD.findall(p.lower())) >= 2]
    if not isinstance(value, list | tuple):
        return []
    steps = [s for s in (_step(item) for item in value[:MAX_PLAN_STEPS]) if s is not None]
    return steps


def is_structured(plan: Any) -> bool:
    """A list of steps, or text with at least two numbered steps; prose is too vague to align."""
    if isinstance(plan, list | tuple):
        return True
    if not isinstance(plan, str):
        return False
    text = plan.strip()
    if text[:1] == "[":
        try:
            return isinstance(json.loads(text), list)
        except ValueError:
            pass
    return bool(numbered_steps(text))


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def _tool_words(name: str) -> set[str]:
    return set(_WORD.findall(name.lower().replace("_", " ")))


@dataclass(frozen=True, slots=True)
class _CallView:
    """What similarity needs from a call, computed once per call rather than once per plan step."""

    name: str
    args: Mapping[str, Any]
    arg_words: frozenset[str]
    verbs: frozenset[str]

    @classmethod
    def of(cls, call: ToolCall) -> _CallView:
        args = call.args if isinstance(call.args, Mapping) else _kwargs(call.args) or {}
        verbs = _tool_words(call.name) | _OP_WORDS.get(operation_of(call.name, call.args), frozenset())
        words = _words(normalize_args(call.args)[:300])
        return cls(call.name.strip().lower(), args, frozenset(words), frozenset(verbs))


def _similarity(step: PlanStep, said: set[str], view: _CallView) -> float:
    if step.tool is not None:
        if step.tool.strip().lower() != view.name:
            return 0.0
        if not step.args:
            return 1.0
        got = view.args
        same = sum(1 for k, v in step.args.items() if k in got and normalize_args(got[k]) == normalize_args(v))
        return 0.5 + 0.5 * same / len(step.args)
    named = 1.0 if said & view.verbs else 0.0
    words = view.arg_words
    overlap = len(said & words) / min(len(said), len(words)) if said and words else 0.0
    return 0.6 * named + 0.4 * min(1.0, overlap)


def similarity(step: PlanStep, call: ToolCall) -> float:
    """How well `call` carries out `step`, in [0, 1]."""
    return _similarity(step, _words(step.text), _CallView.of(call))


def _align(steps: Sequence[PlanStep], calls: Sequence[ToolCall], threshold: float) -> list[tuple[int, int, float]]:
    """Order-preserving pairs (plan index, call index, similarity) maximizing total similarity."""
    views = [_CallView.of(c) for c in calls]
    sims = [[_similarity(s, _words(s.text), v) for v in views] for s in steps]
    rows, cols = len(steps), len(calls)
    best = [[0.0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        here, below, row = best[i], best[i + 1], sims[i]
        for j in range(cols - 1, -1, -1):
            take = row[j] + below[j + 1] if row[j] >= threshold else 0.0
            here[j] = max(below[j], here[j + 1], take)
    pairs: list[tuple[int, int, float]] = []
    i = j = 0
    while i < rows and j < cols:
        sim = sims[i][j]
        if sim >= threshold and abs(best[i][j] - (sim + best[i + 1][j + 1])) < 1e-12:
            pairs.append((i, j, sim))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs


def plan_divergence(
    plan: Any,
    calls: Sequence[ToolCall],
    *,
    ignore: Collection[str] = (),
    match_threshold: float = 0.5,
    miss_weight: float = 0.75,
    max_calls: int = 1000,
    min_steps: int = 2,
) -> PlanResult | None:
    """Align a plan with the calls; None when there is no usable plan (fewer than `min_steps` steps)."""
    steps = plan if isinstance(plan, list) and all(isinstance(s, PlanStep) for s in plan) else parse_plan(plan)
    if len(steps) < max(1, min_steps):
        return None
    actions = [c for c in calls if c.name not in ignore][:max_calls]
    pairs = _align(steps, actions, match_threshold)
    credit = sum(sim for _, _, sim in pairs)
    used = {j for _, j, _ in pairs}
    unplanned = tuple(a.step for j, a in enumerate(actions) if j not in used)
    miss = 1.0 - credit / len(steps)
    extra = len(unplanned) / len(actions) if actions else 0.0
    score = miss_weight * miss + (1.0 - miss_weight) * extra
    return PlanResult(
        score=round(min(1.0, max(0.0, score)), 4),
        planned=len(steps),
        considered=len(actions),
        matched=tuple((i, actions[j].step) for i, j, _ in pairs),
        missed=tuple(i for i in range(len(steps)) if i not in {p for p, _, _ in pairs}),
        unplanned=unplanned,
        steps=tuple(steps),
    )
