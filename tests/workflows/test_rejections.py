"""Rejected commands: the right error type, and nothing changes in the mission."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType

from missions.client import MissionsClient
from missions.contracts import (
    ActorInput,
    ApplicationRef,
    ApplyInput,
    ConfirmPaymentInput,
    DisputeInput,
    MissionState,
    ResolveDisputeInput,
    ReviewInput,
)
from missions.errors import Conflict, Forbidden, InvalidInput, InvalidState, MissionNotFound
from missions.payments import PaymentsGateway
from tests.support import (
    OPS,
    client_actor,
    funded_mission,
    onboard,
    post_and_apply,
    provider_actor,
    release,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_other_client_cannot_select(missions_client: MissionsClient) -> None:
    owner, stranger, provider = client_actor("r1"), client_actor("r1-x"), provider_actor("r1")
    mission_id, (application_id,) = await post_and_apply(missions_client, owner, [(provider, 5000)])
    before = await missions_client.snapshot(mission_id)
    with pytest.raises(Forbidden):
        await missions_client.select_application(
            mission_id, ApplicationRef(actor=stranger, application_id=application_id)
        )
    after = await missions_client.snapshot(mission_id)
    assert after == before


async def test_provider_cannot_select(missions_client: MissionsClient) -> None:
    owner, provider = client_actor("r2"), provider_actor("r2")
    mission_id, (application_id,) = await post_and_apply(missions_client, owner, [(provider, 5000)])
    with pytest.raises(Forbidden):
        await missions_client.select_application(
            mission_id, ApplicationRef(actor=provider, application_id=application_id)
        )


async def test_second_live_application_conflicts(missions_client: MissionsClient) -> None:
    owner, provider = client_actor("r3"), provider_actor("r3")
    mission_id, _ = await post_and_apply(missions_client, owner, [(provider, 5000)])
    with pytest.raises(Conflict):
        await missions_client.apply(
            mission_id, ApplyInput(actor=provider, price_minor=4000, message="Moins cher")
        )
    snapshot = await missions_client.snapshot(mission_id)
    assert len(snapshot.applications) == 1


async def test_unknown_application_not_found(missions_client: MissionsClient) -> None:
    owner, provider = client_actor("r4"), provider_actor("r4")
    mission_id, _ = await post_and_apply(missions_client, owner, [(provider, 5000)])
    with pytest.raises(MissionNotFound):
        await missions_client.select_application(
            mission_id, ApplicationRef(actor=owner, application_id="app-missing")
        )


async def test_unknown_mission_not_found(missions_client: MissionsClient) -> None:
    with pytest.raises(MissionNotFound):
        await missions_client.snapshot("mission-00000000-0000-0000-0000-000000000000")
    with pytest.raises(MissionNotFound):
        await missions_client.snapshot("not-a-mission")


async def test_pay_before_selection_invalid_state(missions_client: MissionsClient) -> None:
    owner, provider = client_actor("r5"), provider_actor("r5")
    mission_id, _ = await post_and_apply(missions_client, owner, [(provider, 5000)])
    with pytest.raises(InvalidState):
        await missions_client.confirm_payment(
            mission_id, ConfirmPaymentInput(actor=owner, payment_method="pm_card_visa")
        )
    assert (await missions_client.snapshot(mission_id)).state is MissionState.OPEN


async def test_request_release_only_by_selected_provider(
    missions_client: MissionsClient,
) -> None:
    owner, provider, other = client_actor("r6"), provider_actor("r6"), provider_actor("r6-o")
    mission_id = await funded_mission(missions_client, owner, provider, 5000)
    with pytest.raises(Forbidden):
        await missions_client.request_release(mission_id, ActorInput(actor=other))
    with pytest.raises(Forbidden):
        await missions_client.request_release(mission_id, ActorInput(actor=owner))


async def test_resolution_over_escrow_rejected(missions_client: MissionsClient) -> None:
    owner, provider = client_actor("r7"), provider_actor("r7")
    mission_id = await funded_mission(missions_client, owner, provider, 5000)
    await missions_client.open_dispute(mission_id, DisputeInput(actor=owner, reason="Absent"))
    with pytest.raises(InvalidInput) as rejected:
        await missions_client.resolve_dispute(
            mission_id, ResolveDisputeInput(actor=OPS, refund_minor=5000, release_minor=251)
        )
    assert rejected.value.details["held_minor"] == 5250
    with pytest.raises(Forbidden):
        await missions_client.resolve_dispute(
            mission_id, ResolveDisputeInput(actor=owner, refund_minor=5250, release_minor=0)
        )
    snapshot = await missions_client.snapshot(mission_id)
    assert snapshot.state is MissionState.DISPUTED
    assert snapshot.money.refunded_minor == 0


async def test_second_review_conflicts(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    owner, provider = client_actor("r8"), provider_actor("r8")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, owner, provider, 5000)
    await release(missions_client, mission_id, owner)
    await missions_client.submit_review(mission_id, ReviewInput(actor=owner, stars=5))
    with pytest.raises(Conflict):
        await missions_client.submit_review(mission_id, ReviewInput(actor=owner, stars=1))


async def test_review_before_release_invalid_state(missions_client: MissionsClient) -> None:
    owner, provider = client_actor("r9"), provider_actor("r9")
    mission_id = await funded_mission(missions_client, owner, provider, 5000)
    with pytest.raises(InvalidState):
        await missions_client.submit_review(mission_id, ReviewInput(actor=owner, stars=5))


async def test_rejected_update_leaves_no_history(missions_client: MissionsClient) -> None:
    owner, provider = client_actor("r10"), provider_actor("r10")
    mission_id, (application_id,) = await post_and_apply(missions_client, owner, [(provider, 5000)])
    handle = missions_client.temporal.get_workflow_handle(mission_id)
    before = [event.event_type async for event in handle.fetch_history_events()]
    with pytest.raises(Forbidden):
        await missions_client.select_application(
            mission_id, ApplicationRef(actor=provider, application_id=application_id)
        )
    after = [event.event_type async for event in handle.fetch_history_events()]
    # The test server may record the workflow task that ran the validator; a real server
    # drops it. Either way no update, activity or other effect may appear.
    task_events = {
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    }
    added = after[len(before) :]
    assert after[: len(before)] == before
    assert [event for event in added if event not in task_events] == []
