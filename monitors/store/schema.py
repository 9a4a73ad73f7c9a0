"""Table definitions of the state store (SQLAlchemy Core, portable between SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A time with zone, sent to the database in UTC. SQLite keeps no offset: it stores the wall-clock
    digits as given, so 12:00+02:00 would read back as 12:00Z and compare as 12:00Z, two hours late."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value


TS = UtcDateTime()

migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("applied_at", TS, nullable=False),
)

# Where the last successful run of each monitor stopped reading.
watermarks = sa.Table(
    "watermarks",
    metadata,
    sa.Column("monitor", sa.String(50), primary_key=True),
    sa.Column("until", TS, nullable=False),
)

# One row per fingerprint: what was last sent, for dedupe, escalation and realert.
findings = sa.Table(
    "findings",
    metadata,
    sa.Column("fingerprint", sa.String(400), primary_key=True),
    sa.Column("monitor", sa.String(50), nullable=False),
    sa.Column("first_seen", TS, nullable=False),
    sa.Column("last_seen", TS, nullable=False),
    sa.Column("last_sent", TS),
    sa.Column("sent_rank", sa.Integer),
    sa.Column("times_seen", sa.Integer, nullable=False, default=1),
    # When a run said it no longer holds; cleared when a run sees it again (m009).
    sa.Column("resolved_at", TS),
)

silences = sa.Table(
    "silences",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("monitor", sa.String(50), nullable=False),
    sa.Column("key", sa.String(400)),  # None silences the whole monitor
    sa.Column("until", TS, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("reason", sa.Text),
)

# Messages waiting for (or done with) delivery; a run that dies leaves rows here for the next one.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.String(400), nullable=False),
    sa.Column("channel", sa.String(100), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt", TS, nullable=False),
    sa.Column("sent_at", TS),
    sa.Column("status", sa.String(20), nullable=False, default="pending"),  # pending|sent|failed|unconfirmed
    sa.Column("last_error", sa.Text),
    # POSTs sent whose answer never came (timed out after sending): the chat may already show them.
    sa.Column("unconfirmed", sa.Integer, nullable=False, default=0, server_default="0"),
    # When it stopped being pending (sent or given up); NULL while pending (m010). The retention counts from it.
    sa.Column("settled_at", TS),
    sa.Index("ix_outbox_pending", "status", "id"),
    # A resolved notice looks up where its alert went; pruning keeps those rows while the finding is open.
    sa.Index("ix_outbox_fingerprint", "fingerprint"),
    sa.Index("ix_outbox_settled", "settled_at"),
)

embedding_cache = sa.Table(
    "embedding_cache",
    metadata,
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("content_hash", sa.String(64), primary_key=True),
    sa.Column("vector", sa.JSON, nullable=False),
)

# Goal-drift's record per change request ("gitlab:group/app!12", "github:o/r#7"): the head commit it
# last judged, the evidence of what that head changed, and the scores given at it (store.put_changes).
drift_changes = sa.Table(
    "drift_changes",
    metadata,
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("head_sha", sa.String(80), nullable=False),
    sa.Column("entry", sa.JSON, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Index("ix_drift_changes_updated", "updated_at"),
)

# Small JSON state each monitor keeps between runs (cost ledger, usual tool-call counts).
monitor_state = sa.Table(
    "monitor_state",
    metadata,
    sa.Column("monitor", sa.String(50), primary_key=True),
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("value", sa.JSON),
)

# One row per run: the heartbeat and the history behind `status` and the weekly report.
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("monitor", sa.String(50), nullable=False),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("finished_at", TS, nullable=False),
    sa.Column("window_start", TS),
    sa.Column("window_end", TS),
    sa.Column("status", sa.String(20), nullable=False),  # ok|failed|delivery_failed|skipped
    sa.Column("summary", sa.JSON, nullable=False),
    sa.Index("ix_runs_monitor", "monitor", "finished_at"),
)

# Every finding every run produced, with the dedupe decision: what the weekly report is built from.
finding_events = sa.Table(
    "finding_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("monitor", sa.String(50), nullable=False),
    sa.Column("fingerprint", sa.String(400), nullable=False),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("observed_at", TS, nullable=False),  # the run's clock: when it was found
    sa.Column("decision", sa.String(200), nullable=False),
    sa.Column("finding", sa.JSON, nullable=False),
    # The data it is about [start, end), UTC (m008): the finding's own window (a cost budget's day), else
    # the window its run read. The weekly report places a finding in a week by it; NULL in older rows.
    sa.Column("window_start", TS),
    sa.Column("window_end", TS),
    sa.Index("ix_finding_events_time", "observed_at"),
    sa.Index("ix_finding_events_window", "window_end"),
)

# A lease per monitor so two runs of the same monitor never both send.
run_locks = sa.Table(
    "run_locks",
    metadata,
    sa.Column("monitor", sa.String(50), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("acquired_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
)

# Scores written back to Langfuse: what was sent and when. Langfuse overwrites a score only within the
# UTC day it was written, so the pipeline re-sends a score only when its content changed.
written_scores = sa.Table(
    "written_scores",
    metadata,
    sa.Column("id", sa.String(400), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),  # sha256 of name, trace, value and comment
    sa.Column("written_at", TS, nullable=False),
)

# Scores a run could not write back (rate limit, deadline, server down), sent first by the monitor's
# next run: the run's watermark has moved on, so nothing else would send them again.
pending_scores = sa.Table(
    "pending_scores",
    metadata,
    sa.Column("id", sa.String(400), primary_key=True),
    sa.Column("monitor", sa.String(50), nullable=False, index=True),
    sa.Column("body", sa.Text, nullable=False),  # the score as JSON (monitors.engine.score_writes)
    sa.Column("queued_at", TS, nullable=False),
    # When a POST of it last began (m006): from then on it may be on the server, as of that UTC day, even
    # if the run was killed before it could remember it. NULL: never sent.
    sa.Column("sent_at", TS),
)
