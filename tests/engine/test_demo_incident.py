"""The demo week's Saturday runaway (llm-fix on 2026-11-21) as the demo channel receives it: at most 3
messages, naming every budget it broke and the audit's runaway chain, with the resolved notices the
route asks for. Cost runs hourly and audit daily, as schedules.yaml has them (drift is not part of it)."""

from __future__ import annotations

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


def test_saturday_runaway_is_at_most_three_messages_naming_every_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_demo(("cost", "audit"), fmt="text", echo=lambda _: None, store_dir=tmp_path) == 0
    saturday = [m for m in _messages(capsys.readouterr().out) if "llm-fix" in m and "2026-11-21" in m]
    assert len(saturday) == 3, [m.splitlines()[0] for m in saturday]
    text = "\n".join(saturday)
    for budget in ("budget per-user at 80%", "budget per-user at 100%", "budget per-agent at 80%",
                   "budget per-agent at 100%", "budget global at 80%", "budget global at 100%",
                   "budget global heading past its cap", "budget per-agent heading past its cap"):  # fmt: skip
        assert f"Cost {budget}" in text, budget
    assert "llm-fix: runaway tool-call chain in session llm-fix-1121-4883" in text
    assert text.count("[RESOLVED] Cost budget") == 2  # both projections, once the day closed, titled as they fired
    first, page, incident = (m.splitlines()[0] for m in saturday)
    assert first.startswith("[WARNING] Cost budget per-user at 80%")
    assert page.startswith("[CRITICAL] Cost budget per-user at 100%")
    # Both projections waited for the group and ended (the day closed) before it went: each is one part,
    # shown by its resolved notice, not a firing part beside its own end.
    assert incident.startswith("[CRITICAL] 7 alerts, one incident (agent=llm-fix day=2026-11-21)")
    assert "(3 critical, 2 warning, 2 resolved)" in saturday[2]
