"""Every transition of MissionWorkflow, with real activities against the sandbox and database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from missions import search_attributes as attrs
from missions.client import MissionsClient
from missions.contracts import (
    ActorInput,
    ApplicationRef,
    ApplicationStatus,
    CancelInput,
    ConfirmPaymentInput,
    DisputeInput,
    IncidentInput,
    IncidentKind,
    MissionState,
    ResolveDisputeInput,
    ReviewInput,
    Role,
)
from missions.db.models import NotificationRow, ProviderRow, ReviewRow
from missions.errors import PaymentDeclined
from missions.payments import PaymentsGateway
from tests.support import (
    OPS,
    client_actor,
    funded_mission,
    mission_request,
    onboard,
    post_and_apply,
    provider_actor,
    release,
    wait_for_state,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


def templates_for(sessions: sessionmaker[Session], mission_id: str, recipient: str) -> list[str]:
    with sessions() as session:
        rows = session.scalars(
            select(NotificationRow)
            .where(
                NotificationRow.mission_id == mission_id, NotificationRow.recipient_id == recipient
            )
            .order_by(NotificationRow.id)
        )
        return [row.template for row in rows]


async def test_happy_path_with_two_reviews(
    missions_client: MissionsClient,
    gateway: PaymentsGateway,
    sessions: sessionmaker[Session],
) -> None:
    customer, amelie, fabrice = client_actor("h1"), provider_actor("h1-a"), provider_actor("h1-f")
    account_id = onboard(gateway, sessions, amelie)
    onboard(gateway, sessions, fabrice)
    mission_id, (chosen, other) = await post_and_apply(
        missions_client, customer, [(amelie, 7500), (fabrice, 9000)]
    )

    selected = await missions_client.select_application(
        mission_id, ApplicationRef(actor=customer, application_id=chosen)
    )
    assert selected.state is MissionState.AWAITING_PAYMENT
    assert selected.payment is not None
    assert selected.payment.amount_minor == 7875
    statuses = {a.application_id: a.status for a in selected.applications}
    assert statuses == {chosen: ApplicationStatus.SELECTED, other: ApplicationStatus.DECLINED}

    funded = await missions_client.confirm_payment(
        mission_id, ConfirmPaymentInput(actor=customer, payment_method="pm_card_visa")
    )
    assert funded.state is MissionState.FUNDED
    assert funded.money.captured_minor == 7875
    assert funded.money.platform_revenue_minor == 0

    requested = await missions_client.request_release(mission_id, ActorInput(actor=amelie))
    assert requested.state is MissionState.COMPLETION_REQUESTED
    reviewing = await release(missions_client, mission_id, customer)
    assert reviewing.state is MissionState.REVIEWING
    assert reviewing.money.provider_payout_minor == 6750
    assert reviewing.money.platform_revenue_minor == 1125

    await missions_client.submit_review(
        mission_id, ReviewInput(actor=customer, stars=5, comment="Parfait")
    )
    hidden = await missions_client.snapshot(mission_id)
    assert hidden.published_reviews == []
    assert hidden.reviews_submitted_by == [Role.CLIENT]
    closed = await missions_client.submit_review(
        mission_id, ReviewInput(actor=amelie, stars=4, comment="Client ponctuel")
    )
    assert closed.state is MissionState.CLOSED
    assert [r.stars for r in closed.published_reviews] == [5, 4]

    transfers = gateway._stripe.v1.transfers.list({"transfer_group": mission_id})
    assert [(t.amount, t.destination) for t in transfers.data] == [(6750, account_id)]
    with sessions() as session:
        provider = session.get(ProviderRow, amelie.user_id)
        assert provider is not None
        assert provider.rating_count == 1
        assert provider.rating_sum == 5
        reviews = session.scalars(select(ReviewRow).where(ReviewRow.mission_id == mission_id))
        assert sorted(r.stars for r in reviews) == [4, 5]
    assert "application_declined" in templates_for(sessions, mission_id, fabrice.user_id)
    assert templates_for(sessions, mission_id, customer.user_id)[:2] == [
        "mission_posted",
        "application_received",
    ]


async def test_search_attributes_follow_state(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("sa"), provider_actor("sa")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 4000)

    description = await missions_client.temporal.get_workflow_handle(mission_id).describe()
    found = description.typed_search_attributes
    assert found.get(attrs.MISSION_STATE) == "funded"
    assert found.get(attrs.MISSION_CATEGORY) == "bricolage"
    assert found.get(attrs.CLIENT_ID) == customer.user_id
    assert found.get(attrs.PROVIDER_ID) == provider.user_id
    assert found.get(attrs.AMOUNT_MINOR) == 4200
    assert found.get(attrs.NEEDS_ATTENTION) is False


async def test_selection_deadline_expires(
    missions_client: MissionsClient, time_env: WorkflowEnvironment
) -> None:
    scheduled = await time_env.get_current_time() + timedelta(days=20)
    snapshot = await missions_client.create_mission(client_actor("exp"), mission_request(scheduled))
    await time_env.sleep(timedelta(days=14, minutes=1))
    expired = await wait_for_state(missions_client, snapshot.mission_id, MissionState.EXPIRED)
    assert expired.money.captured_minor == 0
    assert expired.deadlines.selection is None


async def test_payment_lapse_reopens_then_expires(
    missions_client: MissionsClient, time_env: WorkflowEnvironment
) -> None:
    customer, provider = client_actor("lapse"), provider_actor("lapse")
    mission_id, (application_id,) = await post_and_apply(
        missions_client, customer, [(provider, 15000)]
    )
    await missions_client.select_application(
        mission_id, ApplicationRef(actor=customer, application_id=application_id)
    )
    await time_env.sleep(timedelta(hours=24, minutes=1))
    reopened = await wait_for_state(missions_client, mission_id, MissionState.OPEN)
    assert reopened.payment_lapsed is True
    assert reopened.applications[0].status is ApplicationStatus.LIVE
    assert reopened.provider_id is None

    await time_env.sleep(timedelta(days=14))
    expired = await wait_for_state(missions_client, mission_id, MissionState.EXPIRED)
    assert expired.money.captured_minor == 0
    assert expired.payment_lapsed is True


async def test_declined_cards_then_success(
    missions_client: MissionsClient, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("decl"), provider_actor("decl")
    mission_id, (application_id,) = await post_and_apply(
        missions_client, customer, [(provider, 25000)]
    )
    await missions_client.select_application(
        mission_id, ApplicationRef(actor=customer, application_id=application_id)
    )
    for card, code in (
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ):
        with pytest.raises(PaymentDeclined) as declined:
            await missions_client.confirm_payment(
                mission_id, ConfirmPaymentInput(actor=customer, payment_method=card)
            )
        assert declined.value.details["decline_code"] == code
    still_waiting = await missions_client.snapshot(mission_id)
    assert still_waiting.state is MissionState.AWAITING_PAYMENT
    assert still_waiting.money.declined_attempts == 2

    funded = await missions_client.confirm_payment(
        mission_id, ConfirmPaymentInput(actor=customer, payment_method="pm_card_visa")
    )
    assert funded.state is MissionState.FUNDED
    assert funded.money.captured_minor == 26250
    assert funded.money.declined_attempts == 2
    assert templates_for(sessions, mission_id, customer.user_id).count("payment_declined") == 2


async def test_auto_release_after_confirmation_window(
    missions_client: MissionsClient,
    time_env: WorkflowEnvironment,
    gateway: PaymentsGateway,
    sessions: sessionmaker[Session],
) -> None:
    customer, provider = client_actor("auto"), provider_actor("auto")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 12050)
    await missions_client.request_release(mission_id, ActorInput(actor=provider))

    await time_env.sleep(timedelta(days=6, hours=1))
    assert "confirmation_reminder" in templates_for(sessions, mission_id, customer.user_id)
    assert (await missions_client.snapshot(mission_id)).state is MissionState.COMPLETION_REQUESTED

    await time_env.sleep(timedelta(days=1))
    reviewing = await wait_for_state(missions_client, mission_id, MissionState.REVIEWING)
    assert reviewing.auto_released is True
    assert reviewing.money.provider_payout_minor == 10845
    assert reviewing.money.platform_revenue_minor == 1808

    await time_env.sleep(timedelta(days=13, hours=1))
    assert "review_reminder" in templates_for(sessions, mission_id, customer.user_id)
    await time_env.sleep(timedelta(days=1))
    closed = await wait_for_state(missions_client, mission_id, MissionState.CLOSED)
    assert closed.published_reviews == []


async def test_review_window_publishes_single_review(
    missions_client: MissionsClient,
    time_env: WorkflowEnvironment,
    gateway: PaymentsGateway,
    sessions: sessionmaker[Session],
) -> None:
    customer, provider = client_actor("one-review"), provider_actor("one-review")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 4000)
    await release(missions_client, mission_id, customer)
    await missions_client.submit_review(
        mission_id, ReviewInput(actor=customer, stars=4, comment="Bien")
    )
    await time_env.sleep(timedelta(days=14, minutes=1))
    closed = await wait_for_state(missions_client, mission_id, MissionState.CLOSED)
    assert [(r.author_role, r.stars) for r in closed.published_reviews] == [(Role.CLIENT, 4)]
    assert closed.money.provider_payout_minor == 3600
    assert closed.money.platform_revenue_minor == 600


async def test_dispute_split_resolution(
    missions_client: MissionsClient,
    time_env: WorkflowEnvironment,
    gateway: PaymentsGateway,
    sessions: sessionmaker[Session],
) -> None:
    customer, provider = client_actor("disp"), provider_actor("disp")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 18000)
    await missions_client.report_incident(
        mission_id,
        IncidentInput(actor=customer, kind=IncidentKind.DAMAGE, text="Tache sur le parquet"),
    )
    await missions_client.request_release(mission_id, ActorInput(actor=provider))
    disputed = await missions_client.open_dispute(
        mission_id, DisputeInput(actor=customer, reason="Travail non terminé")
    )
    assert disputed.state is MissionState.DISPUTED
    assert disputed.needs_attention is True
    assert disputed.deadlines.confirmation is None

    await time_env.sleep(timedelta(days=8))
    assert (await missions_client.snapshot(mission_id)).state is MissionState.DISPUTED

    resolved = await missions_client.resolve_dispute(
        mission_id, ResolveDisputeInput(actor=OPS, refund_minor=6900, release_minor=11000)
    )
    assert resolved.state is MissionState.REVIEWING
    assert resolved.money.refunded_minor == 6900
    assert resolved.money.provider_payout_minor == 11000
    assert resolved.money.platform_revenue_minor == 1000
    assert resolved.needs_attention is False
    assert len(resolved.incidents) == 1
    assert "incident_reported" in templates_for(sessions, mission_id, "ops")


async def test_dispute_full_refund_closes(
    missions_client: MissionsClient, gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("full-refund"), provider_actor("full-refund")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 6000)
    await missions_client.open_dispute(mission_id, DisputeInput(actor=OPS, reason="Fraude"))
    closed = await missions_client.resolve_dispute(
        mission_id, ResolveDisputeInput(actor=OPS, refund_minor=6300, release_minor=0)
    )
    assert closed.state is MissionState.CLOSED
    assert closed.money.refunded_minor == 6300
    assert closed.money.provider_payout_minor == 0
    assert closed.money.platform_revenue_minor == 0
    refunds = gateway._stripe.v1.refunds.list(
        {"payment_intent": closed.payment.payment_intent_id if closed.payment else ""}
    )
    assert [r.amount for r in refunds.data] == [6300]


async def test_client_cancels_early_with_full_refund(
    missions_client: MissionsClient, time_env: WorkflowEnvironment
) -> None:
    customer, provider = client_actor("cancel"), provider_actor("cancel")
    scheduled = await time_env.get_current_time() + timedelta(days=10)
    mission_id = await funded_mission(missions_client, customer, provider, 6000, scheduled)
    cancelled = await missions_client.cancel(mission_id, CancelInput(actor=customer))
    assert cancelled.state is MissionState.CANCELLED
    assert cancelled.cancelled_by is Role.CLIENT
    assert cancelled.money.refunded_minor == 6300
    assert cancelled.money.platform_revenue_minor == 0


async def test_late_client_cancellation_splits(
    missions_client: MissionsClient,
    time_env: WorkflowEnvironment,
    gateway: PaymentsGateway,
    sessions: sessionmaker[Session],
) -> None:
    customer, provider = client_actor("late"), provider_actor("late")
    onboard(gateway, sessions, provider)
    scheduled = await time_env.get_current_time() + timedelta(hours=5)
    mission_id = await funded_mission(missions_client, customer, provider, 10000, scheduled)
    cancelled = await missions_client.cancel(mission_id, CancelInput(actor=customer))
    # Client total 10 500: half refunded; the provider gets half of their 9 000 payout.
    assert cancelled.state is MissionState.CANCELLED
    assert cancelled.money.refunded_minor == 5250
    assert cancelled.money.provider_payout_minor == 4500
    assert cancelled.money.platform_revenue_minor == 750


async def test_provider_withdrawal_reopens_mission(
    missions_client: MissionsClient, sessions: sessionmaker[Session]
) -> None:
    customer, provider = client_actor("withdraw"), provider_actor("withdraw")
    mission_id = await funded_mission(missions_client, customer, provider, 9999)
    reopened = await missions_client.cancel(mission_id, CancelInput(actor=provider))
    assert reopened.state is MissionState.OPEN
    assert reopened.money.captured_minor == 10499
    assert reopened.money.refunded_minor == 10499
    assert reopened.applications[0].status is ApplicationStatus.WITHDRAWN
    assert "provider_withdrew" in templates_for(sessions, mission_id, customer.user_id)

    cancelled = await missions_client.cancel(mission_id, CancelInput(actor=customer))
    assert cancelled.state is MissionState.CANCELLED
    assert cancelled.money.platform_revenue_minor == 0


async def test_withdrawn_application_then_other_selected(
    missions_client: MissionsClient,
) -> None:
    customer, hugo, fabrice = client_actor("wd"), provider_actor("wd-h"), provider_actor("wd-f")
    mission_id, (first, second) = await post_and_apply(
        missions_client, customer, [(hugo, 3500), (fabrice, 5000)]
    )
    await missions_client.withdraw_application(
        mission_id, ApplicationRef(actor=hugo, application_id=first)
    )
    selected = await missions_client.select_application(
        mission_id, ApplicationRef(actor=customer, application_id=second)
    )
    assert selected.provider_id == fabrice.user_id
    assert selected.payment is not None
    assert selected.payment.amount_minor == 5250
    assert [a.status for a in selected.applications] == [
        ApplicationStatus.WITHDRAWN,
        ApplicationStatus.SELECTED,
    ]


async def test_payout_waits_for_provider_account(
    missions_client: MissionsClient,
    time_env: WorkflowEnvironment,
    gateway: PaymentsGateway,
    sessions: sessionmaker[Session],
) -> None:
    customer, provider = client_actor("unpaid"), provider_actor("unpaid")
    mission_id = await funded_mission(missions_client, customer, provider, 5000)
    waiting = await release(missions_client, mission_id, customer)
    assert waiting.state is MissionState.FUNDED
    assert waiting.payout_pending is True
    assert waiting.needs_attention is True
    assert waiting.money.provider_payout_minor == 0
    assert "payout_pending" in templates_for(sessions, mission_id, "ops")

    onboard(gateway, sessions, provider)
    await time_env.sleep(timedelta(hours=1, minutes=1))
    reviewing = await wait_for_state(missions_client, mission_id, MissionState.REVIEWING)
    assert reviewing.payout_pending is False
    assert reviewing.needs_attention is False
    assert reviewing.money.provider_payout_minor == 4500
