"""Provider profiles, payout accounts and rating summaries."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from missions.db.models import ProviderRow
from missions.db.repositories._dialect import conflict_insert
from missions.errors import InvalidInput
from missions.text import Line, Paragraph

# Ranking uses a Bayesian average: every provider counts as if they also had
# RATING_PRIOR_WEIGHT reviews of RATING_PRIOR_MEAN stars, so that one 5-star review does not
# outrank dozens of 4.8-star ones.
RATING_PRIOR_MEAN = 4.0
RATING_PRIOR_WEIGHT = 5


class RatingSummary(BaseModel):
    count: int
    # None while the provider has no rating.
    average: float | None
    # The smoothed average used for ranking, computed by `rating_score`.
    score: float


class ProviderProfile(BaseModel):
    """The public part of a provider: no e-mail address and no payout account."""

    provider_id: str
    display_name: str
    presentation: str
    photo_url: str | None
    rating: RatingSummary


class ProviderProfileUpdate(BaseModel):
    """The fields a provider writes about themselves."""

    display_name: Line = Field(min_length=1, max_length=120)
    presentation: Paragraph = Field(default="", max_length=4000)
    photo_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://\S+$")
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")


def rating_score(count: int, total_stars: int) -> float:
    """Return the Bayesian average `(C*m + total_stars) / (C + count)` used for ranking."""
    return (RATING_PRIOR_WEIGHT * RATING_PRIOR_MEAN + total_stars) / (RATING_PRIOR_WEIGHT + count)


def upsert_provider_profile(
    session: Session,
    provider_id: str,
    *,
    display_name: str,
    presentation: str = "",
    photo_url: str | None = None,
    email: str | None = None,
    now: datetime | None = None,
) -> ProviderProfile:
    """Create the provider or replace their profile fields, and return the public profile.

    The payout account and the rating summary are kept. Raises InvalidInput if a field
    breaks the limits of `ProviderProfileUpdate`.
    """
    try:
        profile = ProviderProfileUpdate(
            display_name=display_name, presentation=presentation, photo_url=photo_url, email=email
        )
    except ValidationError as error:
        raise InvalidInput(
            f"invalid profile for provider {provider_id}: {error}", provider_id=provider_id
        ) from error

    timestamp = now or datetime.now(UTC)
    fields = profile.model_dump()
    insert = conflict_insert(session, ProviderRow).values(
        {"id": provider_id, **_new_provider_defaults(timestamp), **fields}
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[ProviderRow.id], set_={**fields, "updated_at": timestamp}
        )
    )
    row = get_provider_row(session, provider_id)
    if row is None:
        raise RuntimeError(f"provider {provider_id} is missing right after its upsert")
    return _public_profile(row)


def set_provider_stripe_account(
    session: Session,
    provider_id: str,
    account_id: str,
    payouts_enabled: bool,
    *,
    now: datetime | None = None,
) -> None:
    """Store the provider's Stripe connected account, creating the provider if needed.

    A provider may finish Stripe onboarding before writing a profile, so a missing provider
    gets a row with an empty display name.
    """
    timestamp = now or datetime.now(UTC)
    account = {"stripe_account_id": account_id, "payouts_enabled": payouts_enabled}
    insert = conflict_insert(session, ProviderRow).values(
        {"id": provider_id, **_new_provider_defaults(timestamp), **account}
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[ProviderRow.id], set_={**account, "updated_at": timestamp}
        )
    )


def get_provider_row(session: Session, provider_id: str) -> ProviderRow | None:
    """Return the provider's row, including private fields, reloaded from the database."""
    statement = (
        select(ProviderRow)
        .where(ProviderRow.id == provider_id)
        .execution_options(populate_existing=True)
    )
    return session.scalar(statement)


def get_provider(session: Session, provider_id: str) -> ProviderProfile | None:
    row = get_provider_row(session, provider_id)
    return _public_profile(row) if row is not None else None


def get_rating_summaries(session: Session, provider_ids: list[str]) -> dict[str, RatingSummary]:
    """Return the rating summary of each known provider among `provider_ids`, in one query."""
    if not provider_ids:
        return {}
    rows = session.scalars(select(ProviderRow).where(ProviderRow.id.in_(set(provider_ids))))
    return {row.id: _public_profile(row).rating for row in rows}


def set_payouts_enabled_for_account(
    session: Session, account_id: str, payouts_enabled: bool, *, now: datetime | None = None
) -> str | None:
    """Store whether the connected account can receive payouts; return its provider's id.

    Returns None when no provider has that account.
    """
    row = session.scalar(select(ProviderRow).where(ProviderRow.stripe_account_id == account_id))
    if row is None:
        return None
    row.payouts_enabled = payouts_enabled
    row.updated_at = now or datetime.now(UTC)
    return row.id


def get_provider_payout_account(session: Session, provider_id: str) -> tuple[str, bool] | None:
    """Return the provider's Stripe account id and whether payouts are enabled on it.

    Returns None if the provider is unknown or has no Stripe account yet.
    """
    row = session.execute(
        select(ProviderRow.stripe_account_id, ProviderRow.payouts_enabled).where(
            ProviderRow.id == provider_id
        )
    ).first()
    if row is None or row.stripe_account_id is None:
        return None
    return row.stripe_account_id, row.payouts_enabled


def add_provider_rating(
    session: Session, provider_id: str, stars: int, *, now: datetime | None = None
) -> RatingSummary:
    """Add one rating to the provider's summary, creating the provider if needed.

    Each call counts the rating once, so callers must call it only for a review they have
    just inserted. The increment happens in SQL and keeps the row locked until the
    transaction ends, so concurrent ratings of one provider are all counted.
    """
    timestamp = now or datetime.now(UTC)
    session.execute(
        conflict_insert(session, ProviderRow)
        .values({"id": provider_id, **_new_provider_defaults(timestamp)})
        .on_conflict_do_nothing(index_elements=[ProviderRow.id])
    )
    count, total_stars = session.execute(
        update(ProviderRow)
        .where(ProviderRow.id == provider_id)
        .values(
            rating_count=ProviderRow.rating_count + 1,
            rating_sum=ProviderRow.rating_sum + stars,
            updated_at=timestamp,
        )
        .returning(ProviderRow.rating_count, ProviderRow.rating_sum)
    ).one()
    summary = RatingSummary(
        count=count, average=total_stars / count, score=rating_score(count, total_stars)
    )
    session.execute(
        update(ProviderRow)
        .where(ProviderRow.id == provider_id)
        .values(rating_average=summary.average, rating_score=summary.score)
    )
    return summary


def _new_provider_defaults(timestamp: datetime) -> dict[str, object]:
    return {
        "display_name": "",
        "presentation": "",
        "photo_url": None,
        "email": None,
        "stripe_account_id": None,
        "payouts_enabled": False,
        "rating_count": 0,
        "rating_sum": 0,
        "rating_average": None,
        "rating_score": rating_score(0, 0),
        "created_at": timestamp,
        "updated_at": timestamp,
    }


def _public_profile(row: ProviderRow) -> ProviderProfile:
    return ProviderProfile(
        provider_id=row.id,
        display_name=row.display_name,
        presentation=row.presentation,
        photo_url=row.photo_url,
        rating=RatingSummary(
            count=row.rating_count, average=row.rating_average, score=row.rating_score
        ),
    )
