"""Idempotency-Key handling, through the SDK and over raw HTTP."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import stripe

from stripe_sandbox import SandboxConfig
from stripe_sandbox.context import SandboxContext
from stripe_sandbox.errors import StripeAPIError
from stripe_sandbox.idempotency import IdempotencyManager

from .conftest import API_KEY, RunningSandbox


def _key() -> str:
    return f"test-{uuid.uuid4().hex}"


def test_same_key_and_params_replays(client: stripe.StripeClient) -> None:
    key = _key()
    params: stripe.params.PaymentIntentCreateParams = {
        "amount": 2_000,
        "currency": "eur",
        "metadata": {"mission_id": key},
    }

    first = client.v1.payment_intents.create(params, {"idempotency_key": key})
    second = client.v1.payment_intents.create(params, {"idempotency_key": key})

    assert second.id == first.id
    assert second.client_secret == first.client_secret
    assert first.last_response is not None
    assert second.last_response is not None
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert second.last_response.headers["Original-Request"] == first.last_response.request_id
    found = client.v1.payment_intents.search({"query": f"metadata['mission_id']:'{key}'"})
    assert [intent.id for intent in found.data] == [first.id]


def test_same_key_other_params_is_idempotency_error(client: stripe.StripeClient) -> None:
    key = _key()
    client.v1.payment_intents.create({"amount": 2_000, "currency": "eur"}, {"idempotency_key": key})

    with pytest.raises(stripe.IdempotencyError) as raised:
        client.v1.payment_intents.create(
            {"amount": 2_001, "currency": "eur"}, {"idempotency_key": key}
        )

    assert raised.value.http_status == 400
    assert raised.value.error is not None
    assert raised.value.error.type == "idempotency_error"


def test_same_key_other_endpoint_is_idempotency_error(client: stripe.StripeClient) -> None:
    key = _key()
    client.v1.payment_intents.create({"amount": 2_000, "currency": "eur"}, {"idempotency_key": key})

    with pytest.raises(stripe.IdempotencyError):
        client.v1.accounts.create(
            {"type": "express", "capabilities": {"transfers": {"requested": True}}},
            {"idempotency_key": key},
        )


def test_decline_is_replayed_without_second_charge(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create({"amount": 2_000, "currency": "eur"})
    key = _key()
    params: stripe.params.PaymentIntentConfirmParams = {"payment_method": "pm_card_chargeDeclined"}

    with pytest.raises(stripe.CardError) as first:
        client.v1.payment_intents.confirm(intent.id, params, {"idempotency_key": key})
    with pytest.raises(stripe.CardError) as second:
        client.v1.payment_intents.confirm(intent.id, params, {"idempotency_key": key})

    assert first.value.error is not None
    assert second.value.error is not None
    assert second.value.error.charge == first.value.error.charge
    assert second.value.headers is not None
    assert second.value.headers["Idempotent-Replayed"] == "true"
    charges = client.v1.charges.list({"payment_intent": intent.id})
    assert len(charges.data) == 1


def test_validation_error_is_not_stored(client: stripe.StripeClient) -> None:
    key = _key()
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create({"amount": 2_000}, {"idempotency_key": key})  # type: ignore[typeddict-item]
    assert raised.value.code == "parameter_missing"

    intent = client.v1.payment_intents.create(
        {"amount": 2_000, "currency": "eur"}, {"idempotency_key": key}
    )

    assert intent.status == "requires_payment_method"


def test_concurrent_requests_with_one_key_run_once(sandbox: RunningSandbox) -> None:
    key = _key()
    body = {"amount": "2500", "currency": "eur", "metadata[mission_id]": key}

    def post(_: int) -> httpx.Response:
        return httpx.post(
            f"{sandbox.url}/v1/payment_intents",
            data=body,
            headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": key},
            timeout=10,
        )

    with ThreadPoolExecutor(max_workers=8) as executor:
        responses = list(executor.map(post, range(8)))

    assert [response.status_code for response in responses] == [200] * 8
    assert len({response.json()["id"] for response in responses}) == 1
    originals = [r for r in responses if r.headers.get("Idempotent-Replayed") != "true"]
    assert len(originals) == 1
    intents = [
        intent
        for intent in sandbox.context.store.all("payment_intent")
        if intent["metadata"].get("mission_id") == key
    ]
    assert len(intents) == 1


def test_keys_are_scoped_per_api_key(sandbox: RunningSandbox) -> None:
    manager = IdempotencyManager(sandbox.context)

    first = manager.scope("sk_test_first", "key-1")
    second = manager.scope("sk_test_second", "key-1")

    assert first != second
    assert "sk_test_first" not in first


async def test_lock_waits_for_holder_then_times_out() -> None:
    config = SandboxConfig(api_key=API_KEY, idempotency_wait_seconds=0.2)
    manager = IdempotencyManager(SandboxContext(config))
    order: list[str] = []

    async def hold_for(name: str, seconds: float) -> None:
        async with manager.hold("scope"):
            order.append(f"{name} start")
            await asyncio.sleep(seconds)
            order.append(f"{name} end")

    await asyncio.gather(hold_for("first", 0.05), hold_for("second", 0))
    assert order == ["first start", "first end", "second start", "second end"]

    holder = asyncio.create_task(hold_for("slow", 1.0))
    await asyncio.sleep(0.01)
    with pytest.raises(StripeAPIError) as raised:
        async with manager.hold("scope"):
            pass
    holder.cancel()

    assert raised.value.status == 409
    assert raised.value.code == "idempotency_key_in_use"
    assert raised.value.headers == {"Stripe-Should-Retry": "true"}
