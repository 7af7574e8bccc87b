"""INSERT statements with ON CONFLICT support for the session's database."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from missions.db.models import Base

ConflictInsert = postgresql.Insert | sqlite.Insert


def conflict_insert(session: Session, entity: type[Base]) -> ConflictInsert:
    """Start an INSERT into `entity`'s table that accepts `on_conflict_do_*` clauses.

    Both supported databases resolve a conflict inside the statement, so two transactions
    that insert the same key at once both succeed instead of one failing.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(entity)
    if dialect == "sqlite":
        return sqlite.insert(entity)
    raise ValueError(f"unsupported database {dialect!r}: use PostgreSQL or SQLite")
