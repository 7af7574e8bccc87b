"""The same money command sent several times at once moves the money once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.orm import Session, sessionmaker

from missions.client import MissionsClient
from missions.contracts import (
    ActorInput,
    ApplicationRef,
    CancelInput,
    ConfirmPaymentInput,
    MissionState,
)
from missions.errors import InvalidState
from missions.payments import PaymentsGateway
from tests.adversarial.ledger import assert_books_balance, stripe_books
from tests.support import (
    OPS,
    client_actor,
    funded_mission,
    onboard,
    post_and_apply,
    provider_actor,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_concurrent_confirms_charge_once(
    missions_client: MissionsClient, gateway: PaymentsGateway
) -> None:
    customer, provider = client_actor("race-pay"), provider_actor("race-pay")
    mission_id, (application_id,) = await post_and_apply(
        missions_client, customer, [(provider, 5000)]
    )
    await missions_client.select_application(
        mission_id, ApplicationRef(actor=customer, application_id=application_id)
    )

    confirmation = ConfirmPaymentInput(actor=customer, payment_method="pm_card_visa")
    results = await asyncio.gather(
        *(missions_client.confirm_payment(mission_id, confirmation) for _ in range(5)),
        return_exceptions=True,
    )

    funded = [r for r in results if not isinstance(r, BaseException)]
    rejected = [r for r in results if isinstance(r, InvalidState)]
    assert len(funded) == 1
    assert len(rejected) == 4
    books = stripe_books(gateway, mission_id)
    assert books.charge_count == 1
    assert books.captured_minor == 5250
    snapshot = await missions_client.snapshot(mission_id)
    assert snapshot.money.captured_minor == 5250


async def test_concurrent_releases_transfer_once(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("race-release"), provider_actor("race-release")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 5000)

    results = await asyncio.gather(
        missions_client.confirm_completion(mission_id, ActorInput(actor=customer)),
        missions_client.confirm_completion(mission_id, ActorInput(actor=customer)),
        missions_client.confirm_completion(mission_id, ActorInput(actor=OPS)),
        return_exceptions=True,
    )

    released = [r for r in results if not isinstance(r, BaseException)]
    assert len(released) == 1
    assert all(isinstance(r, InvalidState) for r in results if isinstance(r, BaseException))
    books = stripe_books(gateway, mission_id)
    assert books.transfer_count == 1
    assert books.transferred_minor == 4500
    snapshot = await missions_client.snapshot(mission_id)
    assert snapshot.state is MissionState.REVIEWING
    assert snapshot.money.provider_payout_minor == 4500
    assert snapshot.money.platform_revenue_minor == 750


async def test_release_in_flight_rejection_names_release(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    """A second release sent while the first transfer runs gets an error about that transfer."""
    customer, provider = client_actor("race-message"), provider_actor("race-message")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 5000)

    results = await asyncio.gather(
        missions_client.confirm_completion(mission_id, ActorInput(actor=customer)),
        missions_client.confirm_completion(mission_id, ActorInput(actor=customer)),
        return_exceptions=True,
    )

    errors = [r for r in results if isinstance(r, InvalidState)]
    assert len(errors) == 1
    # The provider's account is usable and the payout went out at once, so an error that
    # states that the payout waits for that account, and asks to retry, misleads the caller.
    assert "waiting for the provider's account" not in errors[0].message


async def test_cancel_racing_release_moves_money_once(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("race-cancel"), provider_actor("race-cancel")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 8000)

    results = await asyncio.gather(
        missions_client.cancel(mission_id, CancelInput(actor=customer)),
        missions_client.confirm_completion(mission_id, ActorInput(actor=customer)),
        missions_client.cancel(mission_id, CancelInput(actor=provider)),
        return_exceptions=True,
    )

    assert sum(not isinstance(r, BaseException) for r in results) >= 1
    snapshot = await missions_client.snapshot(mission_id)
    books = stripe_books(gateway, mission_id)
    assert books.charge_count == 1
    if snapshot.state is MissionState.REVIEWING:
        assert (books.refunded_minor, books.transferred_minor) == (0, 7200)
    else:
        assert snapshot.state in (MissionState.CANCELLED, MissionState.OPEN)
        assert (books.refunded_minor, books.transferred_minor) == (8400, 0)
    assert_books_balance(snapshot, books)
