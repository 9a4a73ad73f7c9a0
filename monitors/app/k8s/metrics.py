"""The scheduler Deployment's metrics endpoint: the port, Prometheus scrape annotations, a liveness probe.

`run-monitor scheduler --listen 0.0.0.0:9464` serves /metrics and /healthz (monitors.metrics.listener).
The `prometheus.io/*` annotations are the convention Prometheus' Kubernetes service discovery examples
(and most Helm charts) relabel on. The liveness probe is served on its own port by
`run-monitor scheduler --health-port` (monitors/app/scheduler/health.py): it fails when the loop
stalls or a job runs far past its deadline. It says nothing about Langfuse or the store: a restart
fixes neither, and the alert rules in deploy/prometheus cover stale and failing monitors.
"""

from __future__ import annotations

from typing import Any

METRICS_PORT = 9464  # the port OpenTelemetry's Prometheus exporter uses by default; free in our pod
LISTEN_ARGS = ["--listen", f"0.0.0.0:{METRICS_PORT}"]


def scrape_annotations() -> dict[str, str]:
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT), "prometheus.io/path": "/metrics"}


def add_metrics_endpoint(container: dict[str, Any]) -> dict[str, Any]:
    """The container with the metrics port (the liveness probe is on the health port: scheduler/health.py)."""
    container["ports"] = [*container.get("ports", []), {"containerPort": METRICS_PORT, "name": "metrics"}]
    return container
