"""Applications at the limit, sent twice at once, and selected after a withdrawal."""

from __future__ import annotations

import asyncio

import pytest

from missions.client import MissionsClient
from missions.contracts import (
    MAX_LIVE_APPLICATIONS,
    ApplicationRef,
    ApplicationStatus,
    ApplyInput,
    MissionState,
)
from missions.errors import Conflict, InvalidState
from tests.support import client_actor, mission_request, post_and_apply, provider_actor

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_fifty_first_application_conflicts(missions_client: MissionsClient) -> None:
    customer = client_actor("crowd")
    posted = await missions_client.create_mission(customer, mission_request())
    mission_id = posted.mission_id
    for number in range(MAX_LIVE_APPLICATIONS):
        await missions_client.apply(
            mission_id,
            ApplyInput(actor=provider_actor(f"crowd-{number}"), price_minor=5000, message="Oui"),
        )

    with pytest.raises(Conflict, match="already has 50 live applications"):
        await missions_client.apply(
            mission_id,
            ApplyInput(actor=provider_actor("crowd-late"), price_minor=4000, message="Oui"),
        )

    snapshot = await missions_client.snapshot(mission_id)
    assert len(snapshot.applications) == 50
    assert snapshot.state is MissionState.OPEN


async def test_concurrent_applications_keep_one(missions_client: MissionsClient) -> None:
    customer, provider = client_actor("twice"), provider_actor("twice")
    posted = await missions_client.create_mission(customer, mission_request())
    application = ApplyInput(actor=provider, price_minor=5000, message="Disponible.")

    results = await asyncio.gather(
        *(missions_client.apply(posted.mission_id, application) for _ in range(3)),
        return_exceptions=True,
    )

    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 2
    snapshot = await missions_client.snapshot(posted.mission_id)
    assert [a.provider_id for a in snapshot.applications] == [provider.user_id]


async def test_withdrawn_application_cannot_be_selected(missions_client: MissionsClient) -> None:
    customer, provider = client_actor("withdrawn"), provider_actor("withdrawn")
    mission_id, (application_id,) = await post_and_apply(
        missions_client, customer, [(provider, 5000)]
    )
    await missions_client.withdraw_application(
        mission_id, ApplicationRef(actor=provider, application_id=application_id)
    )

    with pytest.raises(InvalidState, match="withdrawn"):
        await missions_client.select_application(
            mission_id, ApplicationRef(actor=customer, application_id=application_id)
        )

    snapshot = await missions_client.snapshot(mission_id)
    assert snapshot.state is MissionState.OPEN
    assert snapshot.payment is None
    assert [a.status for a in snapshot.applications] == [ApplicationStatus.WITHDRAWN]
