"""The Stripe webhook: signature checks on the raw body, the event log and redelivery."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from missions.client import MissionsClient
from missions.contracts import PaymentEvent
from missions.db.models import WebhookEventRow
from missions.errors import Unavailable
from missions.settings import Settings
from tests.api.helpers import signature_header, stripe_event

WEBHOOK = "/webhooks/stripe"


def event_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(WebhookEventRow)) or 0


def stored_event(sessions: sessionmaker[Session], event_id: str) -> WebhookEventRow | None:
    with sessions() as session:
        return session.get(WebhookEventRow, event_id)


def intent(status: str, **fields: object) -> dict[str, object]:
    return {
        "id": f"pi_{uuid.uuid4().hex[:24]}",
        "object": "payment_intent",
        "amount": 10500,
        "currency": "eur",
        "status": status,
        "metadata": {"mission_id": f"mission-{uuid.uuid4()}"},
        **fields,
    }


async def post_event(
    http: httpx.AsyncClient, payload: str, signature: str | None
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return await http.post(WEBHOOK, content=payload.encode(), headers=headers)


async def test_missing_signature_is_400(
    http: httpx.AsyncClient, api_sessions: sessionmaker[Session]
) -> None:
    before = event_count(api_sessions)
    payload = stripe_event("payment_intent.succeeded", intent("succeeded"))

    response = await post_event(http, payload, None)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    assert event_count(api_sessions) == before


async def test_wrong_secret_is_400(
    http: httpx.AsyncClient, api_sessions: sessionmaker[Session]
) -> None:
    before = event_count(api_sessions)
    payload = stripe_event("payment_intent.succeeded", intent("succeeded"))

    response = await post_event(http, payload, signature_header(payload, "whsec_not_ours"))

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    assert event_count(api_sessions) == before


async def test_tampered_body_is_400(
    http: httpx.AsyncClient, api_settings: Settings, api_sessions: sessionmaker[Session]
) -> None:
    before = event_count(api_sessions)
    payload = stripe_event("payment_intent.succeeded", intent("succeeded", amount=100))
    signature = signature_header(payload, api_settings.stripe_webhook_secret)

    response = await post_event(http, payload.replace('"amount": 100', '"amount": 1'), signature)

    assert response.status_code == 400
    assert event_count(api_sessions) == before


async def test_stale_signature_is_400(
    http: httpx.AsyncClient, api_settings: Settings, api_sessions: sessionmaker[Session]
) -> None:
    before = event_count(api_sessions)
    payload = stripe_event("customer.created", {"id": "cus_1", "object": "customer"})
    too_old = int(time.time() - api_settings.stripe_webhook_tolerance.total_seconds() - 60)

    response = await post_event(
        http,
        payload,
        signature_header(payload, api_settings.stripe_webhook_secret, timestamp=too_old),
    )

    assert response.status_code == 400
    assert "tolerance" in response.json()["message"]
    assert event_count(api_sessions) == before


async def test_garbage_signature_header_is_400(http: httpx.AsyncClient) -> None:
    payload = stripe_event("customer.created", {"id": "cus_1", "object": "customer"})

    response = await post_event(http, payload, "t=abc,v1=def")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"


async def test_other_event_recorded_once(
    http: httpx.AsyncClient, api_settings: Settings, api_sessions: sessionmaker[Session]
) -> None:
    payload = stripe_event("customer.created", {"id": "cus_1", "object": "customer"})
    event_id = json.loads(payload)["id"]
    signature = signature_header(payload, api_settings.stripe_webhook_secret)

    first = await post_event(http, payload, signature)
    second = await post_event(http, payload, signature)

    assert first.status_code == 200
    assert first.json() == {"event_id": event_id, "duplicate": False}
    assert second.status_code == 200
    assert second.json() == {"event_id": event_id, "duplicate": True}
    row = stored_event(api_sessions, event_id)
    assert row is not None
    assert row.type == "customer.created"
    assert row.processed_at is not None


async def test_payment_event_for_unknown_mission_is_processed(
    http: httpx.AsyncClient, api_settings: Settings, api_sessions: sessionmaker[Session]
) -> None:
    payload = stripe_event("payment_intent.succeeded", intent("succeeded", latest_charge="ch_1"))
    event_id = json.loads(payload)["id"]

    response = await post_event(
        http, payload, signature_header(payload, api_settings.stripe_webhook_secret)
    )

    assert response.status_code == 200
    row = stored_event(api_sessions, event_id)
    assert row is not None
    assert row.processed_at is not None


class RecordingMissions(MissionsClient):
    """A MissionsClient whose payment signals fail or are recorded instead of sent."""

    def __init__(self, real: MissionsClient, settings: Settings, *, fail: bool) -> None:
        super().__init__(real.temporal, settings)
        self.fail = fail
        self.sent: list[tuple[str, PaymentEvent]] = []

    async def send_payment_event(self, mission_id: str, event: PaymentEvent) -> None:
        if self.fail:
            raise Unavailable(f"Temporal call for mission {mission_id} failed: test outage")
        self.sent.append((mission_id, event))


@pytest.fixture
def swap_missions(app: FastAPI, api_settings: Settings) -> Iterator[type[RecordingMissions]]:
    real = app.state.missions
    yield RecordingMissions
    app.state.missions = real


async def test_failed_signal_then_redelivery(
    http: httpx.AsyncClient,
    app: FastAPI,
    api_settings: Settings,
    api_sessions: sessionmaker[Session],
    swap_missions: type[RecordingMissions],
) -> None:
    failed_intent = intent(
        "requires_payment_method",
        last_payment_error={"code": "card_declined", "decline_code": "insufficient_funds"},
    )
    payload = stripe_event("payment_intent.payment_failed", failed_intent)
    event_id = json.loads(payload)["id"]
    signature = signature_header(payload, api_settings.stripe_webhook_secret)

    app.state.missions = swap_missions(app.state.missions, api_settings, fail=True)
    outage = await post_event(http, payload, signature)

    assert outage.status_code == 503
    assert outage.json()["code"] == "unavailable"
    row = stored_event(api_sessions, event_id)
    assert row is not None
    assert row.processed_at is None

    recording = swap_missions(app.state.missions, api_settings, fail=False)
    app.state.missions = recording
    redelivery = await post_event(http, payload, signature)

    assert redelivery.status_code == 200
    assert redelivery.json() == {"event_id": event_id, "duplicate": False}
    [(mission_id, event)] = recording.sent
    assert mission_id == failed_intent["metadata"]["mission_id"]  # type: ignore[index]
    assert event.event_id == event_id
    assert event.kind == "failed"
    assert event.payment_intent_id == failed_intent["id"]
    assert event.decline_code == "insufficient_funds"
    assert event.amount_minor == 10500
    row = stored_event(api_sessions, event_id)
    assert row is not None
    assert row.processed_at is not None


async def test_succeeded_event_carries_charge(
    http: httpx.AsyncClient,
    app: FastAPI,
    api_settings: Settings,
    swap_missions: type[RecordingMissions],
) -> None:
    succeeded = intent("succeeded", amount_received=10500, latest_charge={"id": "ch_42"})
    payload = stripe_event("payment_intent.succeeded", succeeded)
    recording = swap_missions(app.state.missions, api_settings, fail=False)
    app.state.missions = recording

    response = await post_event(
        http, payload, signature_header(payload, api_settings.stripe_webhook_secret)
    )

    assert response.status_code == 200
    [(_, event)] = recording.sent
    assert event.kind == "succeeded"
    assert event.charge_id == "ch_42"
    assert event.amount_minor == 10500
    assert event.decline_code is None


async def test_payment_event_without_mission_is_only_recorded(
    http: httpx.AsyncClient,
    app: FastAPI,
    api_settings: Settings,
    api_sessions: sessionmaker[Session],
    swap_missions: type[RecordingMissions],
) -> None:
    payload = stripe_event("payment_intent.succeeded", intent("succeeded", metadata={}))
    event_id = json.loads(payload)["id"]
    recording = swap_missions(app.state.missions, api_settings, fail=False)
    app.state.missions = recording

    response = await post_event(
        http, payload, signature_header(payload, api_settings.stripe_webhook_secret)
    )

    assert response.status_code == 200
    assert recording.sent == []
    row = stored_event(api_sessions, event_id)
    assert row is not None
    assert row.processed_at is not None


async def test_replayed_old_event_is_400_and_changes_nothing(
    http: httpx.AsyncClient,
    app: FastAPI,
    api_settings: Settings,
    api_sessions: sessionmaker[Session],
    swap_missions: type[RecordingMissions],
) -> None:
    """An attacker who captured a signed event cannot replay it once the tolerance passed."""
    recording = swap_missions(app.state.missions, api_settings, fail=False)
    app.state.missions = recording
    secret = api_settings.stripe_webhook_secret
    tolerance = int(api_settings.stripe_webhook_tolerance.total_seconds())
    payload = stripe_event("payment_intent.succeeded", intent("succeeded", latest_charge="ch_9"))
    event_id = json.loads(payload)["id"]
    signed_at = int(time.time()) - tolerance - 1

    # The captured delivery, replayed as is, and the same event never delivered before.
    delivered = await post_event(http, payload, signature_header(payload, secret))
    row = stored_event(api_sessions, event_id)
    processed_at = row.processed_at if row is not None else None
    count = event_count(api_sessions)
    replayed = await post_event(
        http, payload, signature_header(payload, secret, timestamp=signed_at)
    )
    fresh_payload = stripe_event("payment_intent.succeeded", intent("succeeded"))
    fresh = await post_event(
        http, fresh_payload, signature_header(fresh_payload, secret, timestamp=signed_at)
    )

    assert delivered.status_code == 200
    assert len(recording.sent) == 1
    for response in (replayed, fresh):
        assert response.status_code == 400
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["type"] == "https://missions.example/problems/invalid-signature"
        assert "tolerance" in response.json()["detail"]
    assert event_count(api_sessions) == count
    row = stored_event(api_sessions, event_id)
    assert row is not None
    assert row.processed_at == processed_at
    assert stored_event(api_sessions, json.loads(fresh_payload)["id"]) is None
