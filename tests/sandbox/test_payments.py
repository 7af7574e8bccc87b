"""PaymentIntents, charges and test PaymentMethods through the real stripe SDK."""

from __future__ import annotations

import uuid

import pytest
import stripe

from stripe_sandbox.store import new_id

from .conftest import API_KEY, RunningSandbox


def _mission_id() -> str:
    return f"mission-{uuid.uuid4().hex[:12]}"


def test_payment_with_visa_succeeds(client: stripe.StripeClient) -> None:
    mission_id = _mission_id()

    intent = client.v1.payment_intents.create(
        {
            "amount": 12_500,
            "currency": "eur",
            "description": "Garden cleanup",
            "allowed_payment_method_types": ["card", "sepa_debit"],
            "transfer_group": mission_id,
            "metadata": {"mission_id": mission_id, "selection_number": "1"},
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )

    assert isinstance(intent, stripe.PaymentIntent)
    assert intent.id.startswith("pi_")
    assert intent.object == "payment_intent"
    assert intent.livemode is False
    assert intent.status == "succeeded"
    assert intent.amount == 12_500
    assert intent.amount_received == 12_500
    assert intent.currency == "eur"
    assert intent.capture_method == "automatic"
    assert intent.allowed_payment_method_types == ["card", "sepa_debit"]
    assert intent.payment_method_types == ["card"]
    assert intent.automatic_payment_methods is None
    assert intent.client_secret is not None
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert intent.metadata.to_dict() == {"mission_id": mission_id, "selection_number": "1"}
    assert intent.transfer_group == mission_id
    assert intent.last_payment_error is None
    assert isinstance(intent.payment_method, str)
    assert intent.payment_method.startswith("pm_")
    assert intent.payment_method != "pm_card_visa"

    assert isinstance(intent.latest_charge, str)
    charge = client.v1.charges.retrieve(intent.latest_charge)
    assert charge.status == "succeeded"
    assert charge.paid is True
    assert charge.amount == 12_500
    assert charge.amount_captured == 12_500
    assert charge.amount_refunded == 0
    assert charge.refunded is False
    assert charge.payment_intent == intent.id
    assert charge.transfer_group == mission_id
    assert charge.metadata.to_dict() == {"mission_id": mission_id, "selection_number": "1"}
    assert charge.payment_method_details is not None
    assert charge.payment_method_details.card is not None
    assert charge.payment_method_details.card.brand == "visa"
    assert charge.payment_method_details.card.last4 == "4242"
    assert isinstance(charge.balance_transaction, str)

    transaction = client.v1.balance_transactions.retrieve(charge.balance_transaction)
    assert transaction.amount == 12_500
    assert transaction.net == 12_500
    assert transaction.fee == 0
    assert transaction.type == "charge"
    assert transaction.status == "available"
    assert transaction.source == charge.id


def test_confirm_after_create_with_mastercard(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create({"amount": 2_000, "currency": "usd"})
    assert intent.status == "requires_payment_method"
    assert intent.payment_method is None
    assert intent.latest_charge is None
    assert intent.payment_method_types == ["card"]
    assert intent.automatic_payment_methods is not None
    assert intent.automatic_payment_methods.enabled is True

    confirmed = client.v1.payment_intents.confirm(
        intent.id, {"payment_method": "pm_card_mastercard", "expand": ["latest_charge"]}
    )

    assert confirmed.status == "succeeded"
    assert isinstance(confirmed.latest_charge, stripe.Charge)
    assert confirmed.latest_charge.payment_method_details is not None
    assert confirmed.latest_charge.payment_method_details.card is not None
    assert confirmed.latest_charge.payment_method_details.card.brand == "mastercard"
    assert confirmed.latest_charge.payment_method_details.card.last4 == "4444"


def test_payment_method_types_rejected_on_endive(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(
            {"amount": 5_000, "currency": "eur", "payment_method_types": ["card"]}  # type: ignore[typeddict-unknown-key]
        )

    assert raised.value.http_status == 400
    assert raised.value.code == "payment_method_types_no_longer_supported"
    assert raised.value.param == "payment_method_types"


def test_payment_method_types_accepted_on_older_versions(sandbox: RunningSandbox) -> None:
    client = stripe.StripeClient(
        API_KEY,
        base_addresses={"api": sandbox.url},
        stripe_version="2025-03-31.basil",
        max_network_retries=0,
    )

    intent = client.v1.payment_intents.create(
        {"amount": 5_000, "currency": "eur", "payment_method_types": ["card"]}  # type: ignore[typeddict-unknown-key]
    )

    assert intent.payment_method_types == ["card"]
    assert intent.automatic_payment_methods is None


def test_excluding_cards_blocks_card_payments(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        {"amount": 5_000, "currency": "eur", "excluded_payment_method_types": ["card"]}
    )

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})

    assert intent.payment_method_types == []
    assert raised.value.code == "payment_intent_incompatible_payment_method"


@pytest.mark.parametrize(
    ("payment_method", "code", "decline_code", "last4"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline", "0002"),
        ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds", "9995"),
    ],
)
def test_decline_raises_card_error(
    client: stripe.StripeClient, payment_method: str, code: str, decline_code: str, last4: str
) -> None:
    intent = client.v1.payment_intents.create({"amount": 5_000, "currency": "eur"})

    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.confirm(intent.id, {"payment_method": payment_method})

    error = raised.value
    assert error.http_status == 402
    assert error.code == code
    assert error.error is not None
    assert error.error.type == "card_error"
    assert error.error.code == code
    assert error.error.decline_code == decline_code
    assert error.error.message
    assert error.error.payment_intent is not None
    assert error.error.payment_intent.id == intent.id
    assert error.error.payment_intent.status == "requires_payment_method"
    assert isinstance(error.error.charge, str)

    after = client.v1.payment_intents.retrieve(intent.id)
    assert after.status == "requires_payment_method"
    assert after.payment_method is None
    assert after.amount_received == 0
    assert after.latest_charge == error.error.charge
    assert after.last_payment_error is not None
    assert after.last_payment_error.code == code
    assert after.last_payment_error.decline_code == decline_code
    assert after.last_payment_error.payment_method is not None
    assert after.last_payment_error.payment_method.card is not None
    assert after.last_payment_error.payment_method.card.last4 == last4

    failed_charge = client.v1.charges.retrieve(error.error.charge)
    assert failed_charge.status == "failed"
    assert failed_charge.paid is False
    assert failed_charge.failure_code == code
    assert failed_charge.balance_transaction is None


def test_declined_intent_succeeds_with_other_card(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create({"amount": 3_000, "currency": "eur"})
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_chargeDeclined"})

    retried = client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})

    assert retried.status == "succeeded"
    assert retried.last_payment_error is None
    assert retried.amount_received == 3_000


