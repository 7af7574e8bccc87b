"""ORM tables of the read model, the notification outbox and the Stripe webhook event log.

The workflow owns each mission's state. The `missions`, `applications` and `incidents` tables
are a projection of its snapshots, kept for lists and ops tools. The other tables are the only
copy of their data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint and index names, so that migrations can refer to them on every dialect.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 128
STRIPE_ID_LENGTH = 255

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
AutoIncrementId = BigInteger().with_variant(Integer(), "sqlite")
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC and read back with `tzinfo=UTC`.

    SQLite keeps datetimes as text without an offset, so every value is converted to UTC
    before it is stored: text order then equals time order, which the `updated_at` guard of
    the projection and the list cursor rely on. A naive datetime is taken to be in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class MissionRow(Base):
    """The latest projected snapshot of one mission, flattened for lists and filters."""

    __tablename__ = "missions"
    __table_args__ = (Index("ix_missions_created_at_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(40), index=True)
    city: Mapped[str] = mapped_column(String(80))
    postcode: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(32), index=True)
    provider_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    selected_application_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))

    # Amounts in minor units of `currency`. Price and client total stay NULL until a quote exists.
    price_minor: Mapped[int | None] = mapped_column(BigInteger)
    client_total_minor: Mapped[int | None] = mapped_column(BigInteger)
    captured_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger)
    provider_payout_minor: Mapped[int] = mapped_column(BigInteger)
    platform_revenue_minor: Mapped[int] = mapped_column(BigInteger)
    declined_attempts: Mapped[int] = mapped_column(Integer)
    payment_intent_id: Mapped[str | None] = mapped_column(String(STRIPE_ID_LENGTH))

    selection_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payment_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmation_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)

    auto_released: Mapped[bool] = mapped_column(Boolean)
    payment_lapsed: Mapped[bool] = mapped_column(Boolean)
    needs_attention: Mapped[bool] = mapped_column(Boolean)
    payout_pending: Mapped[bool] = mapped_column(Boolean)
    cancelled_by: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # Name of the workflow event that produced the stored snapshot.
    last_event: Mapped[str] = mapped_column(String(64))
    # The whole MissionSnapshot in its JSON form, including the payment's client secret.
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONDocument)


class ApplicationRow(Base):
    __tablename__ = "applications"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    mission_id: Mapped[str] = mapped_column(
        ForeignKey("missions.id", ondelete="CASCADE"), index=True
    )
    provider_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(Text)
    proposed_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProviderRow(Base):
    """A provider's public profile, private contact and payout account, and rating summary."""

    __tablename__ = "providers"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    # Empty for a provider that got a rating or a payout account before writing a profile.
    display_name: Mapped[str] = mapped_column(String(120))
    presentation: Mapped[str] = mapped_column(Text)
    photo_url: Mapped[str | None] = mapped_column(String(2048))
    email: Mapped[str | None] = mapped_column(String(320))
    stripe_account_id: Mapped[str | None] = mapped_column(String(STRIPE_ID_LENGTH))
    payouts_enabled: Mapped[bool] = mapped_column(Boolean)
    rating_count: Mapped[int] = mapped_column(Integer)
    rating_sum: Mapped[int] = mapped_column(Integer)
    # NULL while the provider has no rating.
    rating_average: Mapped[float | None] = mapped_column(Float)
    rating_score: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReviewRow(Base):
    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("mission_id", "author_role"),
        CheckConstraint("stars BETWEEN 1 AND 5", name="stars_range"),
    )

    id: Mapped[int] = mapped_column(AutoIncrementId, primary_key=True)
    mission_id: Mapped[str] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    author_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    author_role: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    stars: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MessageRow(Base):
    """A question or answer about a mission, exchanged between its client and providers."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_mission_id_created_at", "mission_id", "created_at"),)

    id: Mapped[int] = mapped_column(AutoIncrementId, primary_key=True)
    mission_id: Mapped[str] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    author_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    author_role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentRow(Base):
    __tablename__ = "incidents"

    mission_id: Mapped[str] = mapped_column(
        ForeignKey("missions.id", ondelete="CASCADE"), primary_key=True
    )
    # 1-based position in the snapshot's incident list, which only ever grows.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    reported_by: Mapped[str] = mapped_column(String(ID_LENGTH))
    role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationRow(Base):
    """An outbox entry: one rendered message waiting for a sender to deliver it."""

    __tablename__ = "notifications"
    # The workflow makes keys unique per mission only, so uniqueness spans both columns.
    __table_args__ = (UniqueConstraint("mission_id", "key"),)

    id: Mapped[int] = mapped_column(AutoIncrementId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    mission_id: Mapped[str] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    recipient_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    recipient_role: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LedgerEntryRow(Base):
    """One double-entry movement of a mission's money, written with the mission's projection."""

    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("mission_id", "key"),)

    id: Mapped[int] = mapped_column(AutoIncrementId, primary_key=True)
    mission_id: Mapped[str] = mapped_column(
        ForeignKey("missions.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))
    debit_account: Mapped[str] = mapped_column(String(32))
    credit_account: Mapped[str] = mapped_column(String(32))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    stripe_object_id: Mapped[str | None] = mapped_column(String(STRIPE_ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookEventRow(Base):
    """A Stripe webhook event, kept so that a redelivered event is handled once."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(STRIPE_ID_LENGTH), primary_key=True)
    type: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
