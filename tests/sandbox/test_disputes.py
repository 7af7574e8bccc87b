"""Chargebacks of payments made with the test PaymentMethod pm_card_createDispute."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import stripe

from stripe_sandbox import SandboxConfig

from .conftest import (
    API_KEY,
    WEBHOOK_SECRET,
    ManualClock,
    ReceivedWebhook,
    SandboxServer,
    WebhookReceiver,
)


def _disputed_payment(client: stripe.StripeClient, amount: int) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": "eur",
            "payment_method": "pm_card_createDispute",
            "confirm": True,
        }
    )


def _is_dispute_event(event_type: str, charge_id: str) -> Callable[[ReceivedWebhook], bool]:
    def matches(webhook: ReceivedWebhook) -> bool:
        payload = json.loads(webhook.body)
        return bool(
            payload["type"] == event_type and payload["data"]["object"]["charge"] == charge_id
        )

    return matches


def test_payment_succeeds_then_is_disputed(client: stripe.StripeClient) -> None:
    intent = _disputed_payment(client, 5_000)
    charge_id = str(intent.latest_charge)

    disputes = client.v1.disputes.list({"payment_intent": intent.id})
    dispute = client.v1.disputes.retrieve(disputes.data[0].id)
    charge = client.v1.charges.retrieve(charge_id)

    assert intent.status == "succeeded"
    assert [d.id for d in disputes.data] == [dispute.id]
    assert dispute.id.startswith("dp_")
    assert dispute.object == "dispute"
    assert dispute.amount == 5_000
    assert dispute.currency == "eur"
    assert dispute.charge == charge_id
    assert dispute.payment_intent == intent.id
    assert dispute.reason == "fraudulent"
    assert dispute.status == "needs_response"
    assert dispute.is_charge_refundable is False
    assert dispute.evidence_details.due_by is not None
    assert dispute.evidence_details.due_by > dispute.created
    assert abs(dispute.created - time.time()) < 60
    assert charge.disputed is True
    assert charge.status == "succeeded"
    assert [d.id for d in client.v1.disputes.list({"charge": charge_id}).data] == [dispute.id]


def test_dispute_event_follows_payment_events(
    client: stripe.StripeClient, webhook_receiver: WebhookReceiver
) -> None:
    intent = _disputed_payment(client, 3_100)
    charge_id = str(intent.latest_charge)

    webhook = webhook_receiver.wait_for(_is_dispute_event("charge.dispute.created", charge_id))
    event = stripe.Webhook.construct_event(webhook.body, webhook.signature, WEBHOOK_SECRET)
    recent = client.v1.events.list({"limit": 20}).data
    order = [
        (e.type, e.data.object["id"])
        for e in reversed(recent)
        if e.data.object["id"] in (intent.id, charge_id, event.data.object["id"])
    ]

    assert event.type == "charge.dispute.created"
    assert event.data.object["object"] == "dispute"
    assert event.data.object["amount"] == 3_100
    assert event.data.object["payment_intent"] == intent.id
    assert event.data.object["status"] == "needs_response"
    assert event.request is not None
    assert event.request.id is None
    assert [event_type for event_type, _ in order] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
    ]


def test_dispute_withdraws_disputed_amount() -> None:
    with SandboxServer(SandboxConfig(api_key=API_KEY)) as sandbox:
        client = sandbox.client()
        intent = _disputed_payment(client, 4_200)
        dispute = client.v1.disputes.list({"payment_intent": intent.id}).data[0]
        withdrawals = client.v1.balance_transactions.list({"source": dispute.id}).data
        balance = client.v1.balance.retrieve()

    assert [t.id for t in withdrawals] == [t.id for t in dispute.balance_transactions]
    assert withdrawals[0].amount == -4_200
    assert withdrawals[0].type == "adjustment"
    assert withdrawals[0].reporting_category == "dispute"
    assert withdrawals[0].status == "available"
    eur = {funds.currency: funds.amount for funds in balance.available}["eur"]
    assert eur == 0


def test_disputed_charge_cannot_be_refunded(client: stripe.StripeClient) -> None:
    intent = _disputed_payment(client, 2_000)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create({"payment_intent": intent.id})

    assert raised.value.code == "charge_disputed"
    assert client.v1.refunds.list({"payment_intent": intent.id}).data == []


def test_other_cards_are_not_disputed(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        {"amount": 2_000, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
    )

    assert client.v1.disputes.list({"payment_intent": intent.id}).data == []
    assert client.v1.charges.retrieve(str(intent.latest_charge)).disputed is False


def test_unknown_dispute_is_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.disputes.retrieve("dp_missing")

    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"


def test_dispute_opens_after_delay() -> None:
    clock = ManualClock()
    config = SandboxConfig(api_key=API_KEY, dispute_after_seconds=60)
    with SandboxServer(config, clock=clock) as sandbox:
        client = sandbox.client()
        intent = _disputed_payment(client, 2_000)
        before = client.v1.disputes.list({"payment_intent": intent.id}).data
        clock.advance(30)
        still_before = client.v1.disputes.list({"payment_intent": intent.id}).data

        clock.advance(31)
        # The background task opens it without any API call.
        deadline = time.monotonic() + 5
        while not sandbox.context.store.all("dispute"):
            assert time.monotonic() < deadline, "dispute did not open within 5 s"
            time.sleep(0.05)
        after = client.v1.disputes.list({"payment_intent": intent.id}).data
        charge = client.v1.charges.retrieve(str(intent.latest_charge))

    assert before == []
    assert still_before == []
    assert len(after) == 1
    assert after[0].created == int(clock())
    assert charge.disputed is True


def test_delayed_dispute_opens_after_restart(state_file: Path) -> None:
    clock = ManualClock()
    config = SandboxConfig(api_key=API_KEY, state_file=state_file, dispute_after_seconds=60)
    with SandboxServer(config, clock=clock) as first_run:
        intent = _disputed_payment(first_run.client(), 2_000)

    clock.advance(61)
    with SandboxServer(config, clock=clock) as second_run:
        disputes = second_run.client().v1.disputes.list({"payment_intent": intent.id}).data

    assert len(disputes) == 1
    assert disputes[0].charge == intent.latest_charge
    saved = json.loads(state_file.read_text())["objects"]["dispute"]
    assert list(saved) == [disputes[0].id]
