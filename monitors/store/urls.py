"""Store URLs: a bare path means a SQLite file; credentials never leave this module unredacted."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa


def engine_url(url: str) -> str:
    """Pick our drivers: psycopg 3 for PostgreSQL; create the folder of a SQLite file."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return url


def redact_url(url: str) -> str:
    """The store URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(unparseable store URL)"
