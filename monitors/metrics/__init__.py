"""Prometheus and Alertmanager: series about the monitors, and open findings kept as alerts.

- `series`: the table of exported series and the collector that reads them from the store;
- `readings`, `spend`: the store queries and the cost ledger's spend with capped label values;
- `publish`: Pushgateway push per monitor (its group replaced) and node-exporter textfile, after runs;
- `listener`: `/metrics` and `/healthz` for `run-monitor scheduler`;
- `alert_sync`: every open finding re-posted to alertmanager channels after each run.

The app layer calls these after runs (the engine never imports this package). docs/metrics.md lists
every series.
"""
