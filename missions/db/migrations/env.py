"""Alembic environment for the missions database.

The URL comes from `Config.attributes["database_url"]` when `upgrade_database` runs the
migrations, then from `sqlalchemy.url` in an ini file, then from the `MISSIONS_*` settings.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, text

from missions.db.engine import make_engine, to_sqlalchemy_url
from missions.db.migrations import DATABASE_URL_ATTRIBUTE
from missions.db.models import Base, UTCDateTime
from missions.settings import get_settings

# Any constant works as long as every process that migrates this database uses the same one.
POSTGRES_MIGRATION_LOCK_KEY = 0x6D697373696F6E73  # "missions" in ASCII

config = context.config
# Only the `alembic` command line has an ini file; an application keeps its own logging.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url = config.attributes.get(DATABASE_URL_ATTRIBUTE) or config.get_main_option("sqlalchemy.url")
    return str(url) if url else get_settings().effective_database_url


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # New revisions then depend on plain SQLAlchemy types only, not on this package's models.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run_with_connection(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        render_item=_render_item,
        # SQLite cannot ALTER most things, so later migrations copy the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Held until the transaction ends, so a second process waits and then finds the
            # schema already at head.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=to_sqlalchemy_url(_database_url()),
        target_metadata=Base.metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_database_url())
    try:
        with engine.connect() as connection:
            _run_with_connection(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
