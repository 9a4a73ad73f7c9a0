"""The cost-spike monitor: daily budgets, spikes and projections (`monitor.py` is the monitor class).

- budgets.py   budget/spike/projection config and how a budget's scope maps onto spend
- ledger.py    per-day spend kept in the run state, so closed days are read once
- sync.py      the query plan: incremental observation reads and rationed Metrics v2 aggregates
- baseline.py  robust baseline (median + MAD), spike test, hourly profile and end-of-day projection
- explain.py   the "why" of an alert: contributors against their baseline, the costliest traces
"""
