"""Signed Stripe webhooks replayed, reordered or naming the wrong mission, over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from missions.contracts import Role
from tests.adversarial.http_helpers import (
    apply,
    bearer,
    post_mission,
    select,
    wait_for_state,
)
from tests.adversarial.ledger import stripe_books
from tests.api.helpers import signature_header, stripe_event
from tests.e2e.conftest import LiveStack

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def post_event(
    http: httpx.AsyncClient, stack: LiveStack, event_type: str, intent: dict[str, Any]
) -> tuple[str, httpx.Response]:
    """Sign and post an event about `intent`, and return the payload and the response."""
    payload = stripe_event(event_type, intent)
    signature = signature_header(payload, stack.settings.stripe_webhook_secret)
    response = await http.post(
        "/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )
    return payload, response


async def selected_mission(
    http: httpx.AsyncClient, stack: LiveStack, name: str, price_minor: int
) -> tuple[str, str, dict[str, str]]:
    """Post, apply and select, then return the mission id, PaymentIntent and client headers."""
    client_h = bearer(stack, f"client-{name}", Role.CLIENT)
    provider_h = bearer(stack, f"prov-{name}", Role.PROVIDER)
    mission_id = await post_mission(http, client_h)
    application_id = await apply(http, mission_id, provider_h, price_minor)
    view = await select(http, mission_id, client_h, application_id)
    return mission_id, view["payment"]["payment_intent_id"], client_h


def paid_intent(stack: LiveStack, intent_id: str) -> dict[str, Any]:
    """Pay the intent the way the front end does and return it as Stripe sends it."""
    stripe = stack.gateway._stripe.v1
    stripe.payment_intents.confirm(intent_id, {"payment_method": "pm_card_visa"})
    intent: dict[str, Any] = stripe.payment_intents.retrieve(intent_id).to_dict()
    return intent


async def test_replayed_webhook_funds_once(live_stack: LiveStack) -> None:
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        mission_id, intent_id, client_h = await selected_mission(http, live_stack, "replay", 6000)
        intent = paid_intent(live_stack, intent_id)
        await wait_for_state(http, mission_id, client_h, "funded")

        payload, first = await post_event(http, live_stack, "payment_intent.succeeded", intent)
        signature = signature_header(payload, live_stack.settings.stripe_webhook_secret)
        replays = await asyncio.gather(
            *(
                http.post(
                    "/webhooks/stripe",
                    content=payload,
                    headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
                )
                for _ in range(3)
            )
        )
        view = (await http.get(f"/missions/{mission_id}", headers=client_h)).json()

    assert first.status_code == 200
    assert [r.json()["duplicate"] for r in replays] == [True, True, True]
    assert view["state"] == "funded"
    assert view["money"]["captured_minor"] == 6300
    assert stripe_books(live_stack.gateway, mission_id).charge_count == 1


async def test_webhook_naming_other_mission_ignored(live_stack: LiveStack) -> None:
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        waiting_id, _, waiting_h = await selected_mission(http, live_stack, "hook-victim", 6000)
        paid_id, paid_intent_id, paid_h = await selected_mission(
            http, live_stack, "hook-payer", 6000
        )
        intent = paid_intent(live_stack, paid_intent_id)
        await wait_for_state(http, paid_id, paid_h, "funded")
        intent["metadata"]["mission_id"] = waiting_id

        _, response = await post_event(http, live_stack, "payment_intent.succeeded", intent)
        await asyncio.sleep(0.5)
        waiting = (await http.get(f"/missions/{waiting_id}", headers=waiting_h)).json()
        paid = (await http.get(f"/missions/{paid_id}", headers=paid_h)).json()

    assert response.status_code == 200
    assert waiting["state"] == "awaiting_payment"
    assert waiting["money"]["captured_minor"] == 0
    assert paid["money"]["captured_minor"] == 6300


async def test_failure_event_after_success_keeps_funding(live_stack: LiveStack) -> None:
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        mission_id, intent_id, client_h = await selected_mission(
            http, live_stack, "hook-reorder", 4000
        )
        intent = paid_intent(live_stack, intent_id)
        await wait_for_state(http, mission_id, client_h, "funded")
        failed = {
            **intent,
            "status": "requires_payment_method",
            "last_payment_error": {"code": "card_declined", "decline_code": "generic_decline"},
        }

        _, response = await post_event(http, live_stack, "payment_intent.payment_failed", failed)
        await asyncio.sleep(0.5)
        view = (await http.get(f"/missions/{mission_id}", headers=client_h)).json()

    assert response.status_code == 200
    assert view["state"] == "funded"
    assert view["money"]["captured_minor"] == 4200
    assert view["money"]["declined_attempts"] == 0


async def test_success_event_after_cancelled_payment_ignored(live_stack: LiveStack) -> None:
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        mission_id, intent_id, client_h = await selected_mission(
            http, live_stack, "hook-cancelled", 5000
        )
        cancelled = await http.post(f"/missions/{mission_id}/cancellation", headers=client_h)
        intent = live_stack.gateway._stripe.v1.payment_intents.retrieve(intent_id).to_dict()
        forged = {**intent, "status": "succeeded", "amount_received": intent["amount"]}

        _, response = await post_event(http, live_stack, "payment_intent.succeeded", forged)
        await asyncio.sleep(0.5)
        view = (await http.get(f"/missions/{mission_id}", headers=client_h)).json()

    assert cancelled.json()["state"] == "open"
    assert intent["status"] == "canceled"
    assert response.status_code == 200
    assert view["state"] == "open"
    assert view["money"]["captured_minor"] == 0
    assert view["quote"] is None
