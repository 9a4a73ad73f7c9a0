"""Rebuild one session's ordered tool calls from its TOOL and GENERATION observations.

Each tool call carries the tokens and cost of the model turns that led to it (the GENERATIONs since
the previous tool call), so a check can say what its wasted steps cost. Arguments get a normalized
text and an exact-repeat key: `args_sha1` from metadata when the producer recorded one (the converter
does, because its stored arguments are cut at 500 characters), otherwise a hash of the canonical
JSON of the arguments, where JSON text inside a string (OpenAI-style `"arguments": "{...}"` logged raw)
is read as JSON, so spacing and key order do not make two calls differ, nor does a fresh request id,
timestamp or nonce (VOLATILE_KEYS), nor a shell tool's `description` (SHELL_NOTE_KEYS: Claude Code's
Bash says in it what the command is for, in new words each time). Times flagged `time_synthetic` in
metadata are dropped, so checks fall back to step distances instead of reasoning about invented seconds.

Each call has a role: an `action` (a real tool call), a `message` (a reply to the user: tau-bench's
`respond`, OpenHands' `message`/`finish`, or any TOOL whose metadata says `kind: message`) or a `note`
(a `think` call that changes nothing). Checks read failures and repeats through notes and messages,
and the conversation checks read the messages. The text of each model turn (GENERATION output) is kept
too, so a session of pure monologue, with no tool call at all, can still be audited.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitors.audit.nesting import bounded, shallow
from monitors.audit.shell import SHELL_TOOLS
from monitors.contracts.records import Observation

_SPACE = re.compile(r"\s+")
# Tool names that are a reply to the user or a note to self rather than an action, by default.
MESSAGE_TOOLS = frozenset({"respond", "message", "reply", "send_message", "say", "finish"})
NOTE_TOOLS = frozenset({"think"})
ACTION, MESSAGE, NOTE = "action", "message", "note"
# JSON text inside a string is compared by what it says: at most this long, this deep, this many times
# nested (a JSON string holding JSON text again).
MAX_JSON_TEXT = 20_000
MAX_JSON_DEPTH = 20
MAX_DECODES = 2
# Argument keys whose value is fresh on every call: two calls differing only there are the same call
# (a loop through new request ids is still a loop). Compared without `-`/`_` and case. A UUID or a date
# under any other key (`order_id`, `date`) is what the call is about, and is kept.
VOLATILE_KEYS = frozenset({
    "requestid", "reqid", "clientrequestid", "idempotencykey", "correlationid", "traceid", "spanid",
    "nonce", "ts", "timestamp", "cachebuster",
})  # fmt: skip
VOLATILE = "<volatile>"
# Arguments of a shell tool that say what the call is for rather than what it runs: Claude Code's Bash
# `description`, which the agent rewrites freely ("Check CI status", "Check CI again"). Dropped from the
# repeat key, top level only; under any other tool (`create_issue`) a description is what the call is about.
SHELL_NOTE_KEYS = frozenset({"description"})
_NUMBERED = re.compile(r"^\s*(?:step\s*)?\d{1,2}[.):]\s+(.+)$", re.IGNORECASE | re.MULTILINE)


def _volatile(key: Any) -> bool:
    return str(key).lower().replace("_", "").replace("-", "") in VOLATILE_KEYS


def _canonical(value: Any, decodes: int = MAX_DECODES, volatile: bool = False) -> Any:
    # @observe records {"args": [...], "kwargs": {...}}: the call is the same either way.
    if isinstance(value, Mapping) and set(value) <= {"args", "kwargs"} and value:
        args, kwargs = value.get("args") or [], value.get("kwargs") or {}
        if not args and isinstance(kwargs, Mapping):
            return _canonical(kwargs, decodes, volatile)
        if not kwargs and isinstance(args, list) and len(args) == 1:
            return _canonical(args[0], decodes, volatile)
    if isinstance(value, Mapping):
        return {
            str(k): VOLATILE if volatile and _volatile(k) else _canonical(v, decodes, volatile)
            for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
        }
    if isinstance(value, list | tuple):
        return [_canonical(v, decodes, volatile) for v in value]
    if isinstance(value, str):
        decoded = _json_inside(value) if decodes > 0 else None
        return _SPACE.sub(" ", value).strip() if decoded is None else _canonical(decoded, decodes - 1, volatile)
    return value


def _json_inside(text: str) -> dict | list | None:
    """The object or array a string holds as JSON text (OpenAI-style `"arguments": "{\"q\": 1}"`), so
    spacing and key order do not make two calls differ; None for any other string. Untrusted input:
    only short texts are parsed, and only shallow results kept."""
    stripped = text.strip()
    if len(stripped) > MAX_JSON_TEXT or stripped[:1] + stripped[-1:] not in ("{}", "[]"):
        return None
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict | list) and shallow(value, MAX_JSON_DEPTH) else None


def normalize_args(value: Any, *, volatile: bool = False) -> str:
    """Canonical text of tool arguments: sorted keys, collapsed whitespace, unwrapped @observe input,
    JSON text inside a string read as JSON; with `volatile`, the values of VOLATILE_KEYS masked (for
    the repeat key, not for what a finding quotes)."""
    canon = _canonical(value, volatile=volatile)
    if isinstance(canon, str):
        return canon
    try:
        return json.dumps(canon, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return _SPACE.sub(" ", str(canon)).strip()


def identity_args(name: str, args: Any) -> Any:
    """The arguments that make a call what it is: a shell tool's less its SHELL_NOTE_KEYS, others as given."""
    if name.strip().lower() not in SHELL_TOOLS:
        return args
    given = _json_inside(args) if isinstance(args, str) else args  # arguments logged as JSON text
    if not isinstance(given, Mapping) or not any(str(k).lower() in SHELL_NOTE_KEYS for k in given):
        return args
    return {k: v for k, v in given.items() if str(k).lower() not in SHELL_NOTE_KEYS}


def digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:16]


def excerpt(value: Any, limit: int = 80) -> str:
    """A short one-line excerpt of untrusted text for a finding (plain text, not escaped here)."""
    text = value if isinstance(value, str) else normalize_args(value)
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call in session order. `step` is 1-based; `time` is None when unknown."""

    step: int
    name: str
    args: Any = None
    output: Any = None
    time: datetime | None = None
    end_time: datetime | None = None
    is_error: bool = False
    tokens: int = 0
    cost: float = 0.0
    args_key: str = ""
    output_key: str | None = None  # None when the output was not read or is empty
    observation_id: str = ""
    role: str = ACTION  # ACTION, MESSAGE (a reply to the user) or NOTE (thinking out loud)

    @property
    def is_action(self) -> bool:
        return self.role == ACTION

    @property
    def signature(self) -> tuple[str, str]:
        """What makes two calls the same call: tool name and normalized arguments."""
        return (self.name, self.args_key)


def make_call(
    step: int,
    name: str,
    args: Any = None,
    output: Any = None,
    *,
    time: datetime | None = None,
    end_time: datetime | None = None,
    is_error: bool = False,
    tokens: int = 0,
    cost: float = 0.0,
    args_sha1: str | None = None,
    observation_id: str = "",
    role: str | None = None,
) -> ToolCall:
    """A ToolCall with its repeat keys computed; used by the rebuild and by tests.

    Without `role`, the name decides: MESSAGE_TOOLS are messages, NOTE_TOOLS notes, the rest actions.
    """
    same = identity_args(name, args)
    # A producer's `args_sha1` hashes every argument, the description too: with one dropped, hash ours.
    key = digest(normalize_args(same, volatile=True)) if same is not args or not args_sha1 else args_sha1
    out_key = None if output in (None, "") else digest(normalize_args(output))
    role = role or role_of(name)
    return ToolCall(
        step, name, args, output, time, end_time, is_error, tokens, cost, key, out_key, observation_id, role
    )


def role_of(name: str, kind: Any = None) -> str:
    """ACTION, MESSAGE or NOTE for a tool name (and the producer's `kind` metadata, when it has one)."""
    lowered = name.strip().lower()
    if kind == "message" or lowered in MESSAGE_TOOLS:
        return MESSAGE
    return NOTE if lowered in NOTE_TOOLS else ACTION


def message_text(call: ToolCall) -> str:
    """What a message call said: its `content`/`message`/`text` argument, or the arguments as text."""
    args = call.args
    if isinstance(args, Mapping):
        for key in ("content", "message", "text", "response"):
            if isinstance(args.get(key), str):
                return args[key]
        return "" if not args else normalize_args(args)
    return args if isinstance(args, str) else ("" if args is None else normalize_args(args))


@dataclass(frozen=True, slots=True)
class Generation:
    """One model turn: where it sits (tool calls before it), what it said, and what it cost."""

    after_calls: int
    text: str
    tokens: int = 0
    cost: float = 0.0


@dataclass
class Session:
    """One session's tool calls plus what the plan check needs."""

    key: str
    agent: str
    trace_id: str
    calls: list[ToolCall] = field(default_factory=list)
    plan: Any = None  # str or list from metadata, or None
    first_generation: str | None = None  # text of the first model turn (plan fallback)
    timed: bool = False  # every call has a real start time
    trailing_tokens: int = 0  # generations after the last tool call (not waste of any call)
    trailing_cost: float = 0.0
    # Model turns in order: (number of tool calls before it, its output text, tokens, cost).
    generations: list[Generation] = field(default_factory=list)
    last_time: datetime | None = None  # the latest observation seen, real times only

    @property
    def total_cost(self) -> float:
        return sum(c.cost for c in self.calls) + self.trailing_cost


def _tokens(obs: Observation) -> int:
    usage = obs.usage or {}
    if "total" in usage:
        return max(0, int(usage["total"]))
    return max(0, sum(int(v) for k, v in usage.items() if k in ("input", "output")))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else normalize_args(value)


def _order(obs: Observation) -> tuple[datetime, int, str]:
    # A model turn and the call it chose may share a timestamp: the turn comes first.
    return (obs.start_time, 0 if obs.type == "GENERATION" else 1, obs.id)


def build_session(
    key: str, observations: Iterable[Observation], *, plan_key: str = "plan", agent_key: str = "feature"
) -> Session:
    """Ordered tool calls of one session from its observations (any order, any types)."""
    ordered = sorted(observations, key=_order)
    first = ordered[0] if ordered else None
    session = Session(key=key, agent="unknown", trace_id=first.trace_id if first else key)
    pending_tokens, pending_cost, synthetic = 0, 0.0, False
    for obs in ordered:
        meta = obs.metadata or {}
        if session.plan is None and meta.get(plan_key) not in (None, "", []):
            session.plan = meta.get(plan_key)
        if session.agent == "unknown":
            session.agent = str(meta.get(agent_key) or obs.trace_name or "unknown")[:100]
        if obs.type == "GENERATION":
            tokens = _tokens(obs)
            pending_tokens += tokens
            pending_cost += obs.total_cost
            text = _text(bounded(obs.output))
            if session.first_generation is None and not session.calls:
                session.first_generation = text
            if text:
                session.generations.append(Generation(len(session.calls), text, tokens, obs.total_cost))
            continue
        if obs.type != "TOOL":
            continue
        synthetic = synthetic or bool(meta.get("time_synthetic"))
        sha = meta.get("args_sha1")
        session.calls.append(
            make_call(
                len(session.calls) + 1,
                obs.name or "unknown",
                bounded(obs.input),  # a thousand levels deep would stop every recursive check
                bounded(obs.output),
                time=obs.start_time,
                end_time=obs.end_time,
                is_error=obs.level.upper() == "ERROR",
                tokens=pending_tokens,
                cost=pending_cost,
                args_sha1=str(sha) if isinstance(sha, str | int) and sha else None,
                observation_id=obs.id,
                role=role_of(obs.name or "", meta.get("kind")),
            )
        )
        pending_tokens, pending_cost = 0, 0.0
    session.trailing_tokens, session.trailing_cost = pending_tokens, pending_cost
    session.timed = bool(session.calls) and not synthetic
    if ordered and not synthetic:
        session.last_time = max(o.end_time or o.start_time for o in ordered)
    return session


def numbered_steps(text: str | None) -> list[str]:
    """The numbered steps ("1. ...", "2) ...") of a model's first message, or [] when there are none."""
    if not text:
        return []
    return [m.group(1).strip() for m in _NUMBERED.finditer(text)]


@dataclass(frozen=True, slots=True)
class Waste:
    """What a set of steps cost: count, seconds (None when times are unknown), tokens, USD."""

    steps: int
    seconds: float | None
    tokens: int
    cost: float


def waste_of(calls: Sequence[ToolCall], steps: Iterable[int], *, timed: bool) -> Waste:
    """Sum the cost of the given 1-based steps; seconds run from the previous call's end."""
    chosen = sorted({s for s in steps if 1 <= s <= len(calls)})
    tokens = sum(calls[s - 1].tokens for s in chosen)
    cost = sum(calls[s - 1].cost for s in chosen)
    if not timed:
        return Waste(len(chosen), None, tokens, round(cost, 6))
    seconds = 0.0
    for s in chosen:
        call = calls[s - 1]
        if call.time is None:
            continue
        prev = calls[s - 2] if s >= 2 else None
        begin = (prev.end_time or prev.time) if prev is not None else call.time
        end = call.end_time or call.time
        seconds += max(0.0, (end - (begin or call.time)).total_seconds())
    return Waste(len(chosen), round(seconds, 3), tokens, round(cost, 6))


def duration_text(seconds: float) -> str:
    """45 s, 3 min 5 s, 6 h 16 min, 2 d 3 h: the two largest units (the rest dropped, never rounded up)."""
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    for big, big_unit, small, small_unit in ((86400, "d", 3600, "h"), (3600, "h", 60, "min"), (60, "min", 1, "s")):
        if total >= big:
            whole, rest = divmod(total // small * small, big)
            return f"{whole} {big_unit}" + (f" {rest // small} {small_unit}" if rest else "")
    return f"{total} s"  # unreachable: total >= 60 matched above
