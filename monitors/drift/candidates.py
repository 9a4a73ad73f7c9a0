"""Which traces goal-drift can check: objective and merge-request reference per trace, from metadata.

Agents propagate `objective`, `mr_iid` and `repo` (keys renamable) onto every observation of a trace, so
one trace arrives as many rows; they are folded into one `TraceRef` per trace. A trace that lacks one
key borrows it from the other traces of its session (an agent may state the objective in its first
trace and open the merge request in a later one).

Every value comes from the agent and is untrusted: values may be JSON-encoded twice, numbers or strings
("12", "!12", "group/app!12", a merge request URL), or cut at 200 characters. Parsing never raises; a
value that cannot be used becomes a reason the trace is unverifiable.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitors.contracts.records import Observation, decode_metadata_value

MAX_IID = 2**31 - 1
# Traces whose merge request could not be read because GitLab failed transiently wait in the run
# state under this key and are tried again by the next runs, up to PENDING_TRIES times.
PENDING_KEY = "pending"
PENDING_TRIES = 5
PENDING_MAX = 500  # traces; beyond this they are reported as unverifiable rather than kept
PENDING_CHARS = 2000
_IID = re.compile(r"^[!#]?\s*(\d{1,10})$")
_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
_REPO = re.compile(rf"^{_SEGMENT}(?:/{_SEGMENT})+$|^\d{{1,12}}$")
_REPO_REF = re.compile(rf"^(?P<repo>{_SEGMENT}(?:/{_SEGMENT})+)\s*!(?P<iid>\d{{1,10}})$")
_MR_URL = re.compile(rf"^https?://[^/\s]+/(?P<repo>{_SEGMENT}(?:/{_SEGMENT})*?)/-/merge_requests/(?P<iid>\d{{1,10}})")
_PR_REF = re.compile(rf"^(?P<repo>{_SEGMENT}/{_SEGMENT})\s*#(?P<iid>\d{{1,10}})$")
_PR_URL = re.compile(rf"^https?://[^/\s]+/(?P<repo>{_SEGMENT}/{_SEGMENT})/pull/(?P<iid>\d{{1,10}})(?:[/?#]|$)")
FORGES = ("gitlab", "github")


@dataclass
class TraceRef:
    """What goal-drift knows about one trace after folding its observations."""

    trace_id: str
    start: datetime
    session_id: str | None = None
    agent: str | None = None
    objective: Any = None  # raw (decoded) metadata value; None when absent
    mr: Any = None
    repo: Any = None
    scope: Any = None  # optional globs of the files the agent may change
    tries: int = 0  # GitLab attempts that failed transiently (see PENDING_KEY)
    end: datetime | None = None  # the trace's last observation (its end, else its start); None: its start
    timed: bool = True  # its times are real ones: no row says `time_synthetic` (as replays of trajectories do)

    @property
    def group_key(self) -> str:
        return self.session_id or self.trace_id

    @property
    def last(self) -> datetime:
        return max(self.start, self.end or self.start)


@dataclass(frozen=True, slots=True)
class MrRef:
    """A change request: a GitLab merge request (`group/app!12`) or a GitHub pull request (`o/r#12`)."""

    repo: str
    iid: int
    forge: str = "gitlab"

    def __str__(self) -> str:
        return f"{self.repo}{'#' if self.forge == 'github' else '!'}{self.iid}"

    @property
    def cache_key(self) -> str:
        return f"{self.forge}:{self}"


def as_text(value: Any) -> str:
    """A metadata value as text: strings decoded (twice-encoded JSON too), other JSON re-serialised."""
    for _ in range(2):
        if not isinstance(value, str):
            break
        decoded = decode_metadata_value(value)
        if decoded == value:
            break
        value = decoded
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def parse_mr_ref(
    mr: Any, repo: Any, default_repo: str | None = None, forge_of: Callable[[str], str] | None = None
) -> MrRef | str:
    """The change request a trace names, or the reason it cannot be used.

    Accepts a number (12, "12", "!12", "#12") plus a repo, "group/app!12" (GitLab), "owner/repo#12"
    (GitHub), or a merge request / pull request URL. A URL or a `!`/`#` reference names its forge;
    a bare number takes the repository's forge from `forge_of` (config), GitLab by default.
    """
    text = as_text(mr)
    repo_text = as_text(repo) or (default_repo or "")
    if not text:
        return "the merge request reference is empty"
    iid_text: str | None = None
    forge: str | None = None
    if match := _IID.match(text):
        iid_text = match.group(1)
    elif match := (_REPO_REF.match(text) or _MR_URL.match(text)):
        iid_text, repo_text, forge = match["iid"], match["repo"], "gitlab"
    elif match := (_PR_REF.match(text) or _PR_URL.match(text)):
        iid_text, repo_text, forge = match["iid"], match["repo"], "github"
    if iid_text is None:
        return f"cannot read a merge request number from {text[:80]!r}"
    iid = int(iid_text)
    if not 1 <= iid <= MAX_IID:
        return f"merge request number out of range: {iid_text}"
    if not repo_text:
        return "the trace names a merge request but no repository"
    if not _REPO.match(repo_text) or any(part.strip(".") == "" for part in repo_text.split("/")):
        return f"not a repository path: {repo_text[:80]!r}"
    forge = forge or (forge_of(repo_text) if forge_of else "gitlab")
    if forge == "github" and not re.fullmatch(rf"{_SEGMENT}/{_SEGMENT}", repo_text):
        return f"not a GitHub repository (owner/name): {repo_text[:80]!r}"
    return MrRef(repo_text, iid, forge)


def fold_traces(rows: Iterable[Observation], keys: Mapping[str, str]) -> dict[str, TraceRef]:
    """One TraceRef per trace id from any number of its observations (in any order)."""
    traces: dict[str, TraceRef] = {}
    for obs in rows:
        ref = traces.get(obs.trace_id)
        if ref is None:
            ref = traces[obs.trace_id] = TraceRef(obs.trace_id, obs.start_time)
        ref.start = min(ref.start, obs.start_time)
        ref.end = max(ref.last, obs.start_time, obs.end_time or obs.start_time)
        ref.session_id = ref.session_id or obs.session_id
        meta = obs.metadata
        ref.timed = ref.timed and not meta.get("time_synthetic")
        feature = as_text(meta.get(keys["feature"]))
        is_root = obs.is_root if obs.is_root is not None else obs.parent_id is None
        ref.agent = feature or ref.agent or obs.trace_name or (obs.name if is_root else None)
        for role in ("objective", "mr", "repo", "scope"):
            value = meta.get(keys.get(role, role))
            # Keep the longest text seen: another row may carry the untruncated (expanded) value.
            if value is not None and len(as_text(value)) >= len(as_text(getattr(ref, role))):
                setattr(ref, role, value)
    return traces


def fill_from_sessions(traces: Mapping[str, TraceRef]) -> None:
    """A trace missing its objective or merge request borrows it from its session, when unambiguous."""
    sessions: dict[str, list[TraceRef]] = defaultdict(list)
    for ref in traces.values():
        if ref.session_id:
            sessions[ref.session_id].append(ref)
    for refs in sessions.values():
        refs.sort(key=lambda r: r.start)
        objectives = [r.objective for r in refs if as_text(r.objective)]
        mrs = {(as_text(r.mr), as_text(r.repo)): r for r in refs if as_text(r.mr)}
        for ref in refs:
            if not as_text(ref.objective) and objectives:
                ref.objective = objectives[0]
            if not as_text(ref.mr) and len(mrs) == 1:
                donor = next(iter(mrs.values()))
                ref.mr, ref.repo = donor.mr, donor.repo


def to_pending(ref: TraceRef) -> dict[str, Any]:
    """A JSON-able copy of `ref` for the run state (texts cut to bound the state's size)."""
    return {
        "trace_id": ref.trace_id,
        "start": ref.start.isoformat(),
        "end": ref.end.isoformat() if ref.end is not None else None,
        "timed": ref.timed,
        "session_id": ref.session_id,
        "agent": ref.agent,
        "objective": as_text(ref.objective)[:PENDING_CHARS],
        "mr": as_text(ref.mr)[:PENDING_CHARS],
        "repo": as_text(ref.repo)[:PENDING_CHARS],
        "scope": as_text(ref.scope)[:PENDING_CHARS],
        "tries": ref.tries,
    }


def from_pending(items: Any) -> list[TraceRef]:
    """TraceRefs back from the run state; entries that do not parse are dropped (state is ours)."""
    refs: list[TraceRef] = []
    for item in items if isinstance(items, list) else []:
        try:
            refs.append(
                TraceRef(
                    trace_id=str(item["trace_id"]),
                    start=datetime.fromisoformat(str(item["start"])),
                    # Entries parked before the end was kept have none: the trace's start stands for it.
                    end=datetime.fromisoformat(str(item["end"])) if item.get("end") else None,
                    timed=item.get("timed") is not False,
                    session_id=item.get("session_id"),
                    agent=item.get("agent"),
                    objective=str(item["objective"]),
                    mr=str(item["mr"]),
                    repo=str(item.get("repo") or ""),
                    scope=item.get("scope") or None,
                    tries=int(item.get("tries", 0)),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return refs
