"""The notification outbox: rendered messages waiting for a sender to deliver them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from missions.activity_models import NotificationRequest
from missions.contracts import Role
from missions.db.models import NotificationRow
from missions.db.repositories._dialect import conflict_insert
from missions.notifications import ParamValue, render


class OutboxNotification(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    mission_id: str
    recipient_id: str
    recipient_role: Role
    template: str
    locale: str
    subject: str
    body: str
    created_at: datetime
    sent_at: datetime | None


def queue_notifications(
    session: Session,
    mission_id: str,
    title: str,
    requests: Sequence[NotificationRequest],
    *,
    now: datetime | None = None,
) -> int:
    """Render the requested notifications, insert those whose key is new for the mission,
    and return how many were inserted.

    `title` and `mission_id` are passed to every template unless the request's own
    parameters set them. Raises ValueError if a template cannot be rendered.
    """
    if not requests:
        return 0
    created_at = now or datetime.now(UTC)
    rows = []
    for request in requests:
        params: dict[str, ParamValue] = {"title": title, "mission_id": mission_id}
        params.update(request.params)
        subject, body = render(request.template, request.locale, params)
        rows.append(
            {
                "key": request.key,
                "mission_id": mission_id,
                "recipient_id": request.recipient_id,
                "recipient_role": request.recipient_role.value,
                "template": request.template,
                "locale": request.locale,
                "subject": subject,
                "body": body,
                "created_at": created_at,
                "sent_at": None,
            }
        )
    statement = (
        conflict_insert(session, NotificationRow)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[NotificationRow.mission_id, NotificationRow.key])
        .returning(NotificationRow.id)
    )
    return len(session.execute(statement).all())


def list_notifications(
    session: Session,
    *,
    mission_id: str | None = None,
    recipient_id: str | None = None,
    unsent_only: bool = False,
) -> list[OutboxNotification]:
    """Return the matching notifications, oldest first."""
    statement = select(NotificationRow).order_by(NotificationRow.id)
    if mission_id is not None:
        statement = statement.where(NotificationRow.mission_id == mission_id)
    if recipient_id is not None:
        statement = statement.where(NotificationRow.recipient_id == recipient_id)
    if unsent_only:
        statement = statement.where(NotificationRow.sent_at.is_(None))
    return [OutboxNotification.model_validate(row) for row in session.scalars(statement)]


def mark_notification_sent(
    session: Session, notification_id: int, *, now: datetime | None = None
) -> bool:
    """Set the notification's `sent_at` and return True, or return False if it was already set.

    An unknown id also returns False.
    """
    statement = (
        update(NotificationRow)
        .where(NotificationRow.id == notification_id, NotificationRow.sent_at.is_(None))
        .values(sent_at=now or datetime.now(UTC))
        .returning(NotificationRow.id)
    )
    return session.execute(statement).first() is not None
