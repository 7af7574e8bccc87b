"""Commands only ops may send: moving a deadline and retrying a waiting payout."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from missions.client import MissionsClient
from missions.contracts import ActorInput, DeadlineKind, MissionState, MoveDeadlineInput
from missions.errors import Forbidden, InvalidState
from missions.payments import PaymentsGateway
from tests.support import (
    OPS,
    client_actor,
    funded_mission,
    onboard,
    provider_actor,
    release,
    wait_for_state,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_extended_confirmation_delays_release(
    missions_client: MissionsClient,
    time_env: WorkflowEnvironment,
    gateway: PaymentsGateway,
    sessions: sessionmaker[Session],
) -> None:
    customer, provider = client_actor("move-late"), provider_actor("move-late")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 4000)
    requested = await missions_client.request_release(mission_id, ActorInput(actor=provider))
    assert requested.deadlines.confirmation is not None
    later = requested.deadlines.confirmation + timedelta(days=3)

    moved = await missions_client.move_deadline(
        mission_id, MoveDeadlineInput(actor=OPS, deadline=DeadlineKind.CONFIRMATION, at=later)
    )
    assert moved.deadlines.confirmation == later
    assert moved.deadlines.confirmation_reminder == later - timedelta(days=1)

    await time_env.sleep(timedelta(days=8))
    assert (await missions_client.snapshot(mission_id)).state is MissionState.COMPLETION_REQUESTED
    await time_env.sleep(timedelta(days=2, hours=1))
    released = await wait_for_state(missions_client, mission_id, MissionState.REVIEWING)
    assert released.auto_released is True
    assert released.money.provider_payout_minor == 3600


async def test_shortened_review_window_closes(
    missions_client: MissionsClient,
    time_env: WorkflowEnvironment,
    gateway: PaymentsGateway,
    sessions: sessionmaker[Session],
) -> None:
    customer, provider = client_actor("move-short"), provider_actor("move-short")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 4000)
    await release(missions_client, mission_id, customer)
    soon = await time_env.get_current_time() + timedelta(hours=2)

    await missions_client.move_deadline(
        mission_id, MoveDeadlineInput(actor=OPS, deadline=DeadlineKind.REVIEW, at=soon)
    )
    await time_env.sleep(timedelta(hours=3))
    closed = await wait_for_state(missions_client, mission_id, MissionState.CLOSED)
    assert closed.published_reviews == []


async def test_move_deadline_checks_party_and_state(missions_client: MissionsClient) -> None:
    customer, provider = client_actor("move-bad"), provider_actor("move-bad")
    mission_id = await funded_mission(missions_client, customer, provider, 4000)
    funded = await missions_client.snapshot(mission_id)
    at = funded.updated_at + timedelta(days=1)

    with pytest.raises(Forbidden):
        await missions_client.move_deadline(
            mission_id,
            MoveDeadlineInput(actor=customer, deadline=DeadlineKind.CONFIRMATION, at=at),
        )
    with pytest.raises(InvalidState) as wrong_state:
        await missions_client.move_deadline(
            mission_id, MoveDeadlineInput(actor=OPS, deadline=DeadlineKind.CONFIRMATION, at=at)
        )
    assert wrong_state.value.details["state"] == "funded"
    assert (await missions_client.snapshot(mission_id)).deadlines == funded.deadlines


async def test_retry_payout_after_onboarding(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("retry"), provider_actor("retry")
    mission_id = await funded_mission(missions_client, customer, provider, 5000)
    waiting = await release(missions_client, mission_id, customer)
    assert waiting.payout_pending is True

    onboard(gateway, sessions, provider)
    paid = await missions_client.retry_payout(mission_id, ActorInput(actor=OPS))
    assert paid.state is MissionState.REVIEWING
    assert paid.payout_pending is False
    assert paid.money.provider_payout_minor == 4500

    with pytest.raises(InvalidState):
        await missions_client.retry_payout(mission_id, ActorInput(actor=OPS))
    with pytest.raises(Forbidden):
        await missions_client.retry_payout(mission_id, ActorInput(actor=customer))
