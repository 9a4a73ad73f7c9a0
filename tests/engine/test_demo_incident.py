"""The demo week's Saturday runaway (llm-fix on 2026-11-21) as the demo channel receives it: grouped by
agent and day with a 3-hour interval, six messages instead of eleven, naming every budget it broke and
the audit's runaway chain, with the resolved notices the route asks for, and no part held longer than
the interval. Cost runs hourly and audit daily, as schedules.yaml has them (drift is not part of it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitors.app.demo import run_demo


def _messages(out: str) -> list[str]:
    """The terminal channel's messages: each starts with a '[SEVERITY]' line."""
    messages: list[str] = []
    for line in out.splitlines():
        if line.startswith("["):
            messages.append(line)
        elif messages and line.startswith(" "):
            messages[-1] += "\n" + line
    return messages


def test_saturday_runaway_is_six_messages_naming_every_part_none_held_past_the_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_demo(("cost", "audit"), fmt="text", echo=lambda _: None, store_dir=tmp_path) == 0
    saturday = [m for m in _messages(capsys.readouterr().out) if "llm-fix" in m and "2026-11-21" in m]
    assert len(saturday) == 6, [m.splitlines()[0] for m in saturday]
    text = "\n".join(saturday)
    for budget in ("budget per-user at 80%", "budget per-user at 100%", "budget per-agent at 100%",
                   "budget global at 100%", "budget global heading past its cap",
                   "budget per-agent heading past its cap"):  # fmt: skip
        assert f"Cost {budget}" in text, budget
    # The per-agent and global 80% warnings waited in the group until their own pages came: a page makes
    # its warning redundant, so only the page goes (the per-user warning went before its page, alone).
    for replaced in ("budget per-agent at 80%", "budget global at 80%"):
        assert f"Cost {replaced}" not in text, replaced
    assert text.count("[RESOLVED] Cost budget") == 2  # both projections, once the day closed, titled as they fired
    heads = [m.splitlines()[0] for m in saturday]
    assert heads[0].startswith("[WARNING] Cost budget per-user at 80%")
    assert heads[1].startswith("[CRITICAL] Cost budget per-user at 100%")  # louder than the group's first: at once
    # The page at 09:15 opened the group: what came next waited for the interval, then went together.
    assert heads[2].startswith("[CRITICAL] 3 alerts, one incident (agent=llm-fix day=2026-11-21): Cost budget per-")
    assert "(1 critical, 2 warning)" in saturday[2]
    assert heads[3].startswith("[CRITICAL] Cost budget global at 100%")
    assert heads[4].startswith("[RESOLVED] 2 alerts, one incident")
    assert heads[5] == "[CRITICAL] llm-fix: runaway tool-call chain in session llm-fix-1121-4883"
    # Each grouped message went with the run that observed its newest part, at most 3 hours after its oldest.
    for message in saturday[2:4]:
        hours = sorted(int(h) for h in re.findall(r"observed 2026-11-21 (\d\d):15 UTC", message))
        assert hours and hours[-1] - hours[0] <= 3, hours
