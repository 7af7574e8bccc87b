"""Helpers shared by the API tests: bearer headers and signed Stripe webhook requests."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import stripe

from missions.contracts import Actor, Role
from missions.settings import Settings
from missions.tokens import mint_token


class BearerFactory:
    """Builds `Authorization` headers for test users."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, user_id: str, role: Role, *, act_as: Actor | None = None) -> dict[str, str]:
        token = mint_token(self.settings, user_id, role, act_as=act_as)
        return {"Authorization": f"Bearer {token}"}


def stripe_event(event_type: str, data_object: dict[str, Any]) -> str:
    """Return the JSON body of a Stripe event with a fresh id."""
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": data_object},
    }
    return json.dumps(event)


def signature_header(payload: str, secret: str, *, timestamp: int | None = None) -> str:
    """Sign `payload` the way Stripe does, with `secret` and `timestamp` (default now)."""
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
