"""The Stripe webhook event log, which lets a redelivered event be recognized."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from missions.db.models import WebhookEventRow
from missions.db.repositories._dialect import conflict_insert


def record_webhook_event(
    session: Session,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    *,
    now: datetime | None = None,
) -> bool:
    """Insert a received event and return True, or return False if its id is already stored.

    When two transactions record the same id at once, the second one waits for the first
    and gets True only if the first rolls back.
    """
    statement = (
        conflict_insert(session, WebhookEventRow)
        .values(
            id=event_id,
            type=event_type,
            payload=payload,
            received_at=now or datetime.now(UTC),
            processed_at=None,
        )
        .on_conflict_do_nothing(index_elements=[WebhookEventRow.id])
        .returning(WebhookEventRow.id)
    )
    return session.execute(statement).first() is not None


def mark_webhook_event_processed(
    session: Session, event_id: str, *, now: datetime | None = None
) -> bool:
    """Set the event's `processed_at` and return True, or return False if it was already set.

    An unknown event id also returns False.
    """
    statement = (
        update(WebhookEventRow)
        .where(WebhookEventRow.id == event_id, WebhookEventRow.processed_at.is_(None))
        .values(processed_at=now or datetime.now(UTC))
        .returning(WebhookEventRow.id)
    )
    return session.execute(statement).first() is not None


def is_webhook_event_processed(session: Session, event_id: str) -> bool:
    """Return whether the event is stored with a `processed_at`. An unknown id returns False."""
    processed_at = session.scalar(
        select(WebhookEventRow.processed_at).where(WebhookEventRow.id == event_id)
    )
    return processed_at is not None
