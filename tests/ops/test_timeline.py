"""A mission's history rendered as domain events."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

from missions.client import MissionsClient
from missions.contracts import (
    ActorInput,
    ApplicationRef,
    ConfirmPaymentInput,
    DisputeInput,
    ResolveDisputeInput,
)
from missions.errors import PaymentDeclined
from missions.ops.timeline import (
    LOCAL_ACTIVITY_MARKER,
    TimelineEntry,
    build_timeline,
    euros,
    format_timeline,
)
from missions.payments import PaymentsGateway
from tests.replay.record import HISTORIES_DIR
from tests.support import (
    OPS,
    client_actor,
    funded_mission,
    onboard,
    post_and_apply,
    provider_actor,
)

ASYNC = pytest.mark.asyncio(loop_scope="session")


def recorded_timeline(version: str, path: str) -> list[TimelineEntry]:
    file = HISTORIES_DIR / version / f"{path}.json"
    history = WorkflowHistory.from_json(path, file.read_text())
    return build_timeline(history.events)


def local_activity_marker(activity_type: str, failure: str | None = None) -> HistoryEvent:
    event = HistoryEvent(event_id=7, event_type=EventType.EVENT_TYPE_MARKER_RECORDED)
    event.event_time.FromSeconds(1_777_885_200)
    marker = event.marker_recorded_event_attributes
    marker.marker_name = LOCAL_ACTIVITY_MARKER
    marker.details["data"].payloads.add(
        metadata={"encoding": b"json/plain"},
        data=json.dumps({"seq": 1, "attempt": 1, "activity_type": activity_type}).encode(),
    )
    if failure is not None:
        marker.failure.message = failure
    return event


def test_euros_formats_minor_units() -> None:
    assert euros(18900) == "€189.00"
    assert euros(5) == "€0.05"
    assert euros(-250) == "-€2.50"
    assert euros(None) == "?"


@ASYNC
async def test_disputed_mission_timeline(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("timeline"), provider_actor("timeline")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 18000)
    await missions_client.request_release(mission_id, ActorInput(actor=provider))
    await missions_client.open_dispute(
        mission_id, DisputeInput(actor=customer, reason="Plafond non terminé")
    )
    await missions_client.resolve_dispute(
        mission_id, ResolveDisputeInput(actor=OPS, refund_minor=6900, release_minor=11000)
    )

    history = await missions_client.temporal.get_workflow_handle(mission_id).fetch_history()
    texts = [entry.text for entry in build_timeline(history.events)]

    assert texts[0].startswith(f"posted by client {customer.user_id}: Monter une étagère")
    assert "create PaymentIntent for €189.00" in texts
    assert f"open dispute by client {customer.user_id} (reason: Plafond non terminé)" in texts
    assert f"resolve dispute by ops {OPS.user_id} (refund €69.00, release €110.00)" in texts
    assert "refund €69.00 (dispute)" in texts
    assert f"transfer €110.00 to provider {provider.user_id} (dispute)" in texts
    states = [text for text in texts if text.startswith("state is now")]
    assert states == [
        "state is now open",
        "state is now awaiting_payment",
        "state is now funded",
        "state is now completion_requested",
        "state is now disputed",
        "state is now released",
        "state is now reviewing",
    ]
    assert all("project_mission" not in text for text in texts)
    assert len(format_timeline(build_timeline(history.events))) == len(texts)


@ASYNC
async def test_declined_payment_in_timeline(missions_client: MissionsClient) -> None:
    customer, provider = client_actor("timeline-decl"), provider_actor("timeline-decl")
    mission_id, (application_id,) = await post_and_apply(
        missions_client, customer, [(provider, 4000)]
    )
    await missions_client.select_application(
        mission_id, ApplicationRef(actor=customer, application_id=application_id)
    )
    with pytest.raises(PaymentDeclined):
        await missions_client.confirm_payment(
            mission_id, ConfirmPaymentInput(actor=customer, payment_method="pm_card_chargeDeclined")
        )

    history = await missions_client.temporal.get_workflow_handle(mission_id).fetch_history()
    entries = build_timeline(history.events)
    rejected = [entry.text for entry in entries if entry.kind == "rejected"]
    assert len(rejected) == 1
    assert rejected[0].startswith("confirm payment failed: card declined")
    assert "confirm payment with pm_card_chargeDeclined" in [entry.text for entry in entries]


@pytest.mark.parametrize("path", ["happy_path_reviews", "dispute_split"])
def test_timeline_same_across_versions(path: str) -> None:
    """Version 0.2.0 writes the read model with local activities, 0.1.0 with activities."""
    old = recorded_timeline("0.1.0", path)
    new = recorded_timeline("0.2.0", path)
    old_texts = [entry.text for entry in old]
    new_texts = [entry.text for entry in new]

    assert [entry.kind for entry in new] == [entry.kind for entry in old]
    assert [entry.text for entry in new if entry.kind == "state"] == [
        entry.text for entry in old if entry.kind == "state"
    ]
    assert "publish 2 review(s)" in old_texts
    assert "publish the reviews" in new_texts


def test_local_activity_markers_in_timeline() -> None:
    events = [
        local_activity_marker("project_mission"),
        local_activity_marker("publish_reviews"),
        local_activity_marker("project_mission", failure="database is locked"),
    ]

    entries = build_timeline(events)

    assert [(entry.kind, entry.text) for entry in entries] == [
        ("step", "publish the reviews"),
        ("failed", "project_mission failed: database is locked"),
    ]
