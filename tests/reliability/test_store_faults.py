"""The state store under faults: an SQLite file locked by another connection, a store that cannot be
written or created, and PostgreSQL connections terminated between the steps of a run.

Each must end in a clear StoreError (CLI: `error: ...`, exit 1, no traceback, no password), lose no
alert, and let the next run recover.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from monitors.app.cli.main import cli
from monitors.contracts.errors import StoreError
from monitors.engine.export import export_observations
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.fakes.webhook_server import WebhookServer
from tests.reliability.harness import LANGFUSE_HOST, NOW, chat_settings, notifiers_for, window
from tests.reliability.subprocess_run import loops


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


@pytest.fixture
def replay_file(tmp_path: Path) -> Path:
    path = tmp_path / "traces.jsonl"
    export_observations(ReplaySource.from_observations(loops(NOW)), window(48), path)
    return path


def _config(tmp_path: Path, hook: WebhookServer, store_url: str) -> Path:
    raw = {
        "store": {"url": store_url},
        "channels": {"ops": {"kind": "slack", "webhook_url": hook.url("/hooks/T0/B0/SECRETPATH")}},
        "default_route": {"channels": ["ops"]},
    }
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _cli_run(config: Path, replay: Path) -> Any:
    args = ["audit", "-c", str(config), "--source", str(replay), "--since", "2026-03-11T00:00:00Z",
            "--until", NOW.isoformat()]  # fmt: skip
    return CliRunner().invoke(cli, args)


def _assert_clean_failure(result: Any) -> None:
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: "), result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, sa.exc.SQLAlchemyError)


def test_sqlite_file_locked_by_another_writer(tmp_path: Path, hook: WebhookServer, replay_file: Path) -> None:
    db = tmp_path / "state.db"
    Store.open(f"sqlite:///{db}").close()
    config = _config(tmp_path, hook, f"sqlite:///{db}?timeout=0.2")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a writer holding the file: readers go on, writers wait
    try:
        locked = _cli_run(config, replay_file)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _assert_clean_failure(locked)
    assert "locked" in locked.output and hook.requests == []
    retried = _cli_run(config, replay_file)  # the lock is gone: the same window, the alerts, once
    assert retried.exit_code == 0, retried.output
    assert len(hook.requests) == 2


def test_sqlite_exclusive_lock_at_open(tmp_path: Path, hook: WebhookServer, replay_file: Path) -> None:
    db = tmp_path / "state.db"
    Store.open(f"sqlite:///{db}").close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # not even readers get in
    try:
        result = _cli_run(_config(tmp_path, hook, f"sqlite:///{db}?timeout=0.2"), replay_file)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _assert_clean_failure(result)
    assert hook.requests == []


@contextlib.contextmanager
def read_only_sqlite() -> Iterator[None]:
    """Every new SQLite connection refuses writes (we run as root, so chmod cannot make a file read-only)."""

    def query_only(dbapi_connection: Any, record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.execute("PRAGMA query_only = ON")

    sa.event.listen(sa.engine.Engine, "connect", query_only)
    try:
        yield
    finally:
        sa.event.remove(sa.engine.Engine, "connect", query_only)


def test_sqlite_store_that_cannot_be_written(tmp_path: Path, hook: WebhookServer, replay_file: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    config = _config(tmp_path, hook, url)
    Store.open(url).close()  # it exists and is migrated; from now on it cannot be written
    with read_only_sqlite():
        result = _cli_run(config, replay_file)
    _assert_clean_failure(result)
    assert "readonly database" in result.output
    assert hook.requests == []
    again = _cli_run(config, replay_file)  # writable again: nothing was lost
    assert again.exit_code == 0, again.output
    assert len(hook.requests) == 2


def test_store_folder_that_cannot_be_created(tmp_path: Path, hook: WebhookServer, replay_file: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    result = _cli_run(_config(tmp_path, hook, f"sqlite:///{blocker}/state.db"), replay_file)
    _assert_clean_failure(result)
    assert "cannot open state store" in result.output


def test_postgres_password_never_shown_when_unreachable(tmp_path: Path, hook: WebhookServer, replay_file: Path) -> None:
    url = "postgresql://monitors:PG-PASSWORD-SECRET@127.0.0.1:1/monitors"  # nothing listens on port 1
    result = _cli_run(_config(tmp_path, hook, url), replay_file)
    _assert_clean_failure(result)
    assert "PG-PASSWORD-SECRET" not in result.output and "***" in result.output


# --- PostgreSQL: the run's connections terminated between steps ------------------------------------


def _terminate(url: str, app: str) -> int:
    """Terminate every backend of `app` (this test's connections only), as a server restart would."""
    admin = sa.create_engine("postgresql+psycopg://" + url.split("://", 1)[1].split("?")[0])
    try:
        with admin.begin() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'test' "
                    "AND pid <> pg_backend_pid() AND application_name = :app "
                    "AND query NOT ILIKE '%pg_stat_activity%'"
                ),
                {"app": app},
            )
            return len(rows.fetchall())
    finally:
        admin.dispose()


class TerminatingNotifier:
    """Terminates the store's connections just before delegating its first delivery: a PostgreSQL
    restart after the outbox commit, while the run is delivering."""

    def __init__(self, inner: Any, url: str, app: str) -> None:
        self.inner, self.url, self.app, self.killed = inner, url, app, 0

    def deliver(self, message: Any) -> Any:
        if not self.killed:
            self.killed = _terminate(self.url, self.app)
        return self.inner.deliver(message)


def test_postgres_connections_terminated_mid_run_recover(postgres_url: str, hook: WebhookServer) -> None:
    app = f"reliability-{Path(postgres_url).name[-12:]}".replace("%", "")
    url = f"{postgres_url}&application_name={app}"
    store = Store.open(url)
    settings = chat_settings(hook, kinds=("slack",))
    source = ReplaySource.from_observations(loops(NOW), host=LANGFUSE_HOST, project_id="proj-1")
    [notifier] = notifiers_for(settings).values()
    spy = TerminatingNotifier(notifier, url, app)
    first = run_once("audit", settings, RunDeps(source, store, {"slack": spy}), now=NOW)
    assert spy.killed >= 1  # the pool's connection really was terminated during delivery
    assert (first.status, first.delivered) == ("ok", 2), first.error
    assert _terminate(url, app) >= 1  # and again between runs, with the pool holding an idle connection
    second = run_once("audit", settings, RunDeps(source, store, {"slack": notifier}), now=NOW + timedelta(minutes=15))
    assert (second.status, second.delivered, second.queued) == ("ok", 0, 0)
    assert store.outbox_counts() == {"sent": 2} and len(hook.requests) == 2
    store.close()


def test_store_error_names_no_secret_and_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open("postgresql://u:PG-PASSWORD-SECRET@127.0.0.1:1/db")
    assert "PG-PASSWORD-SECRET" not in str(caught.value)
