"""Scripted faults shared by the fake forges: answer matching requests with an error, a delay, headers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Fault:
    """Answer the next `times` requests whose path contains `match` with `status` (after `delay` s)."""

    match: str = ""
    status: int = 500
    times: int = 1
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None


def take_fault(faults: list[Fault], lock: threading.Lock, path: str) -> Fault | None:
    """The first fault that still applies to `path`, with one use of it spent."""
    with lock:
        for fault in faults:
            if fault.match in path and fault.times > 0:
                fault.times -= 1
                return fault
    return None
