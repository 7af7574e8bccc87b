from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from missions.client import MissionsClient
from missions.contracts import *
from missions.errors import *
from tests.support import *

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_naive_scheduled(missions_client, gateway, sessions):
    customer, provider = client_actor("x-naive"), provider_actor("x-naive")
    onboard(gateway, sessions, provider)
    when = datetime(2099, 1, 1, 10, 0)
    mission_id = await funded_mission(missions_client, customer, provider, 5000, scheduled_at=when)
    try:
        r = await asyncio.wait_for(missions_client.cancel(mission_id, CancelInput(actor=customer)), 10)
        print("RESULT", r.state, r.money)
    except Exception as e:
        print("ERR", type(e), e)
        raise


async def test_release_after_late_cancel(missions_client, gateway, sessions):
    customer, provider = client_actor("x-late"), provider_actor("x-late")
    from datetime import UTC
    when = datetime.now(UTC) + timedelta(hours=2)
    mission_id = await funded_mission(missions_client, customer, provider, 10000, scheduled_at=when)
    s = await missions_client.cancel(mission_id, CancelInput(actor=customer))
    print("after cancel", s.state, s.money, s.payout_pending)
    r = await missions_client.request_release(mission_id, ActorInput(actor=provider))
    print("after release req", r.state, r.deadlines)


async def test_min_price(missions_client):
    customer, provider = client_actor("x-min"), provider_actor("x-min")
    mission_id, (app_id,) = await post_and_apply(missions_client, customer, [(provider, 40)])
    try:
        s = await missions_client.select_application(mission_id, ApplicationRef(actor=customer, application_id=app_id))
        print("selected", s.state, s.payment)
    except Exception as e:
        print("ERR", type(e), e)
