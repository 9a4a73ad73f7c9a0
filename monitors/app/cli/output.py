"""What a monitor-running command prints on stdout once its runs are done.

Text: one summary line per run, printed as each run ends. JSON: one document, so that stdout parses
whole (`| python -m json.tool`, `| jq`): a single monitor's summary object, or for `run-monitor all`
`{"runs": [...]}` with one summary per monitor. Alertmanager sync results, when a channel has them,
go into that document under "alertmanager" instead of lines of their own. A run that failed also says
why in one `error:` line on stderr with JSON, where no person reads stdout.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click


class RunOutput:
    """Collects a command's summaries; `close` prints the JSON document (text lines go out at once)."""

    def __init__(self, fmt: str, echo: Callable[[str], None], *, several: bool) -> None:
        self.fmt = fmt
        self.several = several  # `all`: a list of runs, even when only one monitor is enabled
        self._echo = echo
        self._runs: list[dict[str, Any]] = []
        self._synced: list[dict[str, Any]] = []

    def run(self, summary: Any) -> None:
        """A pipeline RunSummary."""
        if self.fmt == "json":
            self._runs.append(summary.to_dict())
            if summary.error:
                # In text the summary line on stdout says it; JSON goes to a parser, so a person reading
                # the terminal (or the CronJob's log of stderr) gets the one line there.
                click.echo(f"error: {summary.monitor}: {' '.join(str(summary.error).split())}", err=True)
        else:
            self._echo(summary.line())

    def disabled(self, monitor: str) -> None:
        if self.fmt == "json":
            self._runs.append({"monitor": monitor, "status": "disabled"})
        else:
            self._echo(f"monitor={monitor} status=disabled")

    def not_run(self, monitor: str, reason: str) -> None:
        """A monitor asked for that could not start (its problem lines go to stderr at the end)."""
        if self.fmt == "json":
            self._runs.append({"monitor": monitor, "status": "not_run", "error": reason})
        else:
            self._echo(f"monitor={monitor} status=not_run error={reason!r}")

    def synced(self, result: Any) -> None:
        """An Alertmanager sync result (monitors.metrics.alert_sync)."""
        if self.fmt == "json":
            self._synced.append(result.to_dict())
        else:
            self._echo(result.line())

    def close(self) -> None:
        """Print the JSON document; nothing when no run got as far as a summary (the error says why)."""
        if self.fmt != "json" or not (self._runs or self._synced):
            return
        extra = {"alertmanager": self._synced} if self._synced else {}
        if self.several or len(self._runs) != 1:
            document: dict[str, Any] = {"runs": self._runs, **extra}
        else:
            document = {**self._runs[0], **extra}
        self._echo(json.dumps(document, default=str))
