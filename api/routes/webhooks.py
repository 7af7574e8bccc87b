"""The Stripe webhook: verified on the raw body, recorded once, passed to the mission.

In live mode Stripe redelivers an event until it gets a 2xx response, for up to three days
(Stripe's webhook documentation). So the route returns 503 when signalling the mission
failed, and processes a redelivered event again if it was recorded but not processed. An
event processed before returns 200 and changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from http import HTTPStatus
from typing import Any

import stripe
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api.deps import MissionsDep, PaymentsDep, SessionDep, SettingsDep, in_transaction
from api.errors import error_response, error_responses
from api.schemas import WebhookAck
from missions.client import MissionsClient
from missions.contracts import ChargebackEvent, PaymentEvent, PaymentEventKind
from missions.db.repositories import (
    is_webhook_event_processed,
    mark_webhook_event_processed,
    record_chargeback_after_end,
    record_webhook_event,
    set_payouts_enabled_for_account,
)
from missions.errors import MissionNotFound, Unavailable
from missions.payments import PaymentsGateway

log = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

PAYMENT_EVENT_KINDS = {
    "payment_intent.succeeded": PaymentEventKind.SUCCEEDED,
    "payment_intent.payment_failed": PaymentEventKind.FAILED,
}


@router.post(
    "/stripe",
    response_model=WebhookAck,
    summary="Receive a signed Stripe event",
    description=(
        "Verifies `Stripe-Signature` on the raw body. `payment_intent.succeeded` and "
        "`payment_intent.payment_failed` events whose `metadata.mission_id` names a mission "
        "are passed to that mission; `account.updated` refreshes whether a provider can be "
        "paid; other events are only recorded."
    ),
    responses=error_responses(400, 503),
    # Declared here rather than as a Header parameter, whose absence FastAPI would turn into
    # a 422, while Stripe's guidance is a 400 for any unverifiable request.
    openapi_extra={
        "parameters": [
            {
                "name": "Stripe-Signature",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "Stripe's signature of the raw body, `t=...,v1=...`.",
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
            "description": "A Stripe event object, verified before it is parsed.",
        },
    },
)
async def receive_stripe_event(
    request: Request,
    settings: SettingsDep,
    missions: MissionsDep,
    payments: PaymentsDep,
    session: SessionDep,
) -> JSONResponse:
    payload = await request.body()
    stripe_signature = request.headers.get("Stripe-Signature")
    try:
        event = stripe.Webhook.construct_event(
            payload,
            stripe_signature,
            settings.stripe_webhook_secret,
            tolerance=int(settings.stripe_webhook_tolerance.total_seconds()),
        )
    except stripe.SignatureVerificationError as error:
        log.warning("Stripe webhook rejected, signature check failed: %s", error.user_message)
        return error_response(
            request,
            HTTPStatus.BAD_REQUEST,
            "invalid_signature",
            f"Stripe-Signature is missing or invalid: {error.user_message}",
        )
    except ValueError as error:
        # Raised for a body that is not UTF-8 JSON, which a valid signature cannot cover.
        log.warning("Stripe webhook rejected, body is not JSON: %s", error)
        return error_response(
            request, HTTPStatus.BAD_REQUEST, "invalid_payload", f"webhook body is not JSON: {error}"
        )

    body: dict[str, Any] = json.loads(payload)
    event_id = str(event.id)
    event_type = str(event.type)
    event_object = body.get("data", {}).get("object", {})
    mission_id = _mission_id(event_object)

    is_new = await in_transaction(session, record_webhook_event, event_id, event_type, body)
    if not is_new and await in_transaction(session, is_webhook_event_processed, event_id):
        log.info(
            "mission %s: Stripe event %s (%s) was already processed",
            mission_id or "-",
            event_id,
            event_type,
        )
        return _ack(event_id, duplicate=True)

    # Two deliveries of one event at once may both signal the mission, which is safe because
    # the workflow ignores a payment event id it has already seen.
    kind = PAYMENT_EVENT_KINDS.get(event_type)
    if kind is not None and mission_id is not None:
        delivered = await _tell_mission(missions, mission_id, event_id, kind, event_object)
        if not delivered:
            return error_response(
                request,
                HTTPStatus.SERVICE_UNAVAILABLE,
                Unavailable.code,
                f"signalling mission {mission_id} of event {event_id} failed; "
                "Stripe redelivers the event",
                {"event_id": event_id, "mission_id": mission_id},
            )
    elif event_type == "account.updated":
        await _update_account(session, event_id, event_object)
    elif event_type == "charge.dispute.created":
        if not await _tell_chargeback(missions, payments, session, event_id, event_object):
            return error_response(
                request,
                HTTPStatus.SERVICE_UNAVAILABLE,
                Unavailable.code,
                f"passing chargeback event {event_id} to its mission failed; "
                "Stripe redelivers the event",
                {"event_id": event_id},
            )
    else:
        log.info(
            "mission %s: Stripe event %s (%s) recorded", mission_id or "-", event_id, event_type
        )

    await in_transaction(session, mark_webhook_event_processed, event_id)
    return _ack(event_id, duplicate=False)


async def _tell_mission(
    missions: MissionsClient,
    mission_id: str,
    event_id: str,
    kind: PaymentEventKind,
    intent: dict[str, Any],
) -> bool:
    """Signal the mission and return True, or False when the event must wait for redelivery."""
    event = PaymentEvent(
        event_id=event_id,
        kind=kind,
        payment_intent_id=str(intent.get("id", "")),
        charge_id=_charge_id(intent.get("latest_charge")),
        amount_minor=int(intent.get("amount_received") or intent.get("amount") or 0),
        decline_code=(intent.get("last_payment_error") or {}).get("decline_code"),
    )
    try:
        await missions.send_payment_event(mission_id, event)
    except MissionNotFound:
        # Retrying cannot create the mission, so the event is kept as processed.
        log.warning(
            "mission %s: Stripe event %s names no running mission; recorded only",
            mission_id,
            event_id,
        )
        return True
    except Unavailable as error:
        log.error(
            "mission %s: passing Stripe event %s failed, Stripe will redeliver it: %s",
            mission_id,
            event_id,
            error.message,
        )
        return False
    log.info(
        "mission %s: Stripe event %s passed on, payment %s %s",
        mission_id,
        event_id,
        event.payment_intent_id,
        kind.value,
    )
    return True


async def _tell_chargeback(
    missions: MissionsClient,
    payments: PaymentsGateway,
    session: Session,
    event_id: str,
    dispute: dict[str, Any],
) -> bool:
    """Pass a card-network dispute to its mission; return False when it must be redelivered.

    A Dispute carries no metadata of ours, so the mission is found through the disputed
    PaymentIntent. A mission whose workflow has ended gets the loss booked directly.
    """
    dispute_id = str(dispute.get("id", ""))
    intent_id = str(dispute.get("payment_intent") or "")
    amount = int(dispute.get("amount") or 0)
    if not intent_id or amount <= 0:
        log.warning("Stripe event %s: dispute %s names no payment; recorded", event_id, dispute_id)
        return True
    try:
        mission_id = await asyncio.to_thread(payments.mission_of_payment_intent, intent_id)
    except stripe.StripeError as error:
        log.error("Stripe event %s: reading %s failed: %s", event_id, intent_id, error)
        return False
    if mission_id is None:
        log.warning("Stripe event %s: %s belongs to no mission; recorded", event_id, intent_id)
        return True
    event = ChargebackEvent(
        event_id=event_id,
        dispute_id=dispute_id,
        payment_intent_id=intent_id,
        amount_minor=amount,
        reason=str(dispute.get("reason") or ""),
    )
    try:
        await missions.send_chargeback(mission_id, event)
    except MissionNotFound:
        booked = await in_transaction(
            session, record_chargeback_after_end, mission_id, dispute_id, amount
        )
        log.error(
            "mission %s: chargeback %s of %s after the mission ended; loss booked %s, "
            "flagged for ops",
            mission_id,
            dispute_id,
            amount,
            booked,
        )
        return True
    except Unavailable as error:
        log.error("mission %s: passing chargeback %s failed: %s", mission_id, dispute_id, error)
        return False
    log.warning("mission %s: chargeback %s of %s passed on", mission_id, dispute_id, amount)
    return True


async def _update_account(session: Session, event_id: str, account: dict[str, Any]) -> None:
    """Store whether a provider's connected account can receive payouts now."""
    account_id = str(account.get("id", ""))
    enabled = bool(account.get("payouts_enabled"))
    provider_id = await in_transaction(
        session, set_payouts_enabled_for_account, account_id, enabled
    )
    log.info(
        "Stripe event %s: account %s of provider %s, payouts enabled %s",
        event_id,
        account_id,
        provider_id or "-",
        enabled,
    )


def _mission_id(event_object: dict[str, Any]) -> str | None:
    metadata = event_object.get("metadata") or {}
    mission_id = metadata.get("mission_id") if isinstance(metadata, dict) else None
    return mission_id if isinstance(mission_id, str) and mission_id else None


def _charge_id(latest_charge: object) -> str | None:
    # Stripe sends an id, or the whole charge object when the field was expanded.
    if isinstance(latest_charge, str):
        return latest_charge
    if isinstance(latest_charge, dict) and isinstance(latest_charge.get("id"), str):
        return str(latest_charge["id"])
    return None


def _ack(event_id: str, *, duplicate: bool) -> JSONResponse:
    return JSONResponse(WebhookAck(event_id=event_id, duplicate=duplicate).model_dump())
