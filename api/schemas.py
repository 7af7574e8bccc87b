"""Request bodies and response models of the HTTP API.

Bodies carry only what the caller chooses: the acting user always comes from the bearer
token, never from the body. Mission responses are built per caller by `MissionView.for_actor`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, field_validator

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
from missions.db.repositories.providers import (
    ProviderProfile,
    ProviderProfileUpdate,
    RatingSummary,
)
from missions.money import MAX_PRICE_MINOR, MIN_PRICE_MINOR
from missions.text import Line, Paragraph

# Dates further ahead than this are typing mistakes, not plans.
MAX_DAYS_AHEAD = 730
# A refund or release never exceeds the client's total, which is at most twice the price
# because the client fee is at most 100 %.
MAX_AMOUNT_MINOR = 2 * MAX_PRICE_MINOR
# The maximum deadline override, in seconds: one year.
MAX_DURATION_SECONDS = 366 * 24 * 3600


class RequestBody(BaseModel):
    """Base of every request body: a field the model does not declare is rejected."""

    model_config = ConfigDict(extra="forbid")


# An id that a caller copies from an earlier response, such as an application id.
Identifier = Annotated[Line, Field(min_length=1, max_length=128)]
DurationSeconds = Annotated[float | None, Field(gt=0, le=MAX_DURATION_SECONDS, allow_inf_nan=False)]


# Missions


class DurationsSeconds(RequestBody):
    """Deadline overrides in seconds, at most one year. An omitted field keeps the default."""

    selection_deadline: DurationSeconds = None
    payment_deadline: DurationSeconds = None
    confirmation_window: DurationSeconds = None
    review_window: DurationSeconds = None
    confirmation_reminder_before: DurationSeconds = None
    review_reminder_before: DurationSeconds = None
    payment_poll_interval: DurationSeconds = None
    payout_retry_interval: DurationSeconds = None

    def apply_to(self, base: Durations) -> Durations:
        """Return `base` with the fields given here replaced."""
        overrides = {
            name: timedelta(seconds=seconds)
            for name, seconds in self.model_dump(exclude_none=True).items()
        }
        return base.model_copy(update=overrides)


class CreateMissionBody(MissionRequest):
    model_config = ConfigDict(extra="forbid")

    # Declared again only to document the bound; the past is checked by MissionsClient.
    scheduled_at: AwareDatetime | None = Field(
        default=None,
        description=(
            f"When the work should happen, with a UTC offset; in the future and at most "
            f"{MAX_DAYS_AHEAD} days ahead."
        ),
    )
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

    @field_validator("scheduled_at")
    @classmethod
    def _not_too_far(cls, scheduled_at: datetime | None) -> datetime | None:
        latest = datetime.now(UTC) + timedelta(days=MAX_DAYS_AHEAD)
        if scheduled_at is not None and scheduled_at > latest:
            raise ValueError(
                f"scheduled_at is more than {MAX_DAYS_AHEAD} days ahead; send a date before "
                f"{latest.date().isoformat()}"
            )
        return scheduled_at

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


class ApplyBody(RequestBody):
    price_minor: StrictInt = Field(
        ge=MIN_PRICE_MINOR, le=MAX_PRICE_MINOR, description="Price in minor units, tax included."
    )
    message: Paragraph = Field(min_length=1, max_length=2000)
    proposed_date: date | None = Field(
        default=None,
        description=f"From yesterday (UTC) to {MAX_DAYS_AHEAD} days ahead.",
    )

    @field_validator("proposed_date")
    @classmethod
    def _plausible_date(cls, proposed: date | None) -> date | None:
        if proposed is None:
            return None
        # One day of slack: the provider's today may still be yesterday in UTC.
        today = datetime.now(UTC).date()
        earliest = today - timedelta(days=1)
        latest = today + timedelta(days=MAX_DAYS_AHEAD)
        if not earliest <= proposed <= latest:
            raise ValueError(
                f"proposed_date {proposed.isoformat()} is outside {earliest.isoformat()} to "
                f"{latest.isoformat()}; send a date in that range"
            )
        return proposed


class ApplyResponse(BaseModel):
    application_id: str
    mission: MissionView


class SelectionBody(RequestBody):
    application_id: Identifier


class PaymentConfirmationBody(RequestBody):
    payment_method: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9_]+$",
        description="A Stripe PaymentMethod id, e.g. `pm_card_visa`.",
    )


class DisputeBody(RequestBody):
    reason: Paragraph = Field(min_length=1, max_length=2000)


class DisputeResolutionBody(RequestBody):
    refund_minor: StrictInt = Field(
        ge=0, le=MAX_AMOUNT_MINOR, description="Amount refunded to the client, minor units."
    )
    release_minor: StrictInt = Field(
        ge=0, le=MAX_AMOUNT_MINOR, description="Amount paid to the provider, minor units."
    )
    note: Paragraph = Field(default="", max_length=2000)


class IncidentBody(RequestBody):
    kind: IncidentKind
    text: Paragraph = Field(min_length=1, max_length=2000)


class CancellationBody(RequestBody):
    reason: Paragraph = Field(default="", max_length=2000)


class ReviewBody(RequestBody):
    stars: StrictInt = Field(ge=1, le=5, description="From 1 to 5.")
    comment: Paragraph = Field(default="", max_length=2000)


# Messages


class MessageBody(RequestBody):
    text: Paragraph = Field(min_length=1, max_length=MAX_MESSAGE_LENGTH)


# Providers


class ProviderProfileBody(ProviderProfileUpdate):
    """The fields a provider writes about themselves; no other field is accepted."""

    model_config = ConfigDict(extra="forbid")

    # Declared again to reject control characters, which the shared pattern lets through.
    email: Line | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")


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
