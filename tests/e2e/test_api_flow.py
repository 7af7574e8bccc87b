"""One mission driven over HTTP, paid the way a front end pays: the webhook funds it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from missions.contracts import Role
from missions.db.models import WebhookEventRow
from missions.tokens import mint_token
from tests.e2e.conftest import LiveStack

pytestmark = pytest.mark.asyncio(loop_scope="session")

CLIENT = "client-e2e-flow"
PROVIDER = "prov-e2e-flow"
OPS = "ops-e2e"


def bearer(stack: LiveStack, user_id: str, role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(stack.settings, user_id, role)}"}


async def wait_for(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], state: str
) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        view: dict[str, Any] = (await http.get(path, headers=headers)).json()
        if view["state"] == state:
            return view
        assert time.monotonic() < deadline, f"mission is {view['state']}, expected {state}"
        await asyncio.sleep(0.1)


async def test_front_end_payment_funds_by_webhook(
    live_stack: LiveStack, sessions: sessionmaker[Session]
) -> None:
    client_h = bearer(live_stack, CLIENT, Role.CLIENT)
    provider_h = bearer(live_stack, PROVIDER, Role.PROVIDER)
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        profile = await http.put(
            f"/providers/{PROVIDER}",
            json={"display_name": "Inès", "presentation": "Plombière à Lille."},
            headers=provider_h,
        )
        assert profile.status_code == 200

        created = await http.post(
            "/missions",
            json={
                "title": "Changer un joint de robinet",
                "description": "Robinet de cuisine qui goutte.",
                "category": "plomberie",
                "city": "Lille",
                "postcode": "59000",
            },
            headers=client_h,
        )
        assert created.status_code == 201
        mission_id = created.json()["mission_id"]
        path = f"/missions/{mission_id}"

        applied = await http.post(
            f"{path}/applications",
            json={"price_minor": 6500, "message": "Je passe demain matin."},
            headers=provider_h,
        )
        assert applied.status_code == 201
        selected = await http.post(
            f"{path}/selection",
            json={"application_id": applied.json()["application_id"]},
            headers=client_h,
        )
        assert selected.status_code == 200
        payment = selected.json()["payment"]
        assert payment["amount_minor"] == 6825
        assert payment["client_secret"].startswith(payment["payment_intent_id"])

        # What the front end does with the client secret; the API is not called.
        live_stack.gateway._stripe.v1.payment_intents.confirm(
            payment["payment_intent_id"], {"payment_method": "pm_card_visa"}
        )
        funded = await wait_for(http, path, client_h, "funded")
        assert funded["money"]["captured_minor"] == 6825

        assert (
            await http.post(f"{path}/completion-request", headers=provider_h)
        ).status_code == 200
        reviewing = await http.post(f"{path}/confirmation", headers=client_h)
        assert reviewing.json()["state"] == "reviewing"
        assert reviewing.json()["money"]["provider_payout_minor"] == 5850
        for headers, stars in ((client_h, 5), (provider_h, 4)):
            review = await http.post(
                f"{path}/reviews", json={"stars": stars, "comment": "Très bien"}, headers=headers
            )
            assert review.status_code == 200
        closed = await wait_for(http, path, client_h, "closed")
        assert closed["money"]["platform_revenue_minor"] == 975

        rated = closed["applications"][0]["provider_rating"]
        assert rated["count"] == 1
        public = (await http.get(f"/providers/{PROVIDER}", headers=client_h)).json()
        assert public["rating"]["count"] == 1
        assert public["rating"]["average"] == 5.0

        notifications = (await http.get(f"{path}/notifications", headers=client_h)).json()
        funded_note = [n for n in notifications if n["template"] == "mission_funded"]
        assert len(funded_note) == 1
        assert "68,25 €" in funded_note[0]["body"]

    with sessions() as session:
        events = session.scalars(
            select(WebhookEventRow.type).where(WebhookEventRow.type == "payment_intent.succeeded")
        ).all()
    assert len(events) >= 1


async def test_declined_card_is_402_over_http(live_stack: LiveStack) -> None:
    client_h = bearer(live_stack, "client-e2e-declined", Role.CLIENT)
    provider_h = bearer(live_stack, "prov-e2e-declined", Role.PROVIDER)
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        created = await http.post(
            "/missions",
            json={
                "title": "Poser une tringle",
                "description": "Tringle de 2 m, mur en placo.",
                "category": "bricolage",
                "city": "Caen",
                "postcode": "14000",
                "locale": "en",
            },
            headers=client_h,
        )
        path = f"/missions/{created.json()['mission_id']}"
        applied = await http.post(
            f"{path}/applications",
            json={"price_minor": 4000, "message": "Disponible samedi."},
            headers=provider_h,
        )
        await http.post(
            f"{path}/selection",
            json={"application_id": applied.json()["application_id"]},
            headers=client_h,
        )
        declined = await http.post(
            f"{path}/payment/confirmation",
            json={"payment_method": "pm_card_chargeDeclinedInsufficientFunds"},
            headers=client_h,
        )
        assert declined.status_code == 402
        body = declined.json()
        assert body["code"] == "card_declined"
        assert body["details"]["decline_code"] == "insufficient_funds"
        view = (await http.get(path, headers=client_h)).json()
        assert view["state"] == "awaiting_payment"
        assert view["money"]["declined_attempts"] == 1
        notifications = (await http.get(f"{path}/notifications", headers=client_h)).json()
        requested = [n for n in notifications if n["template"] == "payment_requested"]
        assert len(requested) == 1
        assert requested[0]["locale"] == "en"
        assert "€42.00" in requested[0]["body"]


async def test_chargeback_freezes_by_webhook(live_stack: LiveStack) -> None:
    client_h = bearer(live_stack, "client-e2e-chargeback", Role.CLIENT)
    provider_h = bearer(live_stack, "prov-e2e-chargeback", Role.PROVIDER)
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        created = await http.post(
            "/missions",
            json={
                "title": "Monter un lit mezzanine",
                "description": "Lit de 140, notice fournie.",
                "category": "bricolage",
                "city": "Tours",
                "postcode": "37000",
            },
            headers=client_h,
        )
        path = f"/missions/{created.json()['mission_id']}"
        applied = await http.post(
            f"{path}/applications",
            json={"price_minor": 8000, "message": "Disponible jeudi."},
            headers=provider_h,
        )
        await http.post(
            f"{path}/selection",
            json={"application_id": applied.json()["application_id"]},
            headers=client_h,
        )
        paid = await http.post(
            f"{path}/payment/confirmation",
            json={"payment_method": "pm_card_createDispute"},
            headers=client_h,
        )
        assert paid.status_code == 200

        disputed = await wait_for(http, path, client_h, "disputed")
        assert disputed["needs_attention"] is True
        assert disputed["money"]["charged_back_minor"] == 8400
        assert disputed["dispute"]["reason"].startswith("chargeback dp_")
