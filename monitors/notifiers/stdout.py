"""Stdout notifier: prints alerts to the terminal for dry runs, the demo and local debugging.

Setup: nothing to create. In monitors.yaml:

    channels:
      console: {kind: stdout}                 # readable text
      console-json: {kind: stdout, format: json, stream: stderr}   # one JSON object per line

`run-monitor NAME --dry-run` sends everything here instead of the configured channels. It never fails
a run: a closed or broken stream is reported as a failed DeliveryResult, not raised. Text is cleaned of
control characters (so agent text cannot send ANSI escape sequences to the terminal) and shortened.
"""

from __future__ import annotations

import json
import sys
from typing import Any, ClassVar, Literal, TextIO

import requests
from pydantic import BaseModel, ConfigDict

from monitors.contracts.message import Message
from monitors.notifiers.base import DeliveryResult
from monitors.support.retry import RetryPolicy
from monitors.support.safe_text import plain

LINE_MAX = 2000


class StdoutNotifier:
    """Writes each message to stdout or stderr as text or as one JSON line."""

    kind: ClassVar[str] = "stdout"
    max_body_chars: ClassVar[int] = 20000  # a terminal has no limit; this keeps a runaway summary readable
    request_timeout: ClassVar[float] = 0.0  # no network

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        kind: Literal["stdout"] = "stdout"
        stream: Literal["stdout", "stderr"] = "stdout"
        format: Literal["text", "json"] = "text"

    def __init__(
        self,
        name: str,
        config: Config | None = None,
        *,
        retry: RetryPolicy | None = None,  # accepted for a uniform constructor; nothing to retry
        session: requests.Session | None = None,
    ) -> None:
        self.name = name
        self.config = config or self.Config()

    def __repr__(self) -> str:
        return f"<StdoutNotifier {self.name} {self.config.stream}>"

    def render(self, message: Message) -> str:
        """The exact text written for `message` (ends with a newline)."""
        if self.config.format == "json":
            return json.dumps(_json_safe(message), ensure_ascii=False, sort_keys=True) + "\n"
        return render_text(message)

    def deliver(self, message: Message) -> DeliveryResult:
        # Looked up at call time so a redirected sys.stdout (pytest's capsys, the CLI runner) is used.
        stream: TextIO = sys.stdout if self.config.stream == "stdout" else sys.stderr
        try:
            stream.write(self.render(message))
            stream.flush()
        except (OSError, ValueError) as exc:
            return DeliveryResult(False, False, None, f"could not write to {self.config.stream} ({type(exc).__name__})")
        return DeliveryResult(True, False, None, "printed")


def render_text(message: Message) -> str:
    """A readable terminal rendering: severity marker and title, summary, fields, sections, links."""
    mark, title = message.marked_title()
    lines = [f"{mark} {plain(title, 300)}"]
    if message.summary.strip():
        lines += _indent(plain(message.summary, StdoutNotifier.max_body_chars))
    width = max((len(plain(label, 60)) for label, _ in message.fields), default=0)
    for label, value in message.fields:
        head = f"{plain(label, 60) + ':':<{width + 1}} "
        # A value of several lines (a drift alert's reasons) keeps to its column under the label's value.
        lines += _indent(head + plain(value, LINE_MAX).replace("\n", "\n" + " " * len(head)))
    for section in message.sections:
        lines.append(f"  == {plain(section.heading, 200)} ==")
        lines += [f"    {plain(line, LINE_MAX)}" for line in section.lines]
    for link in message.links:
        lines.append(f"  -> {plain(link.label, 200)}: {plain(link.url, LINE_MAX)}")
    if message.footer.strip():
        lines.append(f"  -- {plain(message.footer, 500)}")
    return "\n".join(lines) + "\n\n"


def _indent(text: str) -> list[str]:
    return [f"  {line}" for line in text.split("\n")]


def _json_safe(message: Message) -> dict[str, Any]:
    data = message.to_dict()
    data["title"] = plain(message.title, 300)
    data["summary"] = plain(message.summary, StdoutNotifier.max_body_chars)
    data["fields"] = [[plain(k, 60), plain(v, LINE_MAX)] for k, v in message.fields]
    data["footer"] = plain(message.footer, 500)
    return data
