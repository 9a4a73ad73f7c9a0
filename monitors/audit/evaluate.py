"""Measure the audit on sessions a person judged: `run-monitor audit evaluate SESSIONS --labels L.jsonl`.

SESSIONS is a file in the public trajectories format (one session per line with `steps`) or an export /
replay file (Observations v2 rows). LABELS is JSON lines:

    {"session_id": "...", "verdict": "problem" | "clean",
     "problems": [{"kind": "repeated_call", "steps": [3, 4]}], "legit_repeats": [{"steps": [1, 5]}]}

Step numbers are the producer's own step index (`metadata.step` of each TOOL observation, which the
trajectory converter sets to the trajectory's `index`); without it, the 0-based position of the call.
The audit runs with the given (default) configuration over every session; the report is session level
(precision, recall and F1 of "any finding" and of "a finding at alerting severity", WARNING or above),
per kind, and lists the legitimate repeats whose later steps a finding counted as waste (a finding
lists at most its first 50 wasted steps). INFO notes (`polling`: a read polled `polling.min_polls` times or more) say
what the agent did, not that it wasted anything: they are left out of every figure and counted apart.
The file is held in memory: this is for a labelled sample, not a production week.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitors.audit.config import NOTES, ToolSequenceConfig
from monitors.audit.monitor import ToolSequenceMonitor
from monitors.audit.sequence import build_session
from monitors.contracts.errors import ConfigError
from monitors.contracts.findings import Finding, RunWindow, Severity
from monitors.contracts.monitor import RunContext
from monitors.contracts.records import Observation
from monitors.contracts.source import ObservationQuery
from monitors.sources.replay import ReplaySource
from monitors.sources.trajectories import ConvertStats, convert_file

# Finding kind (check name) -> label kind.
LABEL_KIND = {
    "repeat": "repeated_call",
    "loop": "loop",
    "backtrack": "backtracking",
    "error_storm": "error_storm",
    "plan": "plan_divergence",
    "runaway": "runaway",
    "soft_failure": "soft_failure",
    "conversation_loop": "conversation_loop",
    "monologue": "monologue",
    "claimed_not_done": "claimed_not_done",
}
KINDS = tuple(LABEL_KIND.values())
VERDICTS = ("problem", "clean")


class LabelError(ConfigError):
    """A labels line that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Label:
    session_id: str
    problem: bool
    kinds: frozenset[str]
    legit: tuple[tuple[int, ...], ...]
    wasted: tuple[tuple[str, int], ...] = ()  # (kind, step) for every step labelled as waste


