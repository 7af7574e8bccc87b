"""Builders of snapshots and projection inputs for the database tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from missions.activity_models import NotificationRequest, ProjectionInput
from missions.contracts import (
    Actor,
    Application,
    ApplicationStatus,
    Incident,
    IncidentKind,
    MissionRequest,
    MissionSnapshot,
    MissionState,
    Role,
)

BASE_TIME = datetime(2025, 4, 14, 8, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    """Return BASE_TIME plus a number of minutes."""
    return BASE_TIME + timedelta(minutes=minutes)


def make_application(
    application_id: str,
    provider_id: str,
    *,
    price_minor: int = 7500,
    status: ApplicationStatus = ApplicationStatus.LIVE,
    created_minute: int = 1,
) -> Application:
    return Application(
        application_id=application_id,
        provider_id=provider_id,
        price_minor=price_minor,
        message="Disponible samedi matin.",
        status=status,
        created_at=at(created_minute),
    )


def make_incident(text: str, *, minute: int = 30) -> Incident:
    return Incident(
        reported_by=Actor(user_id="client-1", role=Role.CLIENT),
        kind=IncidentKind.DELAY,
        text=text,
        reported_at=at(minute),
    )


def make_snapshot(
    mission_id: str = "m-1",
    *,
    state: MissionState = MissionState.OPEN,
    client_id: str = "client-1",
    category: str = "plomberie",
    provider_id: str | None = None,
    created_at: datetime = BASE_TIME,
    updated_at: datetime | None = None,
    applications: Sequence[Application] = (),
    incidents: Sequence[Incident] = (),
) -> MissionSnapshot:
    return MissionSnapshot(
        mission_id=mission_id,
        client_id=client_id,
        request=MissionRequest(
            title="Réparer une fuite sous l'évier",
            description="Fuite au niveau du siphon.",
            category=category,
            city="Lyon",
            postcode="69003",
        ),
        state=state,
        provider_id=provider_id,
        applications=list(applications),
        incidents=list(incidents),
        created_at=created_at,
        updated_at=updated_at or created_at,
    )


def posted_notification(recipient_id: str = "client-1", key: str = "posted") -> NotificationRequest:
    return NotificationRequest(
        key=key,
        recipient_id=recipient_id,
        recipient_role=Role.CLIENT,
        template="mission_posted",
    )


def projection(
    snapshot: MissionSnapshot,
    event: str = "mission_posted",
    notifications: Sequence[NotificationRequest] = (),
) -> ProjectionInput:
    return ProjectionInput(snapshot=snapshot, event=event, notifications=list(notifications))
