"""Add the double-entry ledger of each mission's money.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 20:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copies of the column types in missions.db.models as they were at this revision.
ID = sa.String(length=128)
STRIPE_ID = sa.String(length=255)
TIMESTAMP = sa.DateTime(timezone=True)
AUTO_INCREMENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("id", AUTO_INCREMENT_ID, autoincrement=True, nullable=False),
        sa.Column("mission_id", ID, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("debit_account", sa.String(length=32), nullable=False),
        sa.Column("credit_account", sa.String(length=32), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("stripe_object_id", STRIPE_ID, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_ledger_entries_mission_id_missions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("mission_id", "key", name=op.f("uq_ledger_entries_mission_id_key")),
    )
    op.create_index(op.f("ix_ledger_entries_mission_id"), "ledger_entries", ["mission_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ledger_entries_mission_id"), table_name="ledger_entries")
    op.drop_table("ledger_entries")
