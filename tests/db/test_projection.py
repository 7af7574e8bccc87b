"""Projection of snapshots into the read model, and the notification outbox it fills."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from missions.activity_models import NotificationRequest
from missions.contracts import (
    ApplicationStatus,
    Deadlines,
    MissionSnapshot,
    MissionState,
    Money,
    Payment,
    Role,
)
from missions.db.models import ApplicationRow, IncidentRow, MissionRow, NotificationRow
from missions.db.repositories import (
    get_mission_row,
    get_mission_snapshot,
    list_notifications,
    project_mission,
)
from missions.money import FeePolicy, quote

from .builders import (
    at,
    make_application,
    make_incident,
    make_snapshot,
    posted_notification,
    projection,
)


def funded_snapshot(mission_id: str = "m-1") -> MissionSnapshot:
    selected = make_application("a-1", "prov-1", price_minor=7500)
    selected = selected.model_copy(
        update={"status": ApplicationStatus.SELECTED, "proposed_date": date(2025, 4, 19)}
    )
    declined = make_application(
        "a-2", "prov-2", price_minor=9000, status=ApplicationStatus.DECLINED
    )
    return make_snapshot(
        mission_id,
        state=MissionState.FUNDED,
        provider_id="prov-1",
        updated_at=at(60),
        applications=[selected, declined],
        incidents=[make_incident("Le prestataire aura 30 minutes de retard.")],
    ).model_copy(
        update={
            "selected_application_id": "a-1",
            "quote": quote(7500, "EUR", FeePolicy()),
            "payment": Payment(
                payment_intent_id="pi_123",
                client_secret="pi_123_secret_abc",
                amount_minor=7875,
                currency="EUR",
                status="succeeded",
            ),
            "money": Money(captured_minor=7875, declined_attempts=1),
            "deadlines": Deadlines(selection=at(100), confirmation=at(200)),
        }
    )


def row_values(session: Session, mission_id: str) -> dict[str, Any]:
    row = session.get(MissionRow, mission_id, populate_existing=True)
    assert row is not None
    return {column.key: getattr(row, column.key) for column in MissionRow.__table__.columns}


def count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_projection_stores_snapshot_columns(db_sessions: sessionmaker[Session]) -> None:
    snapshot = funded_snapshot()
    with db_sessions.begin() as session:
        result = project_mission(session, projection(snapshot, "payment_succeeded"))

    assert result.mission_updated is True
    assert result.notifications_queued == 0
    with db_sessions() as session:
        row = get_mission_row(session, "m-1")
        assert row is not None
        assert row.state == "funded"
        assert row.client_id == "client-1"
        assert row.title == "Réparer une fuite sous l'évier"
        assert row.category == "plomberie"
        assert row.postcode == "69003"
        assert row.currency == "EUR"
        assert row.provider_id == "prov-1"
        assert row.selected_application_id == "a-1"
        assert row.price_minor == 7500
        assert row.client_total_minor == 7875
        assert row.captured_minor == 7875
        assert row.refunded_minor == 0
        assert row.declined_attempts == 1
        assert row.payment_intent_id == "pi_123"
        assert row.selection_deadline == at(100)
        assert row.confirmation_deadline == at(200)
        assert row.payment_deadline is None
        assert row.created_at == at(0)
        assert row.updated_at == at(60)
        assert row.last_event == "payment_succeeded"
        assert row.needs_attention is False
        assert row.payout_pending is False
        assert get_mission_snapshot(session, "m-1") == snapshot

        applications = session.scalars(select(ApplicationRow).order_by(ApplicationRow.id)).all()
        assert [(a.id, a.provider_id, a.price_minor, a.status) for a in applications] == [
            ("a-1", "prov-1", 7500, "selected"),
            ("a-2", "prov-2", 9000, "declined"),
        ]
        assert applications[0].proposed_date == date(2025, 4, 19)
        incidents = session.scalars(select(IncidentRow)).all()
        assert [(i.seq, i.reported_by, i.role, i.kind) for i in incidents] == [
            (1, "client-1", "client", "delay")
        ]


def test_projection_retry_changes_nothing(db_sessions: sessionmaker[Session]) -> None:
    data = projection(funded_snapshot(), "payment_succeeded", [posted_notification()])
    with db_sessions.begin() as session:
        first = project_mission(session, data)
    with db_sessions() as session:
        before = row_values(session, "m-1")
        notifications_before = list_notifications(session, mission_id="m-1")

    with db_sessions.begin() as session:
        retried = project_mission(session, data)

    assert first.notifications_queued == 1
    assert retried.notifications_queued == 0
    with db_sessions() as session:
        assert row_values(session, "m-1") == before
        assert list_notifications(session, mission_id="m-1") == notifications_before
        assert count(session, ApplicationRow) == 2
        assert count(session, IncidentRow) == 1


def test_older_snapshot_does_not_overwrite(db_sessions: sessionmaker[Session]) -> None:
    newer = funded_snapshot()
    older = make_snapshot(
        updated_at=at(10),
        applications=[make_application("a-1", "prov-1"), make_application("a-2", "prov-2")],
        incidents=[make_incident("Un texte d'un ancien état.")],
    )
    late_notification = NotificationRequest(
        key="application_received:a-2",
        recipient_id="client-1",
        recipient_role=Role.CLIENT,
        template="application_received",
        params={"provider_id": "prov-2", "price_minor": 9000, "currency": "EUR"},
    )
    with db_sessions.begin() as session:
        project_mission(session, projection(newer, "payment_succeeded"))
    with db_sessions() as session:
        before = row_values(session, "m-1")

    with db_sessions.begin() as session:
        result = project_mission(
            session, projection(older, "application_received", [late_notification])
        )

    assert result.mission_updated is False
    assert result.notifications_queued == 1
    with db_sessions() as session:
        assert row_values(session, "m-1") == before
        statuses = session.scalars(select(ApplicationRow.status).order_by(ApplicationRow.id))
        assert list(statuses) == ["selected", "declined"]
        texts = session.scalars(select(IncidentRow.text))
        assert list(texts) == ["Le prestataire aura 30 minutes de retard."]
        assert [n.key for n in list_notifications(session, mission_id="m-1")] == [
            "application_received:a-2"
        ]


def test_newer_snapshot_updates_children(db_sessions: sessionmaker[Session]) -> None:
    first = make_snapshot(updated_at=at(5), applications=[make_application("a-1", "prov-1")])
    later = make_snapshot(
        state=MissionState.AWAITING_PAYMENT,
        provider_id="prov-1",
        updated_at=at(20),
        applications=[
            make_application("a-1", "prov-1", status=ApplicationStatus.SELECTED),
            make_application("a-2", "prov-2", created_minute=15),
        ],
        incidents=[make_incident("Premier incident.", minute=18)],
    )
    with db_sessions.begin() as session:
        project_mission(session, projection(first))
    with db_sessions.begin() as session:
        result = project_mission(session, projection(later, "application_selected"))

    assert result.mission_updated is True
    with db_sessions() as session:
        row = get_mission_row(session, "m-1")
        assert row is not None
        assert row.state == "awaiting_payment"
        assert row.last_event == "application_selected"
        assert row.created_at == at(0)
        applications = session.scalars(select(ApplicationRow).order_by(ApplicationRow.id)).all()
        assert [(a.id, a.status) for a in applications] == [("a-1", "selected"), ("a-2", "live")]
        assert session.scalars(select(IncidentRow.seq)).all() == [1]


def test_notification_rendered_into_outbox(db_sessions: sessionmaker[Session]) -> None:
    request = NotificationRequest(
        key="application_received:a-1",
        recipient_id="client-1",
        recipient_role=Role.CLIENT,
        template="application_received",
        params={"provider_id": "prov-1", "price_minor": 7875, "currency": "EUR"},
    )
    with db_sessions.begin() as session:
        project_mission(session, projection(make_snapshot(), "application_received", [request]))

    with db_sessions() as session:
        [notification] = list_notifications(session, recipient_id="client-1")
    assert notification.mission_id == "m-1"
    assert notification.template == "application_received"
    assert notification.locale == "fr"
    assert notification.recipient_role is Role.CLIENT
    assert notification.sent_at is None
    assert notification.subject == "Nouvelle candidature pour « Réparer une fuite sous l'évier »"
    assert notification.body == (
        "Bonjour,\n\n"
        "Un prestataire a répondu à votre demande « Réparer une fuite sous l'évier » "
        "pour un prix de 78,75 €. Consultez sa proposition et son profil pour faire "
        "votre choix.\n\n"
        "Référence de la mission : m-1"
    )


def test_notification_keys_unique_per_mission(db_sessions: sessionmaker[Session]) -> None:
    with db_sessions.begin() as session:
        project_mission(
            session,
            projection(make_snapshot("m-1"), notifications=[posted_notification()] * 2),
        )
        project_mission(
            session, projection(make_snapshot("m-1"), notifications=[posted_notification()])
        )
        project_mission(
            session, projection(make_snapshot("m-2"), notifications=[posted_notification()])
        )

    with db_sessions() as session:
        rows = session.execute(
            select(NotificationRow.mission_id, NotificationRow.key).order_by(NotificationRow.id)
        ).all()
    assert [tuple(row) for row in rows] == [("m-1", "posted"), ("m-2", "posted")]


def test_unknown_template_fails_projection(db_sessions: sessionmaker[Session]) -> None:
    request = posted_notification().model_copy(update={"template": "no_such_template"})
    expected_error = "unknown notification template 'no_such_template'"
    with pytest.raises(ValueError, match=expected_error), db_sessions.begin() as session:
        project_mission(session, projection(make_snapshot(), notifications=[request]))

    with db_sessions() as session:
        assert count(session, MissionRow) == 0


@pytest.mark.parametrize("round_number", range(4))
def test_concurrent_projections_keep_newest(
    db_sessions: sessionmaker[Session], round_number: int
) -> None:
    mission_id = f"m-race-{round_number}"
    older = make_snapshot(
        mission_id, updated_at=at(1), applications=[make_application(f"{mission_id}-a", "prov-1")]
    )
    newer = make_snapshot(
        mission_id,
        state=MissionState.AWAITING_PAYMENT,
        provider_id="prov-1",
        updated_at=at(2),
        applications=[
            make_application(f"{mission_id}-a", "prov-1", status=ApplicationStatus.SELECTED)
        ],
    )
    inputs = [
        projection(older, "application_received", [posted_notification(key="older")]),
        projection(newer, "application_selected", [posted_notification(key="newer")]),
        projection(newer, "application_selected", [posted_notification(key="newer")]),
    ]
    barrier = threading.Barrier(len(inputs))
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            with db_sessions.begin() as session:
                project_mission(session, inputs[index])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with db_sessions() as session:
        row = get_mission_row(session, mission_id)
        assert row is not None
        assert row.state == "awaiting_payment"
        assert row.updated_at == at(2)
        assert row.last_event == "application_selected"
        status = session.scalar(
            select(ApplicationRow.status).where(ApplicationRow.id == f"{mission_id}-a")
        )
        assert status == "selected"
        keys = sorted(n.key for n in list_notifications(session, mission_id=mission_id))
        assert keys == ["newer", "older"]
