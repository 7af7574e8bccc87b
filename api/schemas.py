"""Request bodies and response models of the HTTP API.

Bodies carry only what the caller chooses: the acting user always comes from the bearer
token, never from the body. Mission responses are built per caller by `MissionView.for_actor`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from missions.contracts import (
    Actor,
    Application,
    Durations,
    IncidentKind,
    MissionRequest,
    MissionSnapshot,
    Payment,
    Role,
)
from missions.db.repositories.messages import MAX_MESSAGE_LENGTH
from missions.db.repositories.providers import ProviderProfile, RatingSummary
from missions.money import MAX_PRICE_MINOR, MIN_PRICE_MINOR
from missions.text import Paragraph

# Errors


class ErrorBody(BaseModel):
    """The body of every error response."""

    code: str = Field(description="Stable machine-readable error code, e.g. `invalid_state`.")
    message: str = Field(description="What failed, in English, for developers and logs.")
    details: dict[str, Any] = Field(
        default_factory=dict, description="Facts about the error, e.g. `decline_code`."
    )


# Missions


class DurationsSeconds(BaseModel):
    """Deadline overrides in seconds. An omitted field keeps the configured duration."""

    # A misspelled name would otherwise be ignored and leave a 14-day deadline in place.
    model_config = ConfigDict(extra="forbid")

    selection_deadline: float | None = Field(default=None, gt=0)
    payment_deadline: float | None = Field(default=None, gt=0)
    confirmation_window: float | None = Field(default=None, gt=0)
    review_window: float | None = Field(default=None, gt=0)
    confirmation_reminder_before: float | None = Field(default=None, gt=0)
    review_reminder_before: float | None = Field(default=None, gt=0)
    payment_poll_interval: float | None = Field(default=None, gt=0)
    payout_retry_interval: float | None = Field(default=None, gt=0)

    def apply_to(self, base: Durations) -> Durations:
        """Return `base` with the fields given here replaced."""
        overrides = {
            name: timedelta(seconds=seconds)
            for name, seconds in self.model_dump(exclude_none=True).items()
        }
        return base.model_copy(update=overrides)


class CreateMissionBody(MissionRequest):
    durations: DurationsSeconds | None = Field(
        default=None,
        description=(
            "Shorter deadlines for demos and tests; rejected with 403 unless the server "
            "allows duration overrides."
        ),
    )

    locale: Literal["fr", "en"] = Field(
        default="fr", description="Language of the notifications sent to the mission's parties."
    )

    def to_request(self) -> MissionRequest:
        return MissionRequest.model_validate(self.model_dump(exclude={"durations", "locale"}))


class PaymentView(Payment):
    client_secret: str | None = Field(  # type: ignore[assignment]
        default=None,
        description="Only the mission's client receives it, to confirm the payment.",
    )


class ApplicationView(Application):
    provider_rating: RatingSummary | None = Field(
        default=None,
        description="The applicant's rating summary, in the mission's view read by its client.",
    )


class MissionView(MissionSnapshot):
    """A mission as one caller may see it.

    The PaymentIntent's client secret is shown to the mission's client only. A provider
    sees only their own application, and the price, payment and winner only if selected,
    so competing bids stay private.
    """

    payment: PaymentView | None = None
    applications: list[ApplicationView] = Field(default_factory=list)  # type: ignore[assignment]

    @classmethod
    def for_actor(cls, snapshot: MissionSnapshot, actor: Actor) -> MissionView:
        data = snapshot.model_dump()
        is_client = actor.role is Role.CLIENT and actor.user_id == snapshot.client_id
        if snapshot.payment is not None and not is_client:
            data["payment"]["client_secret"] = None
        if actor.role is Role.PROVIDER:
            data["applications"] = [
                application.model_dump()
                for application in snapshot.applications
                if application.provider_id == actor.user_id
            ]
            if snapshot.provider_id != actor.user_id:
                # The agreed price and who won are the selected provider's business only.
                data.update(quote=None, payment=None, provider_id=None)
        return cls.model_validate(data)

    def with_ratings(self, ratings: dict[str, RatingSummary]) -> MissionView:
        """Return the view with each applicant's rating summary filled in."""
        applications = [
            application.model_copy(update={"provider_rating": ratings.get(application.provider_id)})
            for application in self.applications
        ]
        return self.model_copy(update={"applications": applications})


# Commands


class ApplyBody(BaseModel):
    price_minor: StrictInt = Field(
        ge=MIN_PRICE_MINOR, le=MAX_PRICE_MINOR, description="Price in minor units, tax included."
    )
    message: Paragraph = Field(min_length=1, max_length=2000)
    proposed_date: date | None = None


class ApplyResponse(BaseModel):
    application_id: str
    mission: MissionView


class SelectionBody(BaseModel):
    application_id: str = Field(min_length=1, max_length=128)


class PaymentConfirmationBody(BaseModel):
    payment_method: str = Field(
        min_length=1, max_length=255, description="A Stripe PaymentMethod id, e.g. `pm_card_visa`."
    )


class DisputeBody(BaseModel):
    reason: Paragraph = Field(min_length=1, max_length=2000)


class DisputeResolutionBody(BaseModel):
    refund_minor: StrictInt = Field(ge=0, description="Amount refunded to the client, minor units.")
    release_minor: StrictInt = Field(ge=0, description="Amount paid to the provider, minor units.")
    note: Paragraph = Field(default="", max_length=2000)


class IncidentBody(BaseModel):
    kind: IncidentKind
    text: Paragraph = Field(min_length=1, max_length=2000)


class CancellationBody(BaseModel):
    reason: Paragraph = Field(default="", max_length=2000)


class ReviewBody(BaseModel):
    stars: StrictInt = Field(ge=1, le=5)
    comment: Paragraph = Field(default="", max_length=2000)


# Messages


class MessageBody(BaseModel):
    text: Paragraph = Field(min_length=1, max_length=MAX_MESSAGE_LENGTH)


# Providers


class ProviderAccountView(ProviderProfile):
    """A provider's profile with its contact and payout account, for the provider and ops."""

    email: str | None = None
    stripe_account_id: str | None = None
    payouts_enabled: bool = Field(
        default=False, description="Whether Stripe lets the account receive payouts yet."
    )


# Webhooks and health


class WebhookAck(BaseModel):
    event_id: str
    duplicate: bool = Field(description="True when this event id was already processed.")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str] = Field(description="`ok` or the failure, per dependency.")
