"""Explicit name -> implementation tables, one per extension point.

Entries are dotted paths imported on first use, so `run-monitor cost` never imports the embedding
stack that `drift` needs.
"""

from __future__ import annotations

import importlib
from typing import Any

from monitors.contracts.errors import UnknownMonitorError

MONITORS: dict[str, str] = {
    "cost": "monitors.cost.monitor:CostSpikeMonitor",
    "drift": "monitors.drift.monitor:GoalDriftMonitor",
    "audit": "monitors.audit.monitor:ToolSequenceMonitor",
    "events": "monitors.events.monitor:EventsMonitor",
}

NOTIFIERS: dict[str, str] = {
    "alertmanager": "monitors.notifiers.alertmanager:AlertmanagerNotifier",
    "discord": "monitors.notifiers.discord:DiscordNotifier",
    "email": "monitors.notifiers.email:EmailNotifier",
    "mattermost": "monitors.notifiers.mattermost:MattermostNotifier",
    "pagerduty": "monitors.notifiers.pagerduty:PagerDutyNotifier",
    "slack": "monitors.notifiers.slack:SlackNotifier",
    "stdout": "monitors.notifiers.stdout:StdoutNotifier",
    "teams": "monitors.notifiers.teams:TeamsNotifier",
    "webhook": "monitors.notifiers.webhook:WebhookChannelNotifier",
}


def _load(table: dict[str, str], name: str, what: str) -> Any:
    try:
        target = table[name]
    except KeyError:
        valid = ", ".join(sorted(table))
        raise UnknownMonitorError(f"Unknown {what}: {name!r} (valid: {valid})") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def monitor_class(name: str) -> Any:
    return _load(MONITORS, name, "monitor")


def notifier_class(kind: str) -> Any:
    return _load(NOTIFIERS, kind, "notifier kind")
