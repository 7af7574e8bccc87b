"""The double-entry ledger of each mission, and the check that compares it with Stripe."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from missions.activity_models import LedgerAccount
from missions.client import MissionsClient
from missions.contracts import (
    ActorInput,
    DisputeInput,
    MissionState,
    ResolveDisputeInput,
    ReviewInput,
)
from missions.db.models import LedgerEntryRow, MissionRow
from missions.db.repositories import account_balances, list_ledger_entries
from missions.ledger_check import check_mission
from missions.payments import PaymentsGateway, mission_totals
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


def balances(sessions: sessionmaker[Session], mission_id: str) -> dict[LedgerAccount, int]:
    with sessions() as session:
        return account_balances(list_ledger_entries(session, mission_id))


def check(sessions: sessionmaker[Session], gateway: PaymentsGateway, mission_id: str) -> list[str]:
    totals = mission_totals(gateway._stripe, mission_id)
    with sessions() as session:
        mission = session.get(MissionRow, mission_id)
        assert mission is not None
        return check_mission(session, mission, totals).problems


async def test_released_mission_balances(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("ledger-1"), provider_actor("ledger-1")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 7500)
    assert balances(sessions, mission_id)[Acct.ESCROW] == 7875

    await release(missions_client, mission_id, customer)
    await missions_client.submit_review(mission_id, ReviewInput(actor=customer, stars=5))
    await missions_client.submit_review(mission_id, ReviewInput(actor=provider, stars=5))
    await wait_for_state(missions_client, mission_id, MissionState.CLOSED)

    assert balances(sessions, mission_id) == {
        Acct.CLIENT_CARD: -7875,
        Acct.ESCROW: 0,
        Acct.PROVIDER_PAYABLE: 0,
        Acct.PROVIDER: 6750,
        Acct.PLATFORM_REVENUE: 1125,
    }
    assert check(sessions, gateway, mission_id) == []


async def test_dispute_split_balances(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("ledger-2"), provider_actor("ledger-2")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 18000)
    await missions_client.open_dispute(mission_id, DisputeInput(actor=customer, reason="Taché"))
    await missions_client.resolve_dispute(
        mission_id, ResolveDisputeInput(actor=OPS, refund_minor=6900, release_minor=11000)
    )

    assert balances(sessions, mission_id) == {
        Acct.CLIENT_CARD: -18900 + 6900,
        Acct.ESCROW: 0,
        Acct.PROVIDER_PAYABLE: 0,
        Acct.PROVIDER: 11000,
        Acct.PLATFORM_REVENUE: 1000,
    }
    assert check(sessions, gateway, mission_id) == []


async def test_waiting_payout_shows_payable(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("ledger-3"), provider_actor("ledger-3")
    mission_id = await funded_mission(missions_client, customer, provider, 5000)
    await release(missions_client, mission_id, customer)

    waiting = balances(sessions, mission_id)
    assert waiting[Acct.PROVIDER_PAYABLE] == 4500
    assert waiting[Acct.ESCROW] == 750
    assert waiting[Acct.PROVIDER] == 0
    assert check(sessions, gateway, mission_id) == []

    onboard(gateway, sessions, provider)
    await missions_client.retry_payout(mission_id, ActorInput(actor=OPS))
    paid = balances(sessions, mission_id)
    assert paid[Acct.PROVIDER_PAYABLE] == 0
    assert paid[Acct.PROVIDER] == 4500
    assert paid[Acct.PLATFORM_REVENUE] == 750
    assert paid[Acct.ESCROW] == 0


async def test_check_catches_tampered_entry(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("ledger-4"), provider_actor("ledger-4")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 6000)
    await release(missions_client, mission_id, customer)
    assert check(sessions, gateway, mission_id) == []

    with sessions.begin() as session:
        session.execute(
            update(LedgerEntryRow)
            .where(LedgerEntryRow.mission_id == mission_id, LedgerEntryRow.kind == "capture")
            .values(amount_minor=6200)
        )

    problems = check(sessions, gateway, mission_id)
    assert "captured: ledger 6200, mission 6300 (difference 100)" in problems
    assert "captured: ledger 6200, Stripe 6300 (difference 100)" in problems
