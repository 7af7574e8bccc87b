"""Fixtures that give each test a freshly migrated database.

Every database test runs on a SQLite file, and also on PostgreSQL when DATABASE_URL names
a server: the fixture then creates a database with a unique name there and drops it after
the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from missions.db.engine import make_engine, make_session_factory, to_sqlalchemy_url
from missions.db.migrations import upgrade_database


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Return the URL of an empty database, not yet migrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'missions.sqlite3'}"
        return

    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        pytest.skip("DATABASE_URL is not set, so PostgreSQL tests are skipped")
    name = f"missions_test_{uuid.uuid4().hex[:12]}"
    admin_url = to_sqlalchemy_url(server_url)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_sessions(db_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(db_engine)
