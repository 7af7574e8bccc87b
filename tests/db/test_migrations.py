"""The Alembic migrations against the ORM models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from missions.db.migrations import alembic_config, upgrade_database
from missions.db.models import Base


def test_head_matches_models(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_database_at_single_head(db_url: str, db_engine: Engine) -> None:
    heads = ScriptDirectory.from_config(alembic_config(db_url)).get_heads()
    with db_engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    assert len(heads) == 1
    assert current == tuple(heads)


def test_downgrade_and_upgrade_again(db_url: str, db_engine: Engine) -> None:
    command.downgrade(alembic_config(db_url), "base")
    assert inspect(db_engine).get_table_names() == ["alembic_version"]

    upgrade_database(db_url)
    assert sorted(inspect(db_engine).get_table_names()) == [
        "alembic_version",
        "applications",
        "incidents",
        "ledger_entries",
        "messages",
        "missions",
        "notifications",
        "providers",
        "reviews",
        "webhook_events",
    ]
