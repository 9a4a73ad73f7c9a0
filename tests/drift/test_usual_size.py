"""The `too_large` baseline counts each change request once, at its latest size, however often it is pushed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitors.contracts.forge import MemoryChangeCache
from monitors.contracts.monitor import MemoryState
from monitors.drift.checks import updated_history, usual_sizes
from tests.fakes.gitlab_server import FakeGitLab, running
from tests.test_goal_drift import TOKEN, commit, make_ctx, obs_for_trace, run

REPO = "group/app"
AGENT = "parser-bot"


def grown(path: str, lines: int) -> dict:
    """A GitLab diff entry adding `lines` lines to `path`."""
    added = "".join(f"+parse_step_{i}()\n" for i in range(lines))
    return {"old_path": path, "new_path": path, "diff": f"@@ -1,1 +1,{lines + 1} @@\n context\n{added}"}


def push(gitlab: FakeGitLab, iid: int, head: str, lines: int) -> None:
    gitlab.add_mr(
        REPO,
        iid,
        [commit(head, "2026-03-10T07:00:00Z", f"Parser fix {head}")],
        title=f"Parser fix {iid}",
        diffs=[grown(f"app/parser_{iid}.py", lines)],
    )


def trace(trace_id: str, iid: int) -> list:
    return obs_for_trace(trace_id, AGENT, {"objective": "Fix the parser", "mr_iid": iid, "repo": REPO})


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with running(FakeGitLab(token=TOKEN)) as server:
        yield server


def test_a_change_request_pushed_five_times_counts_once_in_the_agents_usual_size(gitlab: FakeGitLab) -> None:
    state, cache = MemoryState(), MemoryChangeCache()

    def run_with(observations: list) -> list:
        ctx = make_ctx(observations, gitlab, state)
        ctx.change_cache = cache  # the store keeps judged heads between runs
        return run(ctx)

    # Four small change requests, and one of 100 lines the agent pushes five times (a new trace each time).
    for iid in range(1, 5):
        push(gitlab, iid, f"small{iid}", 10)
    push(gitlab, 5, "big0", 100)
    run_with([o for iid in range(1, 6) for o in trace(f"t-{iid}", iid)])
    for n in range(1, 5):
        push(gitlab, 5, f"big{n}", 100)
        run_with(trace(f"t-5-push{n}", 5))
    assert usual_sizes(state.get(f"churn:{AGENT}"), "") == [10, 10, 10, 10, 100]

    # A 250-line change request is 25x this agent's usual 10; counted per head, the 100 would be its median.
    push(gitlab, 6, "huge", 250)
    findings = run_with(trace("t-6", 6))
    (alert,) = [f for f in findings if f.kind == "drift"]
    assert dict(alert.fields)["Why"].startswith(
        "too large: 250 lines changed, 25.0x this agent's usual 10 (median of its last 5 change requests"
    )


def test_the_judged_change_request_is_left_out_of_its_own_baseline() -> None:
    stored = updated_history(None, "gitlab:group/app!5", 100)
    stored = updated_history(stored, "gitlab:group/app!6", 20)
    assert updated_history(stored, "gitlab:group/app!5", 100) is None  # same size: nothing to write
    stored = updated_history(stored, "gitlab:group/app!5", 140)  # pushed again: its latest size, moved last
    assert stored == [["gitlab:group/app!6", 20], ["gitlab:group/app!5", 140]]
    assert usual_sizes(stored, "gitlab:group/app!5") == [20]


def test_the_older_format_of_one_number_per_head_still_reads() -> None:
    assert usual_sizes([40, 60, 55], "gitlab:group/app!5") == [40, 60, 55]
    assert updated_history([40, 60], "gitlab:group/app!5", 70) == [[None, 40], [None, 60], ["gitlab:group/app!5", 70]]
    assert usual_sizes(["x", True, [1, "y"], {"a": 1}], "") == []  # hand-edited or foreign state: ignored
