"""Refunds through the real stripe SDK."""

from __future__ import annotations

import pytest
import stripe


def _paid_intent(client: stripe.StripeClient, amount: int) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        {"amount": amount, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
    )


def _available_eur(client: stripe.StripeClient) -> int:
    balance = client.v1.balance.retrieve()
    return next(funds.amount for funds in balance.available if funds.currency == "eur")


def test_refund_partial_then_rest_then_rejected(client: stripe.StripeClient) -> None:
    intent = _paid_intent(client, 10_000)
    assert isinstance(intent.latest_charge, str)
    available_before = _available_eur(client)

    partial = client.v1.refunds.create(
        {
            "payment_intent": intent.id,
            "amount": 2_500,
            "reason": "requested_by_customer",
            "metadata": {"purpose": "dispute"},
        }
    )

    assert partial.id.startswith("re_")
    assert partial.amount == 2_500
    assert partial.status == "succeeded"
    assert partial.charge == intent.latest_charge
    assert partial.payment_intent == intent.id
    assert partial.reason == "requested_by_customer"
    assert partial.metadata is not None
    assert partial.metadata.to_dict() == {"purpose": "dispute"}
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert charge.amount_refunded == 2_500
    assert charge.refunded is False
    assert _available_eur(client) == available_before - 2_500

    rest = client.v1.refunds.create({"charge": intent.latest_charge})

    assert rest.amount == 7_500
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert charge.amount_refunded == 10_000
    assert charge.refunded is True
    assert _available_eur(client) == available_before - 10_000

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create({"payment_intent": intent.id, "amount": 1})
    assert raised.value.http_status == 400
    assert raised.value.code == "charge_already_refunded"


def test_refund_above_remaining_is_amount_too_large(client: stripe.StripeClient) -> None:
    intent = _paid_intent(client, 5_000)
    client.v1.refunds.create({"payment_intent": intent.id, "amount": 4_000})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create({"payment_intent": intent.id, "amount": 1_001})

    assert raised.value.code == "amount_too_large"
    assert raised.value.param == "amount"
    assert isinstance(intent.latest_charge, str)
    assert client.v1.charges.retrieve(intent.latest_charge).amount_refunded == 4_000


def test_refund_of_unpaid_intent_is_rejected(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create({"amount": 5_000, "currency": "eur"})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create({"payment_intent": intent.id})

    assert raised.value.code == "payment_intent_unexpected_state"
    assert raised.value.param == "payment_intent"


def test_refunds_list_by_payment_intent(client: stripe.StripeClient) -> None:
    intent = _paid_intent(client, 6_000)
    other = _paid_intent(client, 6_000)
    first = client.v1.refunds.create({"payment_intent": intent.id, "amount": 1_000})
    second = client.v1.refunds.create({"payment_intent": intent.id, "amount": 2_000})
    client.v1.refunds.create({"payment_intent": other.id, "amount": 1_000})

    by_intent = client.v1.refunds.list({"payment_intent": intent.id})
    by_charge = client.v1.refunds.list({"charge": str(intent.latest_charge)})

    assert [refund.id for refund in by_intent.data] == [second.id, first.id]
    assert [refund.id for refund in by_charge.data] == [second.id, first.id]
    assert client.v1.refunds.retrieve(first.id).amount == 1_000


def test_refund_emits_charge_refunded_event(client: stripe.StripeClient) -> None:
    intent = _paid_intent(client, 2_000)
    refund = client.v1.refunds.create({"payment_intent": intent.id, "amount": 500})

    events = client.v1.events.list({"type": "charge.refunded", "limit": 5})

    matching = [event for event in events.data if event.data.object["id"] == intent.latest_charge]
    assert len(matching) == 1
    assert matching[0].data.object["amount_refunded"] == 500
    assert matching[0].data.previous_attributes is not None
    assert matching[0].data.previous_attributes["amount_refunded"] == 0
    refund_events = client.v1.events.list({"type": "refund.*", "limit": 5})
    assert refund.id in [event.data.object["id"] for event in refund_events.data]
