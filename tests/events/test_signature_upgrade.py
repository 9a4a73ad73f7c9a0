"""An upgrade that changes the signature masking keeps the stored history: known errors are not "new",
and a burst alerted before the upgrade keeps its fingerprint (dedupe, silences and realert still hold).

`state_before_signature_v2.json` is the state the events monitor wrote with the version-1 masking
(commit c73e48f, before pod names and short hex ids were masked): 14 days of OOM kills of the fixer
agent's sandbox, 8 a day, each from a different pod (so one failure under up to 9 signatures a day),
and a run over the last day until 16:00 that alerted a burst of 12 rejected pushes. The rows below are
the ones that run read, from `tests/events/data.py`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

from monitors.contracts.findings import Finding, RunWindow
from monitors.contracts.monitor import MemoryState, RunContext
from monitors.events.config import EventsConfig
from monitors.events.monitor import ERRORS_KEY, PENDING_KEY, SIGNATURE_VERSION_KEY, EventsMonitor
from monitors.events.rekey import rekey
from monitors.events.signature import SIGNATURE_VERSION
from monitors.events.tally import EXAMPLE_CHARS, OVERFLOW, Group, load_groups
from monitors.sources.replay import ReplaySource
from tests.events.data import HOST, LAST_DAY, PROJECT, at, oom_kills, rejected_pushes, trace, week

OLD_STATE = Path(__file__).with_name("state_before_signature_v2.json")
# The burst the version-1 run alerted at 16:00, and its key (what the pipeline's dedupe remembers).
OLD_BURST = "ERROR: git push rejected for <id>: pre-receive hook declined (runner worker-<hex>-x2k9p)"
OLD_BURST_KEY = "signature:fixer:d24cf3e07f1c:2026-11-22"


def rows_until_16() -> list:
    history = [o for back in range(1, 15) for o in oom_kills("fixer", LAST_DAY - timedelta(days=back), 8, hour=6)]
    return week() + history + oom_kills("fixer", LAST_DAY, 10, hour=9) + rejected_pushes("fixer", LAST_DAY, 12, hour=15)


def rows_16_to_17() -> list:
    """Six more OOM kills (16 that day: twice the usual 8, under the 3x that alerts) and one more push."""
    return oom_kills("fixer", LAST_DAY, 6, hour=16, first=10) + rejected_pushes("fixer", LAST_DAY, 1, hour=16, first=12)


def run_16_to_17(state: MemoryState) -> list[Finding]:
    source = ReplaySource.from_observations(
        rows_until_16() + rows_16_to_17(), host=HOST, project_id=PROJECT, strict_fields=True
    )
    window = RunWindow(at(LAST_DAY, 16), at(LAST_DAY, 17))
    ctx = RunContext(window=window, now=window.end, source=source, state=state)
    return list(EventsMonitor(EventsConfig()).run(ctx))


def old_state() -> MemoryState:
    return MemoryState(json.loads(OLD_STATE.read_text()))


def test_the_fixture_is_the_old_masking_splitting_one_failure() -> None:
    stored = json.loads(OLD_STATE.read_text())
    assert SIGNATURE_VERSION_KEY not in stored  # version 1 stored no version
    oom = [s for s in stored[ERRORS_KEY]["2026-11-21"]["fixer"] if "OOMKilled" in s]
    assert oom == ["ERROR: Container sandbox in pod <id> was OOMKilled (exit code 137)"]
    day = stored[ERRORS_KEY]["2026-11-22"]["fixer"]
    assert len([s for s in day if "OOMKilled" in s]) == 9 and day[OLD_BURST]["n"] == 12


def test_after_the_upgrade_known_errors_are_not_new_and_the_alerted_burst_keeps_its_key() -> None:
    state = old_state()
    findings = run_16_to_17(state)
    # Only the burst, under the key it was alerted with: the pipeline's dedupe does not send it again.
    assert [(f.kind, f.dedupe_key) for f in findings] == [("error_burst", OLD_BURST_KEY)]
    fields = dict(findings[0].fields)
    assert fields["Signature"] == (
        "ERROR: git push rejected for <hex>: pre-receive hook declined (runner worker-<pod>)"
    )
    assert fields["Count"].startswith(
        "13 as of 17:00 UTC (first 2026-11-22 15:00:20 UTC, last 2026-11-22 16:00:20 UTC)"
    )
    assert state.values[SIGNATURE_VERSION_KEY] == SIGNATURE_VERSION
    # The 16 OOM kills of the day are one signature now, and its history came along: 8 a usual day.
    errors = load_groups(state.values[ERRORS_KEY])
    oom = "ERROR: Container sandbox in pod worker-<pod> was OOMKilled (exit code 137)"
    assert errors["2026-11-22"]["fixer"][oom].count == 16
    assert {errors[(LAST_DAY - timedelta(days=b)).isoformat()]["fixer"][oom].count for b in range(1, 15)} == {8}


def test_the_same_run_without_the_stored_history_would_call_the_kills_new() -> None:
    """What the re-key prevents: the same hour judged with no usable history for the new signature."""
    stored = json.loads(OLD_STATE.read_text())
    stored[ERRORS_KEY] = {}  # what the old tallies are worth to the new signatures without a re-key
    findings = run_16_to_17(MemoryState(stored))
    kills = [f for f in findings if "OOMKilled" in dict(f.fields)["Signature"]]
    assert [dict(f.fields)["Count"].endswith("new: not seen on a usual day") for f in kills] == [True]


def group(count: int, first: str, traces: list[str], example: str) -> Group:
    return Group(count, first, first, [(first, t) for t in traces], example)


def test_groups_that_now_share_a_signature_merge() -> None:
    day = "2026-11-22"
    stored = {
        day: {
            "fixer": {
                "ERROR: pod worker-<hex>-x2k9p OOMKilled": group(
                    2, "2026-11-22T09:00:00+00:00", ["a", "b"], "pod worker-7d9f8b6c5-x2k9p OOMKilled"
                ),
                "ERROR: pod worker-prcvbrssn-qtcvf OOMKilled": group(
                    3, "2026-11-22T08:00:00+00:00", ["c", "d", "e"], "pod worker-prcvbrssn-qtcvf OOMKilled"
                ),
                "WARNING: pod worker-prcvbrssn-qtcvf OOMKilled": group(
                    1, "2026-11-22T10:00:00+00:00", ["f"], "pod worker-prcvbrssn-qtcvf OOMKilled"
                ),
                OVERFLOW: group(4, "2026-11-22T07:00:00+00:00", ["g"], "anything"),
                "ERROR: (no status message) call-model": group(1, "2026-11-22T07:00:00+00:00", ["h"], ""),
            }
        }
    }
    rekeyed, changed = rekey(stored)
    sigs = rekeyed[day]["fixer"]
    assert changed == 3
    assert sorted(sigs) == [
        "(other signatures)",
        "ERROR: (no status message) call-model",
        "ERROR: pod worker-<pod> OOMKilled",
        "WARNING: pod worker-<pod> OOMKilled",  # the level stays part of the signature
    ]
    merged = sigs["ERROR: pod worker-<pod> OOMKilled"]
    assert (merged.count, merged.first, merged.last) == (5, "2026-11-22T08:00:00+00:00", "2026-11-22T09:00:00+00:00")
    assert merged.traces == ["c", "d", "e"]  # the earliest three of both
    assert merged.example == "pod worker-prcvbrssn-qtcvf OOMKilled"
    # Alerts stay keyed on the larger old group, the one more likely to have alerted already.
    assert merged.alert_signature == "ERROR: pod worker-prcvbrssn-qtcvf OOMKilled"
    assert sigs[OVERFLOW].count == 4 and sigs[OVERFLOW].alert_signature == ""


def test_a_group_whose_example_was_cut_is_re_keyed_from_its_old_signature() -> None:
    example = ("pod worker-prcvbrssn-qtcvf OOMKilled " + "x" * EXAMPLE_CHARS)[:EXAMPLE_CHARS]
    old = "ERROR: pod worker-prcvbrssn-qtcvf OOMKilled xxxx…"  # the message was longer than a signature too
    stored = {"2026-11-22": {"fixer": {old: group(1, "2026-11-22T09:00:00+00:00", ["a"], example)}}}
    rekeyed, _ = rekey(stored)
    assert list(rekeyed["2026-11-22"]["fixer"]) == ["ERROR: pod worker-<pod> OOMKilled xxxx…"]


def test_re_keying_twice_changes_nothing() -> None:
    state = old_state()
    run_16_to_17(state)
    errors = load_groups(state.values[ERRORS_KEY])
    assert rekey(errors) == (errors, 0)


# A Python traceback is longer than the example a group keeps (EXAMPLE_CHARS): its failure is at the end.
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/fixer/agent/loop.py", line 212, in run_step\n    result = tool.call(args)\n'
    '  File "/srv/fixer/agent/tools/db.py", line 88, in call\n    return self.collection.insert_one(doc)\n'
    '  File "/srv/fixer/.venv/lib/python3.11/site-packages/pymongo/collection.py", line 671, in insert_one\n'
    "    self._insert_one(\n"
    '  File "/srv/fixer/agent/tools/db.py", line 40, in save_user\n    raise err\n'
    "pymongo.errors.DuplicateKeyError: E11000 duplicate key error collection: app.users index: email_1 dup key"
)
# What the version-1 masking (commit c73e48f) made of it: the error code was taken for an id.
TRACEBACK_V1 = (
    "ERROR: pymongo.errors.DuplicateKeyError: <id> duplicate key error collection: app.users index: email_1 dup key"
    " (in save_user)"
)


def _v1_state_of_tracebacks(per_day: int, today: int) -> MemoryState:
    """The version-1 state of `per_day` such tracebacks a day for 14 days and `today` of them before 16:00."""
    errors, volume = {}, {}
    for back, n in [(b, per_day) for b in range(1, 15)] + [(0, today)]:
        day = LAST_DAY - timedelta(days=back)
        first = at(day, 9).isoformat()
        errors[day.isoformat()] = {
            "fixer": {
                TRACEBACK_V1: {
                    "n": n,
                    "first": first,
                    "last": first,
                    "traces": [[first, f"fixer-{day:%m%d}-000"]],
                    "example": TRACEBACK[:EXAMPLE_CHARS],
                }
            }
        }
        volume[day.isoformat()] = {"fixer": 200}
    start = at(LAST_DAY - timedelta(days=14), 0).isoformat()
    return MemoryState({ERRORS_KEY: errors, "volume": volume, "errors_read": [start, at(LAST_DAY, 16).isoformat()]})


def test_a_traceback_known_before_the_upgrade_is_not_new_after_it() -> None:
    """Eight a usual day, ten by 16:00 and six more by 17:00: twice the usual, no burst, one signature."""
    state = _v1_state_of_tracebacks(per_day=8, today=10)
    rows = [o for n in range(10, 16) for o in trace("fixer", LAST_DAY, n, error=TRACEBACK, start=at(LAST_DAY, 16, n))]
    source = ReplaySource.from_observations(rows, host=HOST, project_id=PROJECT, strict_fields=True)
    window = RunWindow(at(LAST_DAY, 16), at(LAST_DAY, 17))
    ctx = RunContext(window=window, now=window.end, source=source, state=state)
    findings = list(EventsMonitor(EventsConfig()).run(ctx))
    assert [dict(f.fields)["Count"] for f in findings] == []
    today = load_groups(state.values[ERRORS_KEY])[LAST_DAY.isoformat()]["fixer"]
    assert {sig: g.count for sig, g in today.items()} == {
        "ERROR: pymongo.errors.DuplicateKeyError: E11000 duplicate key error collection: app.users index: email_1"
        " dup key (in save_user)": 16
    }


def test_a_traceback_burst_alerted_before_the_upgrade_keeps_its_key() -> None:
    """Twenty by 16:00 (a burst the version-1 run alerted) and six more: the alert keeps its fingerprint."""
    state = _v1_state_of_tracebacks(per_day=8, today=20)
    rows = [o for n in range(20, 26) for o in trace("fixer", LAST_DAY, n, error=TRACEBACK, start=at(LAST_DAY, 16, n))]
    source = ReplaySource.from_observations(rows, host=HOST, project_id=PROJECT, strict_fields=True)
    window = RunWindow(at(LAST_DAY, 16), at(LAST_DAY, 17))
    ctx = RunContext(window=window, now=window.end, source=source, state=state)
    findings = list(EventsMonitor(EventsConfig()).run(ctx))
    v1_key = f"signature:fixer:{hashlib.sha256(TRACEBACK_V1.encode()).hexdigest()[:12]}:{LAST_DAY}"
    assert [(f.dedupe_key, dict(f.fields)["Count"].split(" as of")[0]) for f in findings] == [(v1_key, "26")]
    assert state.values[PENDING_KEY] == {}  # the stored group found its signature
