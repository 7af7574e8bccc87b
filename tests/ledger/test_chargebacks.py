"""Chargebacks from the card network, before and after the provider was paid."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from sqlalchemy.orm import Session, sessionmaker

from missions.activity_models import LedgerAccount
from missions.client import MissionsClient
from missions.contracts import ChargebackEvent, DisputeInput, MissionState, ResolveDisputeInput
from missions.db.models import MissionRow
from missions.db.repositories import record_chargeback_after_end
from missions.ledger_check import check_mission
from missions.payments import PaymentsGateway, mission_totals
from tests.ledger.test_ledger import balances
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

Acct = LedgerAccount


def chargeback_for(intent_id: str, amount: int) -> ChargebackEvent:
    return ChargebackEvent(
        event_id=f"evt_{uuid.uuid4().hex}",
        dispute_id=f"dp_{uuid.uuid4().hex[:12]}",
        payment_intent_id=intent_id,
        amount_minor=amount,
        reason="fraudulent",
    )


async def projected(sessions: sessionmaker[Session], mission_id: str, event: str) -> None:
    """Wait until the read model stored the mission's `event`; the query runs ahead of it."""
    deadline = time.monotonic() + 10
    while True:
        with sessions() as session:
            mission = session.get(MissionRow, mission_id)
            if mission is not None and mission.last_event == event:
                return
        assert time.monotonic() < deadline, f"mission {mission_id} never stored {event}"
        await asyncio.sleep(0.05)


def problems(
    sessions: sessionmaker[Session], gateway: PaymentsGateway, mission_id: str
) -> list[str]:
    with sessions() as session:
        mission = session.get(MissionRow, mission_id)
        assert mission is not None
        return check_mission(session, mission, mission_totals(gateway._stripe, mission_id)).problems


async def test_chargeback_before_release_freezes(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("cb-1"), provider_actor("cb-1")
    mission_id = await funded_mission(missions_client, customer, provider, 6000)
    funded = await missions_client.snapshot(mission_id)
    assert funded.payment is not None
    event = chargeback_for(funded.payment.payment_intent_id, 6300)

    await missions_client.send_chargeback(mission_id, event)
    await missions_client.send_chargeback(mission_id, event)
    disputed = await wait_for_state(missions_client, mission_id, MissionState.DISPUTED)
    await projected(sessions, mission_id, "chargeback_opened")

    assert disputed.needs_attention is True
    assert disputed.money.charged_back_minor == 6300
    assert disputed.dispute is not None
    assert disputed.dispute.reason == f"chargeback {event.dispute_id}: fraudulent"
    assert balances(sessions, mission_id)[Acct.ESCROW] == 0

    closed = await missions_client.resolve_dispute(
        mission_id, ResolveDisputeInput(actor=OPS, refund_minor=0, release_minor=0)
    )
    assert closed.state is MissionState.CLOSED
    assert closed.money.platform_revenue_minor == 0
    assert problems(sessions, gateway, mission_id) == []


async def test_chargeback_after_release_is_a_loss(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("cb-2"), provider_actor("cb-2")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 7500)
    reviewing = await release(missions_client, mission_id, customer)
    assert reviewing.payment is not None

    await missions_client.send_chargeback(
        mission_id, chargeback_for(reviewing.payment.payment_intent_id, 7875)
    )
    await projected(sessions, mission_id, "chargeback_after_release")
    snapshot = await missions_client.snapshot(mission_id)

    assert snapshot.state is MissionState.REVIEWING
    assert snapshot.needs_attention is True
    assert snapshot.money.provider_payout_minor == 6750
    assert snapshot.money.platform_revenue_minor == 1125 - 7875
    ledger = balances(sessions, mission_id)
    assert ledger[Acct.PLATFORM_REVENUE] == 1125 - 7875
    assert ledger[Acct.CLIENT_CARD] == 0
    assert ledger[Acct.PROVIDER] == 6750
    assert problems(sessions, gateway, mission_id) == []


async def test_chargeback_cancels_waiting_payout(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("cb-3"), provider_actor("cb-3")
    mission_id = await funded_mission(missions_client, customer, provider, 5000)
    waiting = await release(missions_client, mission_id, customer)
    assert waiting.payout_pending is True
    assert waiting.payment is not None

    await missions_client.send_chargeback(
        mission_id, chargeback_for(waiting.payment.payment_intent_id, 5250)
    )
    disputed = await wait_for_state(missions_client, mission_id, MissionState.DISPUTED)
    await projected(sessions, mission_id, "chargeback_opened")

    assert disputed.payout_pending is False
    assert disputed.deadlines.payout_retry is None
    ledger = balances(sessions, mission_id)
    assert ledger[Acct.PROVIDER_PAYABLE] == 0
    assert ledger[Acct.ESCROW] == 0


async def test_chargeback_after_end_booked_once(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("cb-4"), provider_actor("cb-4")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 4000)
    await missions_client.open_dispute(mission_id, DisputeInput(actor=OPS, reason="Fraude"))
    await missions_client.resolve_dispute(
        mission_id, ResolveDisputeInput(actor=OPS, refund_minor=0, release_minor=0)
    )
    await projected(sessions, mission_id, "dispute_resolved")

    with sessions.begin() as session:
        assert record_chargeback_after_end(session, mission_id, "dp_after_end", 4200) is True
    with sessions.begin() as session:
        assert record_chargeback_after_end(session, mission_id, "dp_after_end", 4200) is False

    with sessions() as session:
        mission = session.get(MissionRow, mission_id)
        assert mission is not None
        assert mission.needs_attention is True
        assert mission.platform_revenue_minor == 0
    assert balances(sessions, mission_id)[Acct.PLATFORM_REVENUE] == 0
    assert problems(sessions, gateway, mission_id) == []