def test_decline_on_create_with_confirm(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.create(
            {
                "amount": 4_000,
                "currency": "eur",
                "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
                "confirm": True,
            }
        )

    assert raised.value.error is not None
    assert raised.value.error.decline_code == "insufficient_funds"
    assert raised.value.error.payment_intent is not None
    assert raised.value.error.payment_intent.status == "requires_payment_method"


def test_unknown_payment_method_is_resource_missing(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create({"amount": 1_000, "currency": "eur"})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_unknown"})

    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"
    assert raised.value.param == "payment_method"
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"


def test_unknown_intent_is_resource_missing(client: stripe.StripeClient) -> None:
    missing = new_id("pi")

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.retrieve(missing)

    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"
    assert raised.value.user_message == f"No such payment_intent: '{missing}'"


def test_cancel_succeeded_intent_is_unexpected_state(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        {"amount": 1_500, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
    )

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.cancel(intent.id)

    assert raised.value.http_status == 400
    assert raised.value.code == "payment_intent_unexpected_state"
    assert raised.value.error is not None
    assert raised.value.error.payment_intent is not None
    assert raised.value.error.payment_intent.status == "succeeded"


def test_confirm_succeeded_intent_is_unexpected_state(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        {"amount": 1_500, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
    )

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})

    assert raised.value.code == "payment_intent_unexpected_state"


def test_cancel_unpaid_intent(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create({"amount": 1_500, "currency": "eur"})

    canceled = client.v1.payment_intents.cancel(intent.id, {"cancellation_reason": "abandoned"})

    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "abandoned"
    assert canceled.canceled_at is not None
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.cancel(intent.id)
    assert raised.value.code == "payment_intent_unexpected_state"


def test_update_merges_and_deletes_metadata(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        {"amount": 1_000, "currency": "eur", "metadata": {"a": "1", "b": "2"}}
    )

    updated = client.v1.payment_intents.update(
        intent.id, {"metadata": {"b": "", "c": "3"}, "description": "Updated"}
    )

    assert updated.metadata.to_dict() == {"a": "1", "c": "3"}
    assert updated.description == "Updated"


def test_search_by_metadata(client: stripe.StripeClient) -> None:
    mission_id = _mission_id()
    first = client.v1.payment_intents.create(
        {"amount": 1_000, "currency": "eur", "metadata": {"mission_id": mission_id}}
    )
    second = client.v1.payment_intents.create(
        {"amount": 2_000, "currency": "eur", "metadata": {"mission_id": mission_id}}
    )
    client.v1.payment_intents.create(
        {"amount": 3_000, "currency": "eur", "metadata": {"mission_id": "other"}}
    )

    result = client.v1.payment_intents.search({"query": f"metadata['mission_id']:'{mission_id}'"})

    assert [intent.id for intent in result.data] == [second.id, first.id]
    assert result.has_more is False
    assert result.next_page is None

    narrowed = client.v1.payment_intents.search(
        {"query": f"metadata['mission_id']:'{mission_id}' AND amount>1500"}
    )
    assert [intent.id for intent in narrowed.data] == [second.id]


def test_search_pages_with_next_page(client: stripe.StripeClient) -> None:
    mission_id = _mission_id()
    created = [
        client.v1.payment_intents.create(
            {"amount": 1_000 + index, "currency": "eur", "metadata": {"mission_id": mission_id}}
        )
        for index in range(3)
    ]
    query = f'metadata["mission_id"]:"{mission_id}"'

    first_page = client.v1.payment_intents.search({"query": query, "limit": 2})
    second_page = client.v1.payment_intents.search(
        {"query": query, "limit": 2, "page": first_page.next_page}
    )

    assert [intent.id for intent in first_page.data] == [created[2].id, created[1].id]
    assert first_page.has_more is True
    assert [intent.id for intent in second_page.data] == [created[0].id]
    assert second_page.has_more is False


def test_invalid_search_query_is_rejected(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.search({"query": "status:'succeeded' AND amount>1 OR amount<5"})

    assert raised.value.http_status == 400
    assert raised.value.param == "query"


def test_list_paginates_newest_first(client: stripe.StripeClient) -> None:
    created = [
        client.v1.payment_intents.create({"amount": 1_000, "currency": "eur"}) for _ in range(3)
    ]

    first_page = client.v1.payment_intents.list({"limit": 2})
    second_page = client.v1.payment_intents.list(
        {"limit": 2, "starting_after": first_page.data[-1].id}
    )

    assert [intent.id for intent in first_page.data] == [created[2].id, created[1].id]
    assert first_page.has_more is True
    assert second_page.data[0].id == created[0].id
