"""Inputs and results of the activities, shared by the workflow and the activity classes."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from missions.contracts import MissionSnapshot, Review, Role


class PaymentIntentInfo(BaseModel):
    payment_intent_id: str
    client_secret: str
    status: str
    amount_minor: int
    currency: str
    charge_id: str | None = None


class CreatePaymentIntentInput(BaseModel):
    mission_id: str
    client_id: str
    amount_minor: int
    currency: str
    description: str
    # Counts selections, so a mission reopened and selected again gets a new PaymentIntent
    # while a retried activity of the same selection replays the first one.
    selection_number: int


class ConfirmPaymentIntentInput(BaseModel):
    mission_id: str
    payment_intent_id: str
    payment_method: str
    # Counts the client's payment attempts, so each attempt has its own idempotency key.
    attempt_number: int


class PaymentIntentRef(BaseModel):
    mission_id: str
    payment_intent_id: str


class RefundInput(BaseModel):
    mission_id: str
    payment_intent_id: str
    amount_minor: int
    currency: str
    purpose: str


class RefundInfo(BaseModel):
    refund_id: str
    amount_minor: int
    status: str


class TransferInput(BaseModel):
    mission_id: str
    provider_id: str
    amount_minor: int
    currency: str
    charge_id: str
    purpose: str


class TransferInfo(BaseModel):
    transfer_id: str
    amount_minor: int
    destination: str


class NotificationRequest(BaseModel):
    """One outbox row to write: the template is rendered in the recipient's locale."""

    # Unique per mission, so a retried activity writes each notification once.
    key: str
    recipient_id: str
    recipient_role: Role
    template: str
    params: dict[str, str | int] = {}
    locale: str = "fr"


class LedgerAccount(StrEnum):
    """The accounts of one mission's double-entry ledger."""

    # The client's card: credited by a capture, debited by a refund.
    CLIENT_CARD = "client_card"
    # Held on the platform's Stripe balance for the mission.
    ESCROW = "escrow"
    # Owed to the provider and not transferred yet.
    PROVIDER_PAYABLE = "provider_payable"
    # Transferred to the provider's connected account.
    PROVIDER = "provider"
    # Kept by the platform: the client fee, the commission and what a dispute leaves.
    PLATFORM_REVENUE = "platform_revenue"


class LedgerEntry(BaseModel):
    """One balanced movement: `amount_minor` leaves `credit` and enters `debit`."""

    # Unique per mission, so a retried projection writes each entry once.
    key: str
    kind: str
    debit: LedgerAccount
    credit: LedgerAccount
    amount_minor: int = Field(gt=0)
    currency: str
    stripe_object_id: str | None = None


class ProjectionInput(BaseModel):
    snapshot: MissionSnapshot
    event: str
    notifications: list[NotificationRequest] = []
    ledger_entries: list[LedgerEntry] = []


class PublishReviewsInput(BaseModel):
    mission_id: str
    reviews: list[Review]


# `ApplicationError.type` values that activities raise and the workflow branches on. The
# retry policies list them as non-retryable.
CARD_DECLINED = "card_declined"
PROVIDER_NOT_PAYABLE = "provider_not_payable"
STRIPE_REJECTED = "stripe_rejected"
STRIPE_IDEMPOTENCY_ERROR = "stripe_idempotency_error"
INVALID_PAYMENT_METHOD = "invalid_payment_method"
