"""The upgrade from the version-2 masking to version 3 (StatefulSet pods' ordinals and dated model
snapshots masked) keeps the stored history: known errors are not "new", and a burst alerted before the
upgrade keeps its fingerprint.

`state_before_signature_v3.json` is the state the events monitor wrote with the version-2 masking: 14
days of crash loops of the fixer agent's Redis, a StatefulSet of three, 8 a day in turn on redis-0,
redis-1 and redis-2 (one failure under three signatures), and a run over the last day until 16:00 that
alerted a burst of 12 rate limits of gpt-4o-2024-08-06 (a signature that masked the model whole as <id>).
The rows below are the ones that run read, from `tests/events/data.py`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

from monitors.contracts.findings import Finding, RunWindow
from monitors.contracts.monitor import MemoryState, RunContext
from monitors.events.config import EventsConfig
from monitors.events.monitor import ERRORS_KEY, PENDING_KEY, PENDING_KEYS, SIGNATURE_VERSION_KEY, EventsMonitor
from monitors.events.signature import SIGNATURE_VERSION, normalise
from monitors.events.signature_v1 import normalise_v1
from monitors.events.signature_v2 import normalise_v2
from monitors.events.tally import EXAMPLE_CHARS, load_groups
from monitors.sources.replay import ReplaySource
from tests.events.data import HOST, LAST_DAY, PROJECT, at, rate_limits, redis_backoffs, trace, week

OLD_STATE = Path(__file__).with_name("state_before_signature_v3.json")
OLD_BURST = "ERROR: litellm.RateLimitError: rate limit reached for <id> (request <id>)"
OLD_BURST_KEY = "signature:fixer:3e34fcf3c2ad:2026-11-22"
BACKOFF = "ERROR: Back-off restarting failed container redis in pod redis-<pod>_agents(<uuid>)"


def rows_until_16() -> list:
    history = [o for back in range(1, 15) for o in redis_backoffs("fixer", LAST_DAY - timedelta(days=back), 8, hour=6)]
    return (
        week() + history + redis_backoffs("fixer", LAST_DAY, 10, hour=9) + rate_limits("fixer", LAST_DAY, 12, hour=15)
    )


def run_16_to_17(state: MemoryState, rows: list | None = None) -> list[Finding]:
    """Six more crash loops (16 that day: twice the usual 8, under the 3x that alerts) and one more rate
    limit, unless `rows` says what the hour holds."""
    if rows is None:
        rows = redis_backoffs("fixer", LAST_DAY, 6, hour=16, first=10) + rate_limits(
            "fixer", LAST_DAY, 1, hour=16, first=12
        )
        rows = rows_until_16() + rows
    source = ReplaySource.from_observations(rows, host=HOST, project_id=PROJECT, strict_fields=True)
    window = RunWindow(at(LAST_DAY, 16), at(LAST_DAY, 17))
    ctx = RunContext(window=window, now=window.end, source=source, state=state)
    return list(EventsMonitor(EventsConfig()).run(ctx))


def test_the_fixture_is_the_version_2_masking_splitting_one_failure_per_replica() -> None:
    stored = json.loads(OLD_STATE.read_text())
    assert stored[SIGNATURE_VERSION_KEY] == 2
    day = stored[ERRORS_KEY]["2026-11-22"]["fixer"]
    assert len([s for s in day if "redis-" in s]) == 3 and day[OLD_BURST]["n"] == 12


def test_after_the_upgrade_known_errors_are_not_new_and_the_alerted_burst_keeps_its_key() -> None:
    state = MemoryState(json.loads(OLD_STATE.read_text()))
    findings = run_16_to_17(state)
    assert [(f.kind, f.dedupe_key) for f in findings] == [("error_burst", OLD_BURST_KEY)]
    fields = dict(findings[0].fields)
    assert fields["Signature"] == "ERROR: litellm.RateLimitError: rate limit reached for gpt-4o-<date> (request <id>)"
    assert fields["Count"].startswith("13 as of 17:00 UTC")
    assert state.values[SIGNATURE_VERSION_KEY] == SIGNATURE_VERSION == 3
    # The 16 crash loops of the day are one signature now, and their history came along: 8 a usual day.
    errors = load_groups(state.values[ERRORS_KEY])
    assert errors["2026-11-22"]["fixer"][BACKOFF].count == 16
    assert {errors[(LAST_DAY - timedelta(days=b)).isoformat()]["fixer"][BACKOFF].count for b in range(1, 15)} == {8}


def test_the_same_run_without_the_stored_history_would_call_the_crash_loops_new() -> None:
    """What the re-key prevents: the same hour judged with no usable history for the new signature."""
    stored = json.loads(OLD_STATE.read_text())
    stored[ERRORS_KEY] = {}
    findings = run_16_to_17(MemoryState(stored))
    loops = [f for f in findings if "redis-<pod>" in dict(f.fields)["Signature"]]
    assert [dict(f.fields)["Count"].endswith("new: not seen on a usual day") for f in loops] == [True]


# A traceback is longer than the example a group keeps: its failure (and the model it names) is cut off.
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/fixer/agent/loop.py", line 212, in run_step\n    result = tool.call(args)\n'
    '  File "/srv/fixer/agent/billing.py", line 88, in charge\n    return price_of(usage)\n'
    '  File "/srv/fixer/.venv/lib/python3.11/site-packages/acme_prices/table.py", line 671, in lookup\n'
    "    return TABLE[model]\n"
    '  File "/srv/fixer/agent/billing.py", line 40, in price_of\n    raise err\n'
    "pymongo.errors.WriteError: E11000 no price for model claude-3-5-sonnet-20241022 (cache pod redis-0)"
)


def _state_of_tracebacks(version: int, signature: str, today: int, pending: dict | None = None) -> MemoryState:
    """The state of 8 such tracebacks a day for 14 days and `today` of them before 16:00, stored under
    `signature` by a release of masking `version`, with the pending groups it left (`pending`)."""
    errors, volume = {}, {}
    for back, n in [(b, 8) for b in range(1, 15)] + [(0, today)]:
        day = LAST_DAY - timedelta(days=back)
        first = at(day, 9).isoformat()
        group = {"n": n, "first": first, "last": first, "traces": [[first, f"fixer-{day:%m%d}-000"]]}
        errors[day.isoformat()] = {"fixer": {signature: group | {"example": TRACEBACK[:EXAMPLE_CHARS]}}}
        volume[day.isoformat()] = {"fixer": 200}
    start = at(LAST_DAY - timedelta(days=14), 0).isoformat()
    values = {ERRORS_KEY: errors, "volume": volume, "errors_read": [start, at(LAST_DAY, 16).isoformat()]}
    values |= {SIGNATURE_VERSION_KEY: version} | ({PENDING_KEY: pending} if pending is not None else {})
    return MemoryState(values)


def _tracebacks_16_to_17(state: MemoryState, first: int) -> list[Finding]:
    rows = [
        o
        for n in range(first, first + 6)
        for o in trace("fixer", LAST_DAY, n, error=TRACEBACK, start=at(LAST_DAY, 16, n))
    ]
    return run_16_to_17(state, rows)


def _key(signature: str) -> str:
    return f"signature:fixer:{hashlib.sha256(signature.encode()).hexdigest()[:12]}:{LAST_DAY}"


V2 = f"ERROR: {normalise_v2(TRACEBACK)}"
NOW = f"ERROR: {normalise(TRACEBACK)}"


def test_the_traceback_is_one_whose_group_the_text_of_its_old_signature_cannot_name() -> None:
    assert "<id>" in V2 and "claude-3-5-sonnet-<date>" in NOW
    assert f"ERROR: {normalise(V2.removeprefix('ERROR: '))}" != NOW


def test_a_traceback_known_before_the_upgrade_to_version_3_is_not_new_after_it() -> None:
    """Eight a usual day, ten by 16:00 and six more by 17:00: twice the usual, no burst, one signature."""
    state = _state_of_tracebacks(2, V2, today=10)
    assert _tracebacks_16_to_17(state, first=10) == []
    today = load_groups(state.values[ERRORS_KEY])[LAST_DAY.isoformat()]["fixer"]
    assert {sig: g.count for sig, g in today.items()} == {NOW: 16}
    assert state.values[PENDING_KEYS[2]] == {}  # the stored group found its signature


def test_a_traceback_burst_alerted_before_the_upgrade_to_version_3_keeps_its_key() -> None:
    state = _state_of_tracebacks(2, V2, today=20)
    findings = _tracebacks_16_to_17(state, first=20)
    assert [(f.dedupe_key, dict(f.fields)["Count"].split(" as of")[0]) for f in findings] == [(_key(V2), "26")]


def test_a_group_still_pending_from_the_upgrade_to_version_2_is_carried_through_the_next() -> None:
    """A version-1 group that the upgrade to version 2 keyed from its signature's text, and no error of
    which came before the upgrade to version 3: the first one after it still finds the group."""
    v1 = f"ERROR: {normalise_v1(TRACEBACK)}"
    provisional = f"ERROR: {normalise_v2(v1.removeprefix('ERROR: '))}"
    # The upgrade to version 3 re-keys that group again from its text (the pod's ordinal), so the pending
    # entry must follow it there.
    assert len({v1, V2, NOW}) == 3 and provisional != V2 and "redis-0" in provisional
    state = _state_of_tracebacks(2, provisional, today=20, pending={"fixer": {v1: provisional}})
    findings = _tracebacks_16_to_17(state, first=20)
    # Keyed on the signature the group had when it was alerted: its version-1 one.
    assert [(f.dedupe_key, dict(f.fields)["Count"].split(" as of")[0]) for f in findings] == [(_key(v1), "26")]
    today = load_groups(state.values[ERRORS_KEY])[LAST_DAY.isoformat()]["fixer"]
    assert {sig: g.count for sig, g in today.items()} == {NOW: 26}
    assert state.values[PENDING_KEY] == {}
