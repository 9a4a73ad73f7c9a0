"""After runs: push the series to a Pushgateway and/or write them for node-exporter's textfile collector.

Pushgateway: one group per monitor (`/metrics/job/langfuse-monitors/monitor/<name>`), replaced whole
(HTTP PUT) by each push. A monitor's push carries its own run health (and, for cost, the spend series),
all read from the store: a failed run pushes its failure next to the last success time the store holds,
so a failure never erases when the monitor last worked, and a run of another monitor never touches it.
Replacing the group is what lets a series go away: the Pushgateway drops a pushed family that has no
sample, so a push-add would leave the last run's findings, yesterday's budget values or an old
projection in place after a run that has none. When the store cannot be read, the push only adds
`store_up 0` (HTTP POST) and the group keeps what the store last said. The outbox series, which belong
to no monitor, go to their own group (`.../monitor/_outbox`). Scrape the Pushgateway with
`honor_labels: true`.

Textfile: every series, written atomically (a temporary file in the same directory, then a rename)
so node-exporter never reads half a file.

A failed push or write is a warning, never a failed run: the run's alerts went out; what is missing is
a metric, and Prometheus notices that through `push_time_seconds` / the textfile's mtime.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.error import URLError
from urllib.parse import unquote, urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, push_to_gateway, pushadd_to_gateway, write_to_textfile
from prometheus_client.exposition import basic_auth_handler, default_handler
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from monitors.contracts.errors import MonitorsError
from monitors.engine.config import Settings
from monitors.metrics.series import StoreCollector, full_name
from monitors.notifiers.base import redact_host
from monitors.store.store import Store

log = logging.getLogger("monitors.metrics")

JOB = "langfuse-monitors"
OUTBOX_GROUP = "_outbox"


@dataclass
class PublishResult:
    pushed: list[str] = field(default_factory=list)  # grouping keys pushed
    wrote: str | None = None  # textfile written
    problems: list[str] = field(default_factory=list)  # one safe line each


def registry_for(store: Store, settings: Settings, **options: Any) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, settings, **options))
    return registry


class _Snapshot(Collector):
    """Series collected once, so a push can first look at them (was the store read?) and then send them."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families

    @property
    def store_read(self) -> bool:
        up = [s.value for f in self.families if f.name == full_name("store_up") for s in f.samples]
        return up == [1.0]


def _snapshot(store: Store, settings: Settings, **options: Any) -> tuple[CollectorRegistry, bool]:
    snapshot = _Snapshot(list(StoreCollector(store, settings, **options).collect()))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(snapshot)
    return registry, snapshot.store_read


def publish(
    settings: Settings,
    store: Store,
    monitors: Iterable[str],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PublishResult:
    """Push the groups of `monitors` (the ones that just ran) and rewrite the textfile, as configured."""
    cfg = settings.metrics
    result = PublishResult()
    if cfg.pushgateway_url:
        ran = list(dict.fromkeys(monitors))
        groups = [
            (name, _snapshot(store, settings, monitors=[name], spend=name == "cost", outbox=False, clock=clock))
            for name in ran
        ]
        if ran:
            groups.append((OUTBOX_GROUP, _snapshot(store, settings, monitors=[], spend=False, clock=clock)))
        url, timeout = cfg.pushgateway_url.get_secret_value(), cfg.timeout.total_seconds()
        for i, (group, (registry, replace)) in enumerate(groups):
            problem, unreachable = _push(url, group, registry, timeout, replace=replace)
            if problem:
                result.problems.append(problem)
            else:
                result.pushed.append(group)
            if unreachable and groups[i + 1 :]:
                # A gateway that cannot be reached would cost every later group its own timeout too.
                skipped = ", ".join(name for name, _ in groups[i + 1 :])
                result.problems.append(f"metrics push of {skipped} skipped: {redact_host(url)} was not reachable")
                break
    if cfg.textfile_path is not None:
        path = cfg.textfile_path
        try:
            write_to_textfile(str(path), registry_for(store, settings, clock=clock))
            result.wrote = str(path)
        except MonitorsError as exc:
            result.problems.append(f"metrics textfile {path}: {exc}")
        except OSError as exc:
            result.problems.append(f"metrics textfile {path}: cannot write ({exc.strerror or type(exc).__name__})")
        except ValueError as exc:  # a series the text format cannot encode: still a warning, not a failed run
            result.problems.append(f"metrics textfile {path}: cannot write ({type(exc).__name__})")
    for problem in result.problems:
        log.warning("%s", problem)
    return result


def _push(
    url: str, group: str, registry: CollectorRegistry, timeout: float, *, replace: bool
) -> tuple[str | None, bool]:
    """Push one group (replacing it, or adding to it). Returns the problem as one line that never holds
    the URL's path or credentials, and whether the gateway could not be reached at all (no HTTP answer)."""
    where = redact_host(url)
    gateway, handler = _with_credentials(url)
    send = push_to_gateway if replace else pushadd_to_gateway
    try:
        send(gateway, job=JOB, registry=registry, grouping_key={"monitor": group}, timeout=timeout, handler=handler)
    except MonitorsError as exc:
        return f"metrics push of monitor={group}: {exc}", False
    except URLError as exc:
        status = getattr(exc, "code", None)
        reason = f"HTTP {status}" if status else f"connection failed ({type(getattr(exc, 'reason', exc)).__name__})"
        return f"metrics push to {where} (monitor={group}) failed: {reason}", status is None
    except (OSError, ValueError) as exc:
        return f"metrics push to {where} (monitor={group}) failed: {type(exc).__name__}", isinstance(exc, OSError)
    return None, False


def _with_credentials(url: str) -> tuple[str, Callable[..., Any]]:
    """`http://user:password@host:9091` -> the URL without them and a handler sending Basic auth
    (urllib would not use credentials written in the URL)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, default_handler
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{parts.port}" if parts.port else ""
    user, password = unquote(parts.username), unquote(parts.password or "")

    def handler(url: str, method: str, timeout: float | None, headers: list, data: bytes) -> Callable[[], None]:
        return basic_auth_handler(url, method, timeout, headers, data, user, password)

    return urlunsplit(parts._replace(netloc=netloc)), handler
