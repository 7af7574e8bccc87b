from __future__ import annotations
import asyncio
import pytest
from missions.contracts import *
from tests.support import *

pytestmark = pytest.mark.asyncio(loop_scope="session")

async def test_nul(missions_client):
    customer, provider = client_actor("nul"), provider_actor("nul")
    snap = await missions_client.create_mission(customer, mission_request(title="Joint\x00robinet"))
    try:
        r = await asyncio.wait_for(missions_client.apply(snap.mission_id, ApplyInput(actor=provider, price_minor=5000, message="ok")), 10)
        print("applied", r.snapshot.state)
    except Exception as e:
        print("ERR", type(e).__name__, e)
        raise
