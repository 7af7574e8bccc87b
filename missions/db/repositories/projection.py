"""Projection of workflow snapshots into the `missions`, `applications` and `incidents` tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from missions.activity_models import ProjectionInput
from missions.contracts import MissionSnapshot
from missions.db.models import ApplicationRow, IncidentRow, MissionRow
from missions.db.repositories._dialect import conflict_insert
from missions.db.repositories.ledger import record_ledger_entries
from missions.db.repositories.outbox import queue_notifications

# Columns that a newer snapshot must not change.
IMMUTABLE_MISSION_COLUMNS = frozenset({"id", "created_at"})
APPLICATION_UPDATE_COLUMNS = ("provider_id", "price_minor", "message", "proposed_date", "status")


class ProjectionResult(BaseModel):
    # False when the stored snapshot is newer, so the mission row was left as it was.
    mission_updated: bool
    notifications_queued: int


def project_mission(
    session: Session, data: ProjectionInput, *, now: datetime | None = None
) -> ProjectionResult:
    """Upsert a mission's row, applications and incidents from its snapshot, and queue the
    notifications of the event.

    A snapshot with an `updated_at` older than the stored row's changes none of the three
    tables, but its notifications are still queued, because they report events that did
    happen. An equal `updated_at` rewrites the row, so a retried call stores the same values
    again. Notifications whose key the mission already has are skipped.

    Concurrent calls for one mission take turns on the mission row, which is written first:
    PostgreSQL locks the conflicting row in INSERT ... ON CONFLICT DO UPDATE until the
    transaction ends, and SQLite allows one writing transaction at a time.
    """
    snapshot = data.snapshot
    mission_updated = _upsert_mission(session, snapshot, data.event)
    if mission_updated:
        _upsert_applications(session, snapshot)
        _insert_incidents(session, snapshot)
    queued = queue_notifications(
        session, snapshot.mission_id, snapshot.request.title, data.notifications, now=now
    )
    # Money movements are facts whatever the snapshot's age, like notifications.
    record_ledger_entries(session, snapshot.mission_id, data.ledger_entries, now=now)
    return ProjectionResult(mission_updated=mission_updated, notifications_queued=queued)


def mission_columns(snapshot: MissionSnapshot, event: str) -> dict[str, Any]:
    """Return the `missions` row that stores `snapshot`, keyed by column name."""
    request = snapshot.request
    quote = snapshot.quote
    money = snapshot.money
    deadlines = snapshot.deadlines
    return {
        "id": snapshot.mission_id,
        "client_id": snapshot.client_id,
        "title": request.title,
        "description": request.description,
        "category": request.category,
        "city": request.city,
        "postcode": request.postcode,
        "currency": request.currency,
        "scheduled_at": request.scheduled_at,
        "state": snapshot.state.value,
        "provider_id": snapshot.provider_id,
        "selected_application_id": snapshot.selected_application_id,
        "price_minor": quote.price_minor if quote else None,
        "client_total_minor": quote.client_total_minor if quote else None,
        "captured_minor": money.captured_minor,
        "refunded_minor": money.refunded_minor,
        "provider_payout_minor": money.provider_payout_minor,
        "platform_revenue_minor": money.platform_revenue_minor,
        "declined_attempts": money.declined_attempts,
        "payment_intent_id": snapshot.payment.payment_intent_id if snapshot.payment else None,
        "selection_deadline": deadlines.selection,
        "payment_deadline": deadlines.payment,
        "confirmation_deadline": deadlines.confirmation,
        "review_deadline": deadlines.review,
        "auto_released": snapshot.auto_released,
        "payment_lapsed": snapshot.payment_lapsed,
        "needs_attention": snapshot.needs_attention,
        "payout_pending": snapshot.payout_pending,
        "cancelled_by": snapshot.cancelled_by.value if snapshot.cancelled_by else None,
        "created_at": snapshot.created_at,
        "updated_at": snapshot.updated_at,
        "last_event": event,
        "snapshot": snapshot.model_dump(mode="json"),
    }


def _upsert_mission(session: Session, snapshot: MissionSnapshot, event: str) -> bool:
    columns = mission_columns(snapshot, event)
    insert = conflict_insert(session, MissionRow).values(**columns)
    statement = insert.on_conflict_do_update(
        index_elements=[MissionRow.id],
        set_={
            name: insert.excluded[name] for name in columns if name not in IMMUTABLE_MISSION_COLUMNS
        },
        where=MissionRow.updated_at <= insert.excluded.updated_at,
    ).returning(MissionRow.id)
    # RETURNING yields the row when it was inserted or updated, and nothing when the
    # WHERE clause kept a newer row.
    return session.execute(statement).first() is not None


def _upsert_applications(session: Session, snapshot: MissionSnapshot) -> None:
    if not snapshot.applications:
        return
    rows = [
        {
            "id": application.application_id,
            "mission_id": snapshot.mission_id,
            "provider_id": application.provider_id,
            "price_minor": application.price_minor,
            "message": application.message,
            "proposed_date": application.proposed_date,
            "status": application.status.value,
            "created_at": application.created_at,
        }
        for application in snapshot.applications
    ]
    insert = conflict_insert(session, ApplicationRow).values(rows)
    statement = insert.on_conflict_do_update(
        index_elements=[ApplicationRow.id],
        set_={name: insert.excluded[name] for name in APPLICATION_UPDATE_COLUMNS},
        # An application id is never reused, but a row of another mission must not be taken over.
        where=ApplicationRow.mission_id == insert.excluded.mission_id,
    )
    session.execute(statement)


def _insert_incidents(session: Session, snapshot: MissionSnapshot) -> None:
    if not snapshot.incidents:
        return
    rows = [
        {
            "mission_id": snapshot.mission_id,
            "seq": position,
            "reported_by": incident.reported_by.user_id,
            "role": incident.reported_by.role.value,
            "kind": incident.kind.value,
            "text": incident.text,
            "reported_at": incident.reported_at,
        }
        for position, incident in enumerate(snapshot.incidents, start=1)
    ]
    statement = (
        conflict_insert(session, IncidentRow)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[IncidentRow.mission_id, IncidentRow.seq])
    )
    session.execute(statement)
