"""Idempotency keys expire, so code must find existing objects before creating again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import stripe

from stripe_sandbox import SandboxConfig

from .conftest import API_KEY, ManualClock, RunningSandbox, SandboxServer

TTL_SECONDS = 60


@pytest.fixture(scope="module")
def expiring() -> Iterator[RunningSandbox]:
    """A sandbox with a manual clock that remembers idempotency keys for a minute."""
    config = SandboxConfig(api_key=API_KEY, idempotency_ttl_seconds=TTL_SECONDS)
    with SandboxServer(config, clock=ManualClock()) as running:
        yield running


def _advance(sandbox: RunningSandbox, seconds: float) -> None:
    assert sandbox.clock is not None
    sandbox.clock.advance(seconds)


def _paid_intent(client: stripe.StripeClient, amount: int) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        {"amount": amount, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
    )


def test_key_replays_until_it_expires(expiring: RunningSandbox) -> None:
    client = expiring.client()
    mission_id = f"mission-{uuid.uuid4().hex}"
    key = f"intent-{mission_id}"
    params: stripe.params.PaymentIntentCreateParams = {
        "amount": 2_000,
        "currency": "eur",
        "metadata": {"mission_id": mission_id},
    }

    first = client.v1.payment_intents.create(params, {"idempotency_key": key})
    _advance(expiring, TTL_SECONDS - 1)
    replayed = client.v1.payment_intents.create(params, {"idempotency_key": key})
    _advance(expiring, 1)
    after_expiry = client.v1.payment_intents.create(params, {"idempotency_key": key})
    found = client.v1.payment_intents.search({"query": f"metadata['mission_id']:'{mission_id}'"})

    assert replayed.id == first.id
    assert after_expiry.id != first.id
    assert after_expiry.last_response is not None
    assert "Idempotent-Replayed" not in after_expiry.last_response.headers
    assert {intent.id for intent in found.data} == {first.id, after_expiry.id}


def test_expired_key_creates_second_transfer(expiring: RunningSandbox) -> None:
    client = expiring.client()
    _paid_intent(client, 10_000)
    account = client.v1.accounts.create(
        {"type": "express", "capabilities": {"transfers": {"requested": True}}}
    )
    group = f"mission-{uuid.uuid4().hex}"
    key = f"transfer-{group}"
    params: stripe.params.TransferCreateParams = {
        "amount": 1_500,
        "currency": "eur",
        "destination": account.id,
        "transfer_group": group,
    }

    first = client.v1.transfers.create(params, {"idempotency_key": key})
    existing = client.v1.transfers.list({"transfer_group": group}).data
    _advance(expiring, TTL_SECONDS + 1)
    second = client.v1.transfers.create(params, {"idempotency_key": key})
    listed = client.v1.transfers.list({"transfer_group": group}).data

    # Looking up by transfer_group before creating is what prevents the duplicate.
    assert [transfer.id for transfer in existing] == [first.id]
    assert second.id != first.id
    assert [transfer.id for transfer in listed] == [second.id, first.id]


def test_expired_key_creates_second_refund(expiring: RunningSandbox) -> None:
    client = expiring.client()
    intent = _paid_intent(client, 4_000)
    key = f"refund-{intent.id}"
    params: stripe.params.RefundCreateParams = {"payment_intent": intent.id, "amount": 1_000}

    first = client.v1.refunds.create(params, {"idempotency_key": key})
    _advance(expiring, TTL_SECONDS + 1)
    second = client.v1.refunds.create(params, {"idempotency_key": key})
    listed = client.v1.refunds.list({"payment_intent": intent.id}).data

    assert second.id != first.id
    assert [refund.id for refund in listed] == [second.id, first.id]
    assert client.v1.charges.retrieve(str(intent.latest_charge)).amount_refunded == 2_000


def test_expired_key_creates_second_reversal(expiring: RunningSandbox) -> None:
    client = expiring.client()
    _paid_intent(client, 5_000)
    account = client.v1.accounts.create(
        {"type": "express", "capabilities": {"transfers": {"requested": True}}}
    )
    transfer = client.v1.transfers.create(
        {"amount": 3_000, "currency": "eur", "destination": account.id}
    )
    key = f"reversal-{transfer.id}"

    first = client.v1.transfers.reversals.create(
        transfer.id, {"amount": 500}, {"idempotency_key": key}
    )
    _advance(expiring, TTL_SECONDS + 1)
    second = client.v1.transfers.reversals.create(
        transfer.id, {"amount": 500}, {"idempotency_key": key}
    )
    listed = client.v1.transfers.reversals.list(transfer.id).data

    assert second.id != first.id
    assert [reversal.id for reversal in listed] == [second.id, first.id]
    assert client.v1.transfers.retrieve(transfer.id).amount_reversed == 1_000