def _steps(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        raise ValueError(f"{where}.steps must be a list of integers")
    return tuple(value)


def parse_label(raw: Any) -> Label:
    """One label from a parsed JSON line; ValueError says what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    sid = raw.get("session_id")
    if not isinstance(sid, str) or not sid:
        raise ValueError("session_id: missing or not a string")
    verdict = raw.get("verdict")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict: must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    problems = raw.get("problems", [])
    legit = raw.get("legit_repeats", [])
    if not isinstance(problems, list) or not isinstance(legit, list):
        raise ValueError("problems and legit_repeats must be lists")
    kinds: set[str] = set()
    wasted: set[tuple[str, int]] = set()
    for n, problem in enumerate(problems):
        if not isinstance(problem, dict) or problem.get("kind") not in KINDS:
            raise ValueError(f"problems[{n}].kind: must be one of {', '.join(KINDS)}")
        wasted.update((problem["kind"], s) for s in _steps(problem.get("steps", []), f"problems[{n}]"))
        kinds.add(problem["kind"])
    repeats = tuple(
        _steps(r.get("steps") if isinstance(r, dict) else None, f"legit_repeats[{n}]") for n, r in enumerate(legit)
    )
    return Label(sid, verdict == "problem", frozenset(kinds), repeats, tuple(sorted(wasted)))


def load_labels(path: str | Path) -> list[Label]:
    """Every label of a JSON-lines file; the first bad line raises LabelError naming it."""
    labels: list[Label] = []
    seen: set[str] = set()
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    label = parse_label(json.loads(line))
                except ValueError as exc:  # JSONDecodeError is a ValueError
                    raise LabelError(f"{path}:{number}: {exc}") from None
                if label.session_id in seen:
                    raise LabelError(f"{path}:{number}: session {label.session_id!r} labelled twice")
                seen.add(label.session_id)
                labels.append(label)
    except OSError as exc:
        raise LabelError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not labels:
        raise LabelError(f"{path}: no labels (one JSON object per line: session_id, verdict, ...)")
    return labels


def _is_trajectories(path: Path) -> bool:
    if path.suffix == ".gz":
        return False
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    first = json.loads(line)
                except ValueError:
                    return False
                return isinstance(first, dict) and "steps" in first and "session_id" in first
    return False


def read_sessions(path: str | Path) -> tuple[list[Observation], int]:
    """All observations of a trajectories or export file, and how many lines were skipped as malformed."""
    path = Path(path)
    try:
        if _is_trajectories(path):
            stats = ConvertStats()
            return list(convert_file(path, stats)), stats.malformed
        source = ReplaySource(path)
        everything = RunWindow(datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))
        observations = list(source.observations(ObservationQuery(window=everything)))
        return observations, source.stats.malformed
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _step_index(observations: list[Observation]) -> dict[str, dict[int, int]]:
    """session -> {audit step (1-based call position) -> the producer's step index}."""
    by_session: dict[str, list[Observation]] = defaultdict(list)
    for obs in observations:
        if obs.type in ("TOOL", "GENERATION"):
            by_session[obs.group_key].append(obs)
    index: dict[str, dict[int, int]] = {}
    for key, group in by_session.items():
        meta_step = {o.id: o.metadata.get("step") for o in group if o.type == "TOOL"}
        calls = build_session(key, group).calls
        index[key] = {c.step: s if isinstance(s := meta_step.get(c.observation_id), int) else c.step - 1 for c in calls}
    return index


def run_audit(observations: list[Observation], config: ToolSequenceConfig) -> list[Finding]:
    """Run the audit over every observation given, in one window that holds them all."""
    if not observations:
        return []
    start = min(o.start_time for o in observations)
    end = max(o.end_time or o.start_time for o in observations) + timedelta(seconds=1)
    window = RunWindow(start, end)
    # The session lookback reads before the window; a window that holds everything needs none.
    monitor = ToolSequenceMonitor(config.model_copy(update={"session_lookback": timedelta(0)}))
    ctx = RunContext(window, end + timedelta(days=1), ReplaySource.from_observations(observations))
    return list(monitor.run(ctx))


def _prf(truth: Iterable[bool], predicted: Iterable[bool]) -> dict[str, float | int | None]:
    """Counts and ratios; a ratio with nothing to divide by is None (shown as "-"), never a made-up 0."""
    pairs = list(zip(truth, predicted, strict=True))
    tp = sum(t and p for t, p in pairs)
    fp = sum(p and not t for t, p in pairs)
    fn = sum(t and not p for t, p in pairs)
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = None
    if precision is not None and recall is not None:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": _rounded(precision),
        "recall": _rounded(recall),
        "f1": _rounded(f1),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _ratio(value: float | None, width: int) -> str:
    return f"{'-' if value is None else f'{value:.3f}':>{width}s}"


@dataclass
class Evaluation:
    sessions_read: int
    malformed_lines: int
    labelled: int
    missing: list[str]
    any_finding: dict[str, Any]
    alerting: dict[str, Any]
    per_kind: list[dict[str, Any]]
    legit_flagged: list[dict[str, Any]]
    legit_total: int
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)
    notes_left_out: dict[str, int] = field(default_factory=dict)  # check -> notes not counted as findings

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _marked_steps(
    labels: list[Label], by_session: dict[str, list[Finding]], steps: dict[str, dict[int, int]]
) -> set[tuple[str, str, int]]:
    """(session, label kind, producer's step index) for every step a finding counts as waste."""
    marked: set[tuple[str, str, int]] = set()
    for lb in labels:
        index = steps.get(lb.session_id, {})
        for f in by_session[lb.session_id]:
            kind = LABEL_KIND.get(f.kind, f.kind)
            marked.update((lb.session_id, kind, index.get(s, s - 1)) for s in f.evidence.get("steps", []))
    return marked


def evaluate(observations: list[Observation], labels: list[Label], config: ToolSequenceConfig) -> Evaluation:
    """Compare the audit's findings with the labels, session by session and kind by kind."""
    present = {o.group_key for o in observations}
    usable = [lb for lb in labels if lb.session_id in present]
    missing = [lb.session_id for lb in labels if lb.session_id not in present]
    wanted = {lb.session_id for lb in usable}
    everything = [f for f in run_audit(observations, config) if f.evidence.get("session") in wanted]
    findings = [f for f in everything if f.kind not in NOTES]
    notes = sorted(f.kind for f in everything if f.kind in NOTES)
    by_session: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_session[f.evidence["session"]].append(f)
    steps = _step_index([o for o in observations if o.group_key in wanted])
    truth = [lb.problem for lb in usable]
    flagged = [bool(by_session[lb.session_id]) for lb in usable]
    alerting = [any(f.severity >= Severity.WARNING for f in by_session[lb.session_id]) for lb in usable]
    marked = _marked_steps(usable, by_session, steps)
    per_kind = []
    for kind in KINDS:
        labelled = {lb.session_id for lb in usable if kind in lb.kinds}
        found = {sid for sid, fs in by_session.items() if any(LABEL_KIND.get(f.kind) == kind for f in fs)}
        if not labelled and not found:
            continue
        hit = len(labelled & found)
        waste = [(lb.session_id, step) for lb in usable for k, step in lb.wasted if k == kind]
        per_kind.append(
            {
                "kind": kind,
                "labelled": len(labelled),
                "flagged": len(found),
                "both": hit,
                "precision": round(hit / len(found), 3) if found else None,
                "recall": round(hit / len(labelled), 3) if labelled else None,
                # Step level: of the steps labelled as this kind's waste, how many a finding of the kind counts.
                "steps_labelled": len(waste),
                "steps_found": sum((sid, kind, step) in marked for sid, step in waste),
            }
        )
    legit_flagged = []
    for lb in usable:
        wasted = {step: kind for sid, kind, step in marked if sid == lb.session_id}
        for repeat in lb.legit:
            hit = sorted(s for s in repeat[1:] if s in wasted)
            if hit:
                legit_flagged.append({"session_id": lb.session_id, "steps": list(repeat), "flagged": hit,
                                      "by": sorted({wasted[s] for s in hit})})  # fmt: skip
    return Evaluation(
        sessions_read=len(present),
        malformed_lines=0,
        labelled=len(usable),
        missing=missing,
        any_finding=_prf(truth, flagged),
        alerting=_prf(truth, alerting),
        per_kind=per_kind,
        legit_flagged=legit_flagged,
        legit_total=sum(len(lb.legit) for lb in usable),
        misses=[lb.session_id for lb, f in zip(usable, flagged, strict=True) if lb.problem and not f],
        false_alarms=[lb.session_id for lb, f in zip(usable, flagged, strict=True) if f and not lb.problem],
        notes_left_out={kind: notes.count(kind) for kind in dict.fromkeys(notes)},
    )


def format_report(ev: Evaluation) -> Iterator[str]:
    """The evaluation as plain text lines."""
    yield f"sessions read: {ev.sessions_read} ({ev.malformed_lines} malformed lines skipped)"
    yield f"labelled sessions found: {ev.labelled}; labelled but absent from SESSIONS: {len(ev.missing)}"
    for sid in ev.missing[:20]:
        yield f"  absent: {sid}"
    noted = ", ".join(f"{kind} {n}" for kind, n in ev.notes_left_out.items()) or "none"
    yield f"INFO notes left out of every figure below (notes, not findings): {noted}"
    yield ""
    yield "session level (a session is positive when it has a problem label / a finding):"
    yield "                      precision  recall   F1     TP  FP  FN"
    for name, m in (("any finding", ev.any_finding), ("alerting (>= WARNING)", ev.alerting)):
        yield (
            f"  {name:21s} {_ratio(m['precision'], 9)} {_ratio(m['recall'], 7)} {_ratio(m['f1'], 6)}"
            f" {m['tp']:4d} {m['fp']:3d} {m['fn']:3d}"
        )
    yield ""
    yield "per kind (sessions):        labelled  flagged  both  precision  recall   wasted steps found"
    for row in ev.per_kind:
        p = "-" if row["precision"] is None else f"{row['precision']:.3f}"
        r = "-" if row["recall"] is None else f"{row['recall']:.3f}"
        steps = f"{row['steps_found']} of {row['steps_labelled']}" if row["steps_labelled"] else "-"
        counts = f"{row['labelled']:9d} {row['flagged']:8d} {row['both']:5d}"
        yield f"  {row['kind']:24s} {counts} {p:>10s} {r:>7s}   {steps}"
    yield ""
    yield f"legitimate repeats flagged: {len(ev.legit_flagged)} of {ev.legit_total}"
    for item in ev.legit_flagged:
        yield f"  {item['session_id']}: steps {item['steps']} flagged {item['flagged']} by {', '.join(item['by'])}"
    if ev.misses:
        yield f"problem sessions with no finding: {len(ev.misses)}"
        for sid in ev.misses:
            yield f"  {sid}"
    if ev.false_alarms:
        yield f"clean sessions with a finding: {len(ev.false_alarms)}"
        for sid in ev.false_alarms:
            yield f"  {sid}"
