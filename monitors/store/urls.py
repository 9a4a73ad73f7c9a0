"""Store URLs: which ones a store can live at, our drivers for them, and how they show in messages.

A bare path means a SQLite file; credentials never leave this module unredacted.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

SHAPES = "sqlite:///path/to/file.db or postgresql://user@host:port/database"


def store_url_problem(url: str) -> str | None:
    """Why `url` cannot hold the store between runs (checked by `validate` as a run would open it), or None.

    An in-memory SQLite database (`sqlite://`, `sqlite:///`, `sqlite:///:memory:`) opens fine and then
    forgets every watermark, sent alert and silence when the run ends: each run would alert again on
    everything, so it is refused rather than taken.
    """
    try:
        parsed = sa.engine.make_url(url)
        port = parsed.port
    except (sa.exc.ArgumentError, ValueError):
        return f"must be {SHAPES}"
    backend, _, driver = parsed.drivername.partition("+")
    if (
        backend not in ("sqlite", "postgresql", "postgres")
        or driver not in ("", "psycopg")
        or (backend != "postgresql" and driver)
    ):
        return f"unsupported database {parsed.drivername!r}: use sqlite:///file.db or postgresql://…"
    if port is not None and not 0 < port < 65536:
        return f"port {port} is not a TCP port (1-65535)"
    if backend == "sqlite" and in_memory(parsed):
        return (
            "an in-memory SQLite database keeps nothing between runs (watermarks, sent alerts and silences "
            "would vanish, so every run would alert again): name a file, sqlite:///path/to/file.db"
        )
    return None


def in_memory(parsed: sa.engine.URL) -> bool:
    """A SQLite URL naming no file: `sqlite://`, `sqlite:///`, `:memory:`, or a `mode=memory` URI."""
    database = (parsed.database or "").strip()
    return database in ("", ":memory:") or parsed.query.get("mode") == "memory"


def engine_url(url: str) -> str:
    """Pick our drivers: psycopg 3 for PostgreSQL; create the folder of a SQLite file."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return url


def url_password(url: str) -> str | None:
    """The password a store URL holds, if any (what a message about the store must not show)."""
    try:
        return sa.engine.make_url(url).password or None
    except (sa.exc.ArgumentError, ValueError):
        return None


def redact_url(url: str) -> str:
    """The store URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(unparseable store URL)"
