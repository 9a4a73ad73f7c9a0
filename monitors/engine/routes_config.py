"""`routes` and `default_route` of monitors.yaml: the Route model, and the checks of what a route names.

The checks read the raw sections, so they run also when another part of the file is broken: `validate`
lists a route naming an unknown monitor together with a mistyped key elsewhere, in one pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitors.contracts.findings import Severity
from monitors.contracts.values import Duration, format_duration
from monitors.engine.registry import MONITORS


class Route(BaseModel):
    """One entry of `routes` (or the `default_route`): which findings go to which channels, and how."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    monitors: list[str] = Field(default_factory=lambda: ["*"], description="Monitor names or '*'.")
    kinds: list[str] | None = Field(None, description="Only these finding kinds (e.g. budget, loop).")
    min_severity: Severity = Field(Severity.WARNING, description="info, warning or critical.")
    channels: list[str] = Field(description="Channel names from `channels`.")
    group_by: list[str] | None = Field(
        None,
        description="Finding labels that make one incident (agent, user, session, day, ...): findings "
        "that share them go out as one message listing every part.",
    )
    group_interval: Duration | None = Field(
        None,
        description="With group_by: once a group was sent, later parts no louder than what was sent wait "
        "and go together at most this often; a louder part goes at once. Default: no waiting.",
    )
    send_resolved: bool = Field(False, description="Also send a notice when a finding no longer holds.")

    @field_validator("min_severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Severity:
        return Severity.parse(value)

    def matches(self, monitor: str, kind: str, severity: Severity) -> bool:
        return (
            ("*" in self.monitors or monitor in self.monitors)
            and (self.kinds is None or kind in self.kinds)
            and severity >= self.min_severity
        )


def route_problems(
    routes: Any, default_route: Any, channel_kinds: Mapping[str, str | None], retention: timedelta | None
) -> Iterator[str]:
    """What each route names that is not there: channels (`channel_kinds`: name -> kind, None when
    unknown), monitors, a group_interval without group_by or longer than the outbox keeps (`retention`,
    None when unknown). A route that does not validate is skipped: its own problems are reported."""
    raw = [(f"routes.{i}", body) for i, body in enumerate(routes)] if isinstance(routes, list) else []
    if isinstance(default_route, dict):
        raw.append(("default_route", default_route))
    for where, body in raw:
        try:
            route = Route.model_validate(body)
        except (ValidationError, TypeError):
            continue
        yield from _route_problems(where, route, channel_kinds, retention)


def _route_problems(
    where: str, route: Route, channel_kinds: Mapping[str, str | None], retention: timedelta | None
) -> Iterator[str]:
    for channel in route.channels:
        if channel not in channel_kinds:
            yield f"{where}.channels: unknown channel {channel!r} (defined: {', '.join(channel_kinds)})"
        elif channel_kinds[channel] == "alertmanager":
            # Alertmanager routes by itself; its channel picks findings with its own monitors/min_severity.
            yield f"{where}.channels: {channel!r} is an alertmanager channel, which takes no routes (it gets "
            "every open finding matching its own monitors and min_severity)"
    for monitor in route.monitors:
        if monitor != "*" and monitor not in MONITORS:
            yield f"{where}.monitors: unknown monitor {monitor!r} (valid: {', '.join(MONITORS)})"
    if route.group_interval is not None and not route.group_by:
        yield f"{where}.group_interval: needs group_by (which findings make one group)"
    if route.group_interval is not None and retention is not None and route.group_interval > retention:
        # The interval reads when the group was last sent from the outbox: a pruned row would be forgotten.
        yield (
            f"{where}.group_interval: {format_duration(route.group_interval)} is longer than "
            f"store.outbox_retention ({format_duration(retention)}); raise the retention"
        )
