"""Create the read model, outbox, review, message and webhook tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-04 19:34:09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copies of the column types in missions.db.models as they were at this revision, so that
# later model changes cannot alter what this migration creates.
ID = sa.String(length=128)
STRIPE_ID = sa.String(length=255)
ROLE = sa.String(length=16)
TIMESTAMP = sa.DateTime(timezone=True)
AUTO_INCREMENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _mission_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["mission_id"],
        ["missions.id"],
        name=op.f(f"fk_{table}_mission_id_missions"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "missions",
        sa.Column("id", ID, nullable=False),
        sa.Column("client_id", ID, nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("city", sa.String(length=80), nullable=False),
        sa.Column("postcode", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("scheduled_at", TIMESTAMP, nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("provider_id", ID, nullable=True),
        sa.Column("selected_application_id", ID, nullable=True),
        sa.Column("price_minor", sa.BigInteger(), nullable=True),
        sa.Column("client_total_minor", sa.BigInteger(), nullable=True),
        sa.Column("captured_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("provider_payout_minor", sa.BigInteger(), nullable=False),
        sa.Column("platform_revenue_minor", sa.BigInteger(), nullable=False),
        sa.Column("declined_attempts", sa.Integer(), nullable=False),
        sa.Column("payment_intent_id", STRIPE_ID, nullable=True),
        sa.Column("selection_deadline", TIMESTAMP, nullable=True),
        sa.Column("payment_deadline", TIMESTAMP, nullable=True),
        sa.Column("confirmation_deadline", TIMESTAMP, nullable=True),
        sa.Column("review_deadline", TIMESTAMP, nullable=True),
        sa.Column("auto_released", sa.Boolean(), nullable=False),
        sa.Column("payment_lapsed", sa.Boolean(), nullable=False),
        sa.Column("needs_attention", sa.Boolean(), nullable=False),
        sa.Column("payout_pending", sa.Boolean(), nullable=False),
        sa.Column("cancelled_by", ROLE, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("last_event", sa.String(length=64), nullable=False),
        sa.Column("snapshot", JSON_DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_missions")),
    )
    op.create_index(op.f("ix_missions_category"), "missions", ["category"])
    op.create_index(op.f("ix_missions_client_id"), "missions", ["client_id"])
    op.create_index("ix_missions_created_at_id", "missions", ["created_at", "id"])
    op.create_index(op.f("ix_missions_provider_id"), "missions", ["provider_id"])
    op.create_index(op.f("ix_missions_state"), "missions", ["state"])

    op.create_table(
        "providers",
        sa.Column("id", ID, nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("presentation", sa.Text(), nullable=False),
        sa.Column("photo_url", sa.String(length=2048), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("stripe_account_id", STRIPE_ID, nullable=True),
        sa.Column("payouts_enabled", sa.Boolean(), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("rating_average", sa.Float(), nullable=True),
        sa.Column("rating_score", sa.Float(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
    )

    op.create_table(
        "webhook_events",
        sa.Column("id", STRIPE_ID, nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("payload", JSON_DOCUMENT, nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("processed_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
    )

    op.create_table(
        "applications",
        sa.Column("id", ID, nullable=False),
        sa.Column("mission_id", ID, nullable=False),
        sa.Column("provider_id", ID, nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("proposed_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        _mission_fk("applications"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
    )
    op.create_index(op.f("ix_applications_mission_id"), "applications", ["mission_id"])
    op.create_index(op.f("ix_applications_provider_id"), "applications", ["provider_id"])

    op.create_table(
        "incidents",
        sa.Column("mission_id", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("reported_by", ID, nullable=False),
        sa.Column("role", ROLE, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reported_at", TIMESTAMP, nullable=False),
        _mission_fk("incidents"),
        sa.PrimaryKeyConstraint("mission_id", "seq", name=op.f("pk_incidents")),
    )

    op.create_table(
        "messages",
        sa.Column("id", AUTO_INCREMENT_ID, nullable=False),
        sa.Column("mission_id", ID, nullable=False),
        sa.Column("author_id", ID, nullable=False),
        sa.Column("author_role", ROLE, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        _mission_fk("messages"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index("ix_messages_mission_id_created_at", "messages", ["mission_id", "created_at"])

    op.create_table(
        "notifications",
        sa.Column("id", AUTO_INCREMENT_ID, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("mission_id", ID, nullable=False),
        sa.Column("recipient_id", ID, nullable=False),
        sa.Column("recipient_role", ROLE, nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("sent_at", TIMESTAMP, nullable=True),
        _mission_fk("notifications"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("mission_id", "key", name=op.f("uq_notifications_mission_id_key")),
    )
    op.create_index(op.f("ix_notifications_recipient_id"), "notifications", ["recipient_id"])

    op.create_table(
        "reviews",
        sa.Column("id", AUTO_INCREMENT_ID, nullable=False),
        sa.Column("mission_id", ID, nullable=False),
        sa.Column("author_id", ID, nullable=False),
        sa.Column("author_role", ROLE, nullable=False),
        sa.Column("subject_id", ID, nullable=False),
        sa.Column("stars", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("submitted_at", TIMESTAMP, nullable=False),
        sa.Column("published_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("stars BETWEEN 1 AND 5", name=op.f("ck_reviews_stars_range")),
        _mission_fk("reviews"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint(
            "mission_id", "author_role", name=op.f("uq_reviews_mission_id_author_role")
        ),
    )
    op.create_index(op.f("ix_reviews_subject_id"), "reviews", ["subject_id"])


def downgrade() -> None:
    # Children first, because their foreign keys point at `missions`.
    for table in ("reviews", "notifications", "messages", "incidents", "applications"):
        op.drop_table(table)
    op.drop_table("webhook_events")
    op.drop_table("providers")
    op.drop_table("missions")
