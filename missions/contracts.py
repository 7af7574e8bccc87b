"""Pydantic models exchanged between the workflow, its activities, the client and the API.

Every workflow input, update, signal, query and activity has one model here, and the
workflow's data converter is `pydantic_data_converter`, so these types cross Temporal intact.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from missions.money import (
    MAX_PRICE_MINOR,
    MIN_PRICE_MINOR,
    SUPPORTED_CURRENCIES,
    CancellationPolicy,
    FeePolicy,
    Quote,
)
from missions.text import Line, Paragraph

MAX_LIVE_APPLICATIONS = 50


class MissionState(StrEnum):
    OPEN = "open"
    AWAITING_PAYMENT = "awaiting_payment"
    FUNDED = "funded"
    COMPLETION_REQUESTED = "completion_requested"
    DISPUTED = "disputed"
    RELEASED = "released"
    REVIEWING = "reviewing"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


TERMINAL_STATES = frozenset({MissionState.CLOSED, MissionState.CANCELLED, MissionState.EXPIRED})


class Role(StrEnum):
    CLIENT = "client"
    PROVIDER = "provider"
    OPS = "ops"
    SERVICE = "service"


class Actor(BaseModel):
    """The user on whose behalf a command is sent, as named by a verified token."""

    model_config = ConfigDict(frozen=True)

    user_id: str = Field(min_length=1, max_length=128)
    role: Role


class Durations(BaseModel):
    """Deadlines and reminder offsets of one mission, fixed when the mission starts."""

    model_config = ConfigDict(frozen=True)

    selection_deadline: timedelta = timedelta(days=14)
    payment_deadline: timedelta = timedelta(hours=24)
    confirmation_window: timedelta = timedelta(days=7)
    review_window: timedelta = timedelta(days=14)
    confirmation_reminder_before: timedelta = timedelta(days=1)
    review_reminder_before: timedelta = timedelta(days=1)
    payment_poll_interval: timedelta = timedelta(hours=1)
    payout_retry_interval: timedelta = timedelta(hours=1)


class MissionRequest(BaseModel):
    """The request a client posts and providers see."""

    title: Line = Field(min_length=3, max_length=120)
    description: Paragraph = Field(min_length=1, max_length=4000)
    category: Line = Field(min_length=1, max_length=40)
    city: Line = Field(min_length=1, max_length=80)
    postcode: str = Field(pattern=r"^[0-9]{5}$")
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    # Aware, so the late-cancellation cutoff does not depend on a server's time zone.
    scheduled_at: AwareDatetime | None = None

    @field_validator("currency")
    @classmethod
    def _supported_currency(cls, currency: str) -> str:
        if currency not in SUPPORTED_CURRENCIES:
            supported = ", ".join(sorted(SUPPORTED_CURRENCIES))
            raise ValueError(f"currency {currency!r} is not supported; use one of: {supported}")
        return currency


class MissionInput(BaseModel):
    """The workflow's input: the request plus the policies in force when it was posted."""

    mission_id: str
    client_id: str
    request: MissionRequest
    durations: Durations = Durations()
    fee_policy: FeePolicy = FeePolicy()
    cancellation_policy: CancellationPolicy = CancellationPolicy()
    locale: str = "fr"


class ApplicationStatus(StrEnum):
    LIVE = "live"
    WITHDRAWN = "withdrawn"
    DECLINED = "declined"
    SELECTED = "selected"


class Application(BaseModel):
    application_id: str
    provider_id: str
    price_minor: int
    message: str
    proposed_date: date | None = None
    status: ApplicationStatus = ApplicationStatus.LIVE
    created_at: datetime


class Deadlines(BaseModel):
    """Absolute times of the mission's timers; None where the timer is not running."""

    selection: datetime | None = None
    payment: datetime | None = None
    next_payment_poll: datetime | None = None
    confirmation: datetime | None = None
    confirmation_reminder: datetime | None = None
    review: datetime | None = None
    review_reminder: datetime | None = None
    payout_retry: datetime | None = None


class Money(BaseModel):
    """Money moved so far for one mission, in minor units of its currency."""

    currency: str = "EUR"
    captured_minor: int = 0
    refunded_minor: int = 0
    provider_payout_minor: int = 0
    platform_revenue_minor: int = 0
    # Taken back by the card network through a chargeback.
    charged_back_minor: int = 0
    declined_attempts: int = 0


