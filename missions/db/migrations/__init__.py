"""Alembic migrations of the missions database, runnable without an alembic.ini."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config

from missions.db.engine import to_sqlalchemy_url

MIGRATIONS_DIR = Path(__file__).resolve().parent

# Key of `Config.attributes` under which env.py finds the database URL.
DATABASE_URL_ATTRIBUTE = "database_url"


def alembic_config(url: str) -> Config:
    """Build an Alembic config that migrates the database at `url` with these scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute because `set_main_option` would apply ConfigParser interpolation
    # to a `%` in a URL-encoded password.
    config.attributes[DATABASE_URL_ATTRIBUTE] = url
    return config


def upgrade_database(url: str) -> None:
    """Apply every migration up to the head revision to the database at `url`.

    Processes that start together may call this at the same time. On PostgreSQL, env.py
    serializes them with an advisory lock. On SQLite, whose DDL is not transactional, a lock
    file next to the database does.
    """
    config = alembic_config(url)
    with _sqlite_migration_lock(url):
        command.upgrade(config, "head")


@contextmanager
def _sqlite_migration_lock(url: str) -> Iterator[None]:
    sa_url = to_sqlalchemy_url(url)
    database = sa_url.database
    if (
        sa_url.get_backend_name() != "sqlite"
        or not database
        or database == ":memory:"
        or database.startswith("file:")
    ):
        yield
        return

    lock_path = Path(f"{database}.migration-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
