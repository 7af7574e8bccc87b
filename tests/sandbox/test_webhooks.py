"""Events and signed webhook delivery, verified with the real stripe SDK."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import stripe

from stripe_sandbox.webhooks import signature_header

from .conftest import WEBHOOK_SECRET, ReceivedWebhook, RunningSandbox, WebhookReceiver


def _is_event(event_type: str, object_id: str) -> Callable[[ReceivedWebhook], bool]:
    def matches(webhook: ReceivedWebhook) -> bool:
        payload = json.loads(webhook.body)
        return bool(payload["type"] == event_type and payload["data"]["object"]["id"] == object_id)

    return matches


def test_webhook_verifies_with_sdk(
    client: stripe.StripeClient, webhook_receiver: WebhookReceiver
) -> None:
    intent = client.v1.payment_intents.create(
        {
            "amount": 4_200,
            "currency": "eur",
            "metadata": {"mission_id": "mission-webhook"},
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )

    webhook = webhook_receiver.wait_for(_is_event("payment_intent.succeeded", intent.id))
    event = stripe.Webhook.construct_event(webhook.body, webhook.signature, WEBHOOK_SECRET)

    assert isinstance(event, stripe.Event)
    assert event.type == "payment_intent.succeeded"
    assert event.id.startswith("evt_")
    assert event.livemode is False
    assert event.api_version == "2026-10-28.endive"
    assert event.data.object["id"] == intent.id
    assert event.data.object["status"] == "succeeded"
    assert event.data.object["metadata"].to_dict() == {"mission_id": "mission-webhook"}
    assert webhook.content_type == "application/json; charset=utf-8"
    assert client.v1.events.retrieve(event.id).type == "payment_intent.succeeded"


def test_webhook_signature_format(
    client: stripe.StripeClient, webhook_receiver: WebhookReceiver
) -> None:
    intent = client.v1.payment_intents.create({"amount": 1_000, "currency": "eur"})
    webhook = webhook_receiver.wait_for(_is_event("payment_intent.created", intent.id))
    parts = dict(part.split("=", 1) for part in webhook.signature.split(","))

    assert set(parts) == {"t", "v1"}
    assert abs(int(parts["t"]) - time.time()) < 60
    assert signature_header(webhook.body.decode(), WEBHOOK_SECRET, int(parts["t"])) == (
        webhook.signature
    )
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(webhook.body, webhook.signature, "whsec_wrong")


def test_each_payment_step_emits_its_event(
    client: stripe.StripeClient, webhook_receiver: WebhookReceiver
) -> None:
    intent = client.v1.payment_intents.create({"amount": 3_000, "currency": "eur"})
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_chargeDeclined"})
    client.v1.payment_intents.cancel(intent.id)
    assert raised.value.error is not None
    failed_charge = str(raised.value.error.charge)

    for event_type, object_id in [
        ("payment_intent.created", intent.id),
        ("charge.failed", failed_charge),
        ("payment_intent.payment_failed", intent.id),
        ("payment_intent.canceled", intent.id),
    ]:
        webhook = webhook_receiver.wait_for(_is_event(event_type, object_id))
        event = stripe.Webhook.construct_event(webhook.body, webhook.signature, WEBHOOK_SECRET)
        assert event.type == event_type


def test_connect_events_are_delivered(
    client: stripe.StripeClient, webhook_receiver: WebhookReceiver
) -> None:
    account = client.v1.accounts.create(
        {"type": "express", "capabilities": {"transfers": {"requested": True}}}
    )
    intent = client.v1.payment_intents.create(
        {"amount": 3_000, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
    )
    transfer = client.v1.transfers.create(
        {
            "amount": 1_000,
            "currency": "eur",
            "destination": account.id,
            "source_transaction": str(intent.latest_charge),
        }
    )
    client.v1.transfers.reversals.create(transfer.id, {"amount": 400})
    client.v1.refunds.create({"payment_intent": intent.id, "amount": 500})

    webhook_receiver.wait_for(_is_event("account.updated", account.id))
    webhook_receiver.wait_for(_is_event("charge.succeeded", str(intent.latest_charge)))
    webhook_receiver.wait_for(_is_event("transfer.created", transfer.id))
    reversed_webhook = webhook_receiver.wait_for(_is_event("transfer.reversed", transfer.id))
    refunded = webhook_receiver.wait_for(_is_event("charge.refunded", str(intent.latest_charge)))

    assert json.loads(reversed_webhook.body)["data"]["object"]["amount_reversed"] == 400
    assert json.loads(refunded.body)["data"]["object"]["amount_refunded"] == 500


def test_failed_delivery_is_retried(
    sandbox: RunningSandbox, client: stripe.StripeClient, webhook_receiver: WebhookReceiver
) -> None:
    with webhook_receiver.condition:
        webhook_receiver.failures["payment_intent.canceled"] = 2
        attempts_before = webhook_receiver.attempts_by_type.get("payment_intent.canceled", 0)
    intent = client.v1.payment_intents.create({"amount": 1_000, "currency": "eur"})

    client.v1.payment_intents.cancel(intent.id)

    webhook = webhook_receiver.wait_for(_is_event("payment_intent.canceled", intent.id))
    event = stripe.Webhook.construct_event(webhook.body, webhook.signature, WEBHOOK_SECRET)
    assert webhook_receiver.attempts_by_type["payment_intent.canceled"] == attempts_before + 3
    deadline = time.monotonic() + 5
    while sandbox.context.store.objects["event"][event.id]["pending_webhooks"]:
        assert time.monotonic() < deadline, "event still pending after delivery"
        time.sleep(0.02)
    assert client.v1.events.retrieve(event.id).pending_webhooks == 0


def test_events_list_filters_by_type(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create({"amount": 1_000, "currency": "eur"})

    created = client.v1.events.list({"type": "payment_intent.created", "limit": 1})
    wildcard = client.v1.events.list({"type": "payment_intent.*", "limit": 1})

    assert created.data[0].data.object["id"] == intent.id
    assert created.data[0].type == "payment_intent.created"
    assert wildcard.data[0].data.object["id"] == intent.id
    assert created.data[0].request is not None
    assert created.data[0].request.id is not None
    assert created.data[0].request.id.startswith("req_")
