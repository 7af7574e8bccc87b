"""A late client cancellation whose provider share waits for the provider's account."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from missions.client import MissionsClient
from missions.contracts import (
    Actor,
    ActorInput,
    ApplicationRef,
    ApplyInput,
    CancelInput,
    ConfirmPaymentInput,
    Durations,
    MissionState,
)
from missions.errors import InvalidState
from missions.payments import PaymentsGateway
from tests.adversarial.ledger import assert_books_balance, stripe_books
from tests.support import (
    client_actor,
    mission_request,
    onboard,
    provider_actor,
    wait_for_state,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

# A price of 100.00 EUR: the client pays 105.00, a late cancellation refunds half of it
# (52.50) and pays the provider half of their 90.00 payout (45.00).
PRICE_MINOR = 10000


async def late_cancelled_mission(
    client: MissionsClient, name: str, durations: Durations
) -> tuple[str, Actor]:
    """Fund a mission due in two hours, cancel it as its client and return its provider."""
    customer, provider = client_actor(name), provider_actor(name)
    posted = await client.create_mission(
        customer,
        mission_request(datetime.now(UTC) + timedelta(hours=2)),
        durations=durations,
    )
    mission_id = posted.mission_id
    applied = await client.apply(
        mission_id, ApplyInput(actor=provider, price_minor=PRICE_MINOR, message="Demain matin.")
    )
    await client.select_application(
        mission_id, ApplicationRef(actor=customer, application_id=applied.application_id)
    )
    await client.confirm_payment(
        mission_id, ConfirmPaymentInput(actor=customer, payment_method="pm_card_visa")
    )
    cancelled = await client.cancel(mission_id, CancelInput(actor=customer))
    assert cancelled.payout_pending is True
    assert cancelled.money.refunded_minor == 5250
    return mission_id, provider


async def test_release_request_rejected_after_late_cancel(
    missions_client: MissionsClient,
) -> None:
    # The provider never gets an account here, so retries stay rare.
    durations = Durations(payout_retry_interval=timedelta(days=60))
    mission_id, provider = await late_cancelled_mission(missions_client, "late-req", durations)

    with pytest.raises(InvalidState):
        await missions_client.request_release(mission_id, ActorInput(actor=provider))

    snapshot = await missions_client.snapshot(mission_id)
    assert snapshot.deadlines.confirmation is None


async def test_late_cancel_share_paid_once_onboarded(
    missions_client: MissionsClient,
    time_env: WorkflowEnvironment,
    gateway: PaymentsGateway,
    sessions: sessionmaker[Session],
) -> None:
    durations = Durations(
        confirmation_window=timedelta(hours=1),
        confirmation_reminder_before=timedelta(minutes=30),
        payout_retry_interval=timedelta(hours=2),
    )
    mission_id, provider = await late_cancelled_mission(missions_client, "late-share", durations)
    # The provider requests release, which the workflow currently accepts. The test above
    # expects a rejection.
    with contextlib.suppress(InvalidState):
        await missions_client.request_release(mission_id, ActorInput(actor=provider))

    await time_env.sleep(timedelta(minutes=90))
    onboard(gateway, sessions, provider)
    await time_env.sleep(timedelta(hours=3))

    snapshot = await wait_for_state(missions_client, mission_id, MissionState.CANCELLED, 5)
    books = stripe_books(gateway, mission_id)
    assert (books.refunded_minor, books.transferred_minor) == (5250, 4500)
    assert snapshot.money.platform_revenue_minor == 750
    assert_books_balance(snapshot, books)
