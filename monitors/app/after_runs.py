"""What follows a batch of runs, for the CLI and the scheduler alike: Alertmanager and metrics.

Both are optional and imported only when configured, so `run-monitor cost` without them starts as
fast as before. A failed Alertmanager post makes the command exit 1, like a chat that could not be
reached; a failed metrics push or textfile write is only a warning (the alerts went out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from monitors.engine.config import Settings
from monitors.store.store import Store


def after_runs(
    settings: Settings,
    store: Store,
    notifiers: Mapping[str, Any],
    monitors: Iterable[str],
    *,
    now: datetime,
    echo: Callable[[str], None],
    on_sync: Callable[[Any], None] | None = None,
) -> int:
    """Sync open findings to Alertmanager and publish the series; return 1 when Alertmanager failed.

    Each sync result goes to `on_sync` when given (the CLI puts it in its output), else to `echo` as a line.
    """
    code = 0
    if any(getattr(c, "kind", "") == "alertmanager" for c in settings.channel_configs.values()):
        from monitors.metrics.alert_sync import sync_alertmanager

        for result in sync_alertmanager(store, notifiers, now=now):
            if on_sync is not None:
                on_sync(result)
            else:
                echo(result.line())
            code = max(code, 0 if result.ok else 1)
    if settings.metrics.pushgateway_url or settings.metrics.textfile_path:
        from monitors.metrics.publish import publish

        publish(settings, store, monitors)  # problems are logged as warnings, one line each
    return code
