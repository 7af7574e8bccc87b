"""Database of the missions service: read model, notification outbox and webhook log.

`make_engine` and `make_session_factory` connect to SQLite or PostgreSQL,
`upgrade_database` applies the Alembic migrations, and `missions.db.repositories` contains
the queries.
"""

from missions.db.engine import make_engine, make_session_factory, to_sqlalchemy_url
from missions.db.migrations import upgrade_database
from missions.db.models import Base

__all__ = ["Base", "make_engine", "make_session_factory", "to_sqlalchemy_url", "upgrade_database"]
