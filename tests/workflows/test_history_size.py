"""How many history events a mission records, and the read-model writes behind that count."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.read_model import ReadModelActivities
from missions.activity_models import ProjectionInput
from missions.client import MissionsClient
from missions.contracts import (
    ActorInput,
    ApplicationRef,
    ApplyInput,
    CancelInput,
    ConfirmPaymentInput,
    MissionSnapshot,
    MissionState,
    ReviewInput,
)
from missions.db.models import ApplicationRow
from missions.ops.timeline import LOCAL_ACTIVITY_MARKER
from missions.payments import PaymentsGateway
from missions.settings import Settings
from tests.support import (
    client_actor,
    mission_request,
    onboard,
    post_and_apply,
    provider_actor,
    release,
)
from workers.main import activities_for
from workflows import policies
from workflows.mission import MissionWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Version 0.1.0 recorded 156 events on this path.
MAX_HAPPY_PATH_EVENTS = 100
READ_MODEL_ACTIVITIES = {"project_mission", "publish_reviews"}


def count_by_type(events: Iterable[HistoryEvent]) -> dict[str, int]:
    counts = Counter(
        EventType.Name(event.event_type).removeprefix("EVENT_TYPE_") for event in events
    )
    return dict(counts.most_common())


def scheduled_activities(events: Iterable[HistoryEvent]) -> list[str]:
    return [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


def failed_local_activity_markers(events: Iterable[HistoryEvent]) -> list[HistoryEvent]:
    return [
        event
        for event in events
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
        and event.marker_recorded_event_attributes.HasField("failure")
    ]


async def test_happy_path_history_size(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    customer, amelie, fabrice = client_actor("hs"), provider_actor("hs-a"), provider_actor("hs-f")
    onboard(gateway, sessions, amelie)
    mission_id, (chosen, _) = await post_and_apply(
        missions_client, customer, [(amelie, 7500), (fabrice, 9000)]
    )
    await missions_client.select_application(
        mission_id, ApplicationRef(actor=customer, application_id=chosen)
    )
    await missions_client.confirm_payment(
        mission_id, ConfirmPaymentInput(actor=customer, payment_method="pm_card_visa")
    )
    await missions_client.request_release(mission_id, ActorInput(actor=amelie))
    await release(missions_client, mission_id, customer)
    await missions_client.submit_review(
        mission_id, ReviewInput(actor=customer, stars=5, comment="Parfait")
    )
    await missions_client.submit_review(
        mission_id, ReviewInput(actor=amelie, stars=4, comment="Merci")
    )

    handle = missions_client.temporal.get_workflow_handle(mission_id, result_type=MissionSnapshot)
    closed = await handle.result()
    history = await handle.fetch_history()
    counts = count_by_type(history.events)

    assert closed.state is MissionState.CLOSED
    assert len(history.events) <= MAX_HAPPY_PATH_EVENTS, (
        f"{len(history.events)} events, more than {MAX_HAPPY_PATH_EVENTS}: {counts}"
    )
    assert READ_MODEL_ACTIVITIES.isdisjoint(scheduled_activities(history.events)), counts


class FlakyProjection:
    """Fails the projections of chosen missions until a set time, like a database outage."""

    def __init__(self, read_model: ReadModelActivities) -> None:
        self._read_model = read_model
        self._lock = threading.Lock()
        self._down_until: dict[str, float] = {}

    def fail_for(self, mission_id: str, outage: timedelta) -> None:
        with self._lock:
            self._down_until[mission_id] = time.monotonic() + outage.total_seconds()

    @activity.defn(name="project_mission")
    def project_mission(self, data: ProjectionInput) -> None:
        mission_id = data.snapshot.mission_id
        with self._lock:
            down_until = self._down_until.get(mission_id, 0.0)
        if time.monotonic() < down_until:
            raise RuntimeError(f"database unavailable for mission {mission_id}")
        self._read_model.project_mission(data)


async def test_outage_moves_write_to_activity(
    time_env: WorkflowEnvironment,
    settings: Settings,
    gateway: PaymentsGateway,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two local attempts instead of three keep the test short, and the outage outlasts them.
    local_write = dataclasses.replace(policies.DATABASE_LOCAL_WRITE, maximum_attempts=2)
    monkeypatch.setattr(policies, "DATABASE_LOCAL_WRITE", local_write)
    outage = timedelta(seconds=3)
    flaky = FlakyProjection(ReadModelActivities(sessions))
    activities = [
        flaky.project_mission if getattr(item, "__name__", "") == "project_mission" else item
        for item in activities_for(gateway, sessions)
    ]
    queue = f"missions-outage-{uuid.uuid4().hex[:8]}"
    customer, provider = client_actor("outage"), provider_actor("outage")

    with ThreadPoolExecutor(max_workers=8) as executor:
        worker = Worker(
            time_env.client,
            task_queue=queue,
            workflows=[MissionWorkflow],
            activities=activities,
            activity_executor=executor,
        )
        async with worker:
            client = MissionsClient(
                time_env.client, settings.model_copy(update={"task_queue": queue})
            )
            posted = await client.create_mission(customer, mission_request())
            mission_id = posted.mission_id
            started = time.monotonic()
            flaky.fail_for(mission_id, outage)
            applied = await client.apply(
                mission_id, ApplyInput(actor=provider, price_minor=5000, message="Dispo.")
            )
            waited = time.monotonic() - started
            # Ended here, so that no timer of this mission waits for a worker that is gone.
            await client.cancel(mission_id, CancelInput(actor=customer))
            handle = time_env.client.get_workflow_handle(mission_id, result_type=MissionSnapshot)
            cancelled = await handle.result()

    history = await handle.fetch_history()
    failed = failed_local_activity_markers(history.events)
    with sessions() as session:
        stored = session.scalars(
            select(ApplicationRow.id).where(ApplicationRow.mission_id == mission_id)
        ).all()

    assert waited >= outage.total_seconds()
    assert len(failed) == 1, count_by_type(history.events)
    assert scheduled_activities(history.events) == ["project_mission"]
    assert stored == [applied.application_id]
    assert cancelled.state is MissionState.CANCELLED
