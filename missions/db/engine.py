"""Engines and session factories for SQLite files and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

# How long a SQLite connection waits for another connection's write lock before failing with
# "database is locked". The writes in this package are short transactions, so a longer wait
# points to a stuck writer.
SQLITE_BUSY_TIMEOUT_MS = 15_000


def to_sqlalchemy_url(url: str) -> URL:
    """Parse a database URL, selecting psycopg 3 where a PostgreSQL URL names no driver.

    `postgresql://` and `postgres://` (the form many hosting services hand out) both become
    `postgresql+psycopg://`, because SQLAlchemy would otherwise pick psycopg2.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str) -> Engine:
    """Create an engine for `url`, configuring every SQLite connection for concurrent use.

    Each SQLite connection gets WAL journaling, so that readers do not block the writer. It
    also gets a busy timeout, so that concurrent writers wait instead of failing, and foreign
    key enforcement, which SQLite leaves off by default. The parent directory of a SQLite file
    is created.
    """
    sa_url = to_sqlalchemy_url(url)
    if sa_url.get_backend_name() != "sqlite":
        return create_engine(sa_url, pool_pre_ping=True)

    database = sa_url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(sa_url)
    event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory whose objects stay readable after the transaction commits.

    Repositories return ORM rows that callers read after `session.begin()` has committed,
    so objects are not expired on commit.
    """
    return sessionmaker(engine, expire_on_commit=False)


def _configure_sqlite_connection(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()