class Payment(BaseModel):
    payment_intent_id: str
    client_secret: str
    amount_minor: int
    currency: str
    charge_id: str | None = None
    status: str = "requires_payment_method"


class IncidentKind(StrEnum):
    DELAY = "delay"
    DAMAGE = "damage"
    MISSING_PART = "missing_part"
    OTHER = "other"


class Incident(BaseModel):
    reported_by: Actor
    kind: IncidentKind
    text: str
    reported_at: datetime


class Dispute(BaseModel):
    opened_by: Actor
    reason: str
    opened_at: datetime
    refund_minor: int | None = None
    release_minor: int | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None


class Review(BaseModel):
    author_id: str
    author_role: Role
    subject_id: str
    stars: int = Field(ge=1, le=5)
    comment: str
    submitted_at: datetime


class MissionSnapshot(BaseModel):
    """The query result: the mission's whole current state. Unpublished reviews stay out."""

    mission_id: str
    client_id: str
    request: MissionRequest
    state: MissionState
    applications: list[Application] = []
    selected_application_id: str | None = None
    provider_id: str | None = None
    quote: Quote | None = None
    payment: Payment | None = None
    deadlines: Deadlines = Deadlines()
    money: Money = Money()
    incidents: list[Incident] = []
    dispute: Dispute | None = None
    reviews_submitted_by: list[Role] = []
    published_reviews: list[Review] = []
    auto_released: bool = False
    payment_lapsed: bool = False
    needs_attention: bool = False
    payout_pending: bool = False
    cancelled_by: Role | None = None
    created_at: datetime
    updated_at: datetime


# Updates: one input model each. Every input names the acting party.


class ApplyInput(BaseModel):
    actor: Actor
    price_minor: int = Field(ge=MIN_PRICE_MINOR, le=MAX_PRICE_MINOR)
    message: Paragraph = Field(min_length=1, max_length=2000)
    proposed_date: date | None = None


class ApplicationRef(BaseModel):
    actor: Actor
    application_id: str


class ConfirmPaymentInput(BaseModel):
    actor: Actor
    payment_method: str = Field(min_length=1, max_length=255)


class ActorInput(BaseModel):
    """Input of the commands that carry nothing but the acting party."""

    actor: Actor


class DisputeInput(BaseModel):
    actor: Actor
    reason: Paragraph = Field(min_length=1, max_length=2000)


class ResolveDisputeInput(BaseModel):
    actor: Actor
    refund_minor: int = Field(ge=0)
    release_minor: int = Field(ge=0)
    note: Paragraph = Field(default="", max_length=2000)


class IncidentInput(BaseModel):
    actor: Actor
    kind: IncidentKind
    text: Paragraph = Field(min_length=1, max_length=2000)


class CancelInput(BaseModel):
    actor: Actor
    reason: Paragraph = Field(default="", max_length=2000)


class ReviewInput(BaseModel):
    actor: Actor
    stars: int = Field(ge=1, le=5)
    comment: Paragraph = Field(default="", max_length=2000)


class DeadlineKind(StrEnum):
    """The deadlines ops may move, each running in one state only."""

    SELECTION = "selection"
    PAYMENT = "payment"
    CONFIRMATION = "confirmation"
    REVIEW = "review"


class MoveDeadlineInput(BaseModel):
    """Ops move one running deadline to an absolute time; its reminder follows."""

    actor: Actor
    deadline: DeadlineKind
    at: AwareDatetime
    reason: Paragraph = Field(default="", max_length=2000)


class ApplyResult(BaseModel):
    application_id: str
    snapshot: MissionSnapshot


# Signals


class PaymentEventKind(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class PaymentEvent(BaseModel):
    """A PaymentIntent outcome learned from a verified Stripe webhook."""

    event_id: str
    kind: PaymentEventKind
    payment_intent_id: str
    charge_id: str | None = None
    amount_minor: int = 0
    decline_code: str | None = None


class ChargebackEvent(BaseModel):
    """A card-network dispute of the mission's charge, from Stripe's `charge.dispute.created`."""

    event_id: str
    dispute_id: str
    payment_intent_id: str
    amount_minor: int = Field(gt=0)
    reason: str = ""
