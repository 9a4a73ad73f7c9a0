"""Shared fixtures: secrets cleared from the environment, stores on SQLite and on real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from monitors.store.store import Store

SECRET_ENV = (
    "LANGFUSE_PUBLIC_KEY",
    "LANGFUSE_SECRET_KEY",
    "LANGFUSE_HOST",
    "LANGFUSE_BASE_URL",
    "GITLAB_TOKEN",
    "SLACK_WEBHOOK_URL",
    "MATTERMOST_WEBHOOK_URL",
    "MONITORS_CONFIG",
)
POSTGRES_URL = os.environ.get("MONITORS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sqlite_store(tmp_path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    yield store
    store.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the local PostgreSQL for one test, dropped afterwards.

    PostgreSQL is mandatory: if the server is down this fails loudly instead of skipping.
    """
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine("postgresql+psycopg://" + POSTGRES_URL.split("://", 1)[1])
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    """The same store suite runs on both backends."""
    sqlite = request.param == "sqlite"
    s = Store.open(f"sqlite:///{tmp_path / 'state.db'}" if sqlite else request.getfixturevalue("postgres_url"))
    yield s
    s.close()
