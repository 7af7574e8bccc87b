"""Payment outcomes that reach the workflow from Stripe's webhook or from polling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from missions.client import MissionsClient
from missions.contracts import (
    ApplicationRef,
    MissionState,
    PaymentEvent,
    PaymentEventKind,
)
from missions.payments import PaymentsGateway
from tests.support import client_actor, post_and_apply, provider_actor, wait_for_state

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _selected(client: MissionsClient, name: str, price: int) -> tuple[str, str]:
    customer, provider = client_actor(name), provider_actor(name)
    mission_id, (application_id,) = await post_and_apply(client, customer, [(provider, price)])
    snapshot = await client.select_application(
        mission_id, ApplicationRef(actor=customer, application_id=application_id)
    )
    assert snapshot.payment is not None
    return mission_id, snapshot.payment.payment_intent_id


async def test_webhook_event_funds_once(
    missions_client: MissionsClient, gateway: PaymentsGateway
) -> None:
    mission_id, intent_id = await _selected(missions_client, "hook", 8000)
    # The client confirms in the front end; the workflow hears of it only by webhook.
    intent = gateway._stripe.v1.payment_intents.confirm(
        intent_id, {"payment_method": "pm_card_visa"}
    )
    event = PaymentEvent(
        event_id="evt_test_hook",
        kind=PaymentEventKind.SUCCEEDED,
        payment_intent_id=intent_id,
        charge_id=str(intent.latest_charge),
        amount_minor=intent.amount,
    )
    await missions_client.send_payment_event(mission_id, event)
    await missions_client.send_payment_event(mission_id, event)
    await missions_client.send_payment_event(
        mission_id, event.model_copy(update={"event_id": "evt_test_hook_again"})
    )
    funded = await wait_for_state(missions_client, mission_id, MissionState.FUNDED)
    assert funded.money.captured_minor == 8400
    assert funded.payment is not None
    assert funded.payment.charge_id == intent.latest_charge


async def test_event_for_other_intent_ignored(missions_client: MissionsClient) -> None:
    mission_id, _ = await _selected(missions_client, "stray", 8000)
    await missions_client.send_payment_event(
        mission_id,
        PaymentEvent(
            event_id="evt_stray",
            kind=PaymentEventKind.SUCCEEDED,
            payment_intent_id="pi_not_this_one",
            amount_minor=8400,
        ),
    )
    snapshot = await missions_client.snapshot(mission_id)
    assert snapshot.state is MissionState.AWAITING_PAYMENT
    assert snapshot.money.captured_minor == 0


async def test_missed_webhook_found_by_polling(
    missions_client: MissionsClient, gateway: PaymentsGateway, time_env: WorkflowEnvironment
) -> None:
    mission_id, intent_id = await _selected(missions_client, "poll", 3000)
    gateway._stripe.v1.payment_intents.confirm(intent_id, {"payment_method": "pm_card_visa"})
    await time_env.sleep(timedelta(hours=1, minutes=1))
    funded = await wait_for_state(missions_client, mission_id, MissionState.FUNDED)
    assert funded.money.captured_minor == 3150


async def test_payment_at_deadline_is_kept(
    missions_client: MissionsClient, gateway: PaymentsGateway, time_env: WorkflowEnvironment
) -> None:
    mission_id, intent_id = await _selected(missions_client, "late-pay", 3000)
    await time_env.sleep(timedelta(hours=23, minutes=30))
    gateway._stripe.v1.payment_intents.confirm(intent_id, {"payment_method": "pm_card_visa"})
    await time_env.sleep(timedelta(hours=1))
    funded = await wait_for_state(missions_client, mission_id, MissionState.FUNDED)
    assert funded.payment_lapsed is False
    assert funded.money.captured_minor == 3150
