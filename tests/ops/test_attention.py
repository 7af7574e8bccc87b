"""`missions ops attention` against the dev server's visibility store."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from missions.client import MissionsClient
from missions.contracts import DisputeInput
from missions.ops.attention import AttentionItem, attention_query, find_attention
from tests.e2e.conftest import LiveStack
from tests.support import client_actor, funded_mission, onboard, provider_actor, release

ASYNC = pytest.mark.asyncio(loop_scope="session")


def test_query_names_every_reason() -> None:
    query = attention_query(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    assert "ExecutionStatus = 'Running'" in query
    assert "NeedsAttention = true" in query
    assert "MissionState = 'disputed'" in query
    assert "NextDeadline < '2026-06-01T11:50:00Z'" in query


@ASYNC
async def test_attention_lists_exactly_flagged_missions(
    live_stack: LiveStack, dev_temporal: WorkflowEnvironment, sessions: sessionmaker[Session]
) -> None:
    missions = MissionsClient(dev_temporal.client, live_stack.settings)
    customer = client_actor("attention")
    paid_provider, unpaid_provider = provider_actor("attn-paid"), provider_actor("attn-unpaid")
    onboard(live_stack.gateway, sessions, paid_provider)

    disputed = await funded_mission(missions, customer, paid_provider, 4000)
    await missions.open_dispute(disputed, DisputeInput(actor=customer, reason="Absent"))
    waiting = await funded_mission(missions, customer, unpaid_provider, 4000)
    assert (await release(missions, waiting, customer)).payout_pending is True
    healthy = await funded_mission(missions, customer, paid_provider, 4000)

    ours = {disputed, waiting, healthy}
    found: dict[str, AttentionItem] = {}
    deadline = time.monotonic() + 15
    # The visibility store is updated shortly after each change, not at once.
    while set(found) != {disputed, waiting} and time.monotonic() < deadline:
        items = await find_attention(dev_temporal.client, deep=False)
        found = {item.mission_id: item for item in items if item.mission_id in ours}
        await asyncio.sleep(0.3)

    assert set(found) == {disputed, waiting}
    assert found[disputed].state == "disputed"
    assert "dispute open" in found[disputed].reasons
    assert found[waiting].state == "funded"
    assert found[waiting].reasons == [
        "flagged by the workflow (dispute, waiting payout or failed money step)"
    ]
    assert healthy not in found
    assert (await missions.snapshot(healthy)).deadlines.payment is None
