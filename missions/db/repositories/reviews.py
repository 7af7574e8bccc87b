"""Publication of mission reviews and the provider ratings they feed."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from missions.activity_models import PublishReviewsInput
from missions.contracts import Role
from missions.db.models import ReviewRow
from missions.db.repositories._dialect import conflict_insert
from missions.db.repositories.providers import add_provider_rating


class PublishedReview(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    mission_id: str
    author_id: str
    author_role: Role
    subject_id: str
    stars: int
    comment: str
    submitted_at: datetime
    published_at: datetime


class PublishResult(BaseModel):
    reviews_inserted: int
    # Providers whose rating summary this call changed, in review order.
    providers_rated: list[str]


def publish_reviews(
    session: Session, data: PublishReviewsInput, *, now: datetime | None = None
) -> PublishResult:
    """Insert the mission's reviews and add each new client review to the provider's rating.

    A mission has at most one review per author role, so a review already stored for that
    role is skipped and does not count again. That makes a retried call change nothing.
    """
    published_at = now or datetime.now(UTC)
    inserted = 0
    providers_rated: list[str] = []
    for review in data.reviews:
        statement = (
            conflict_insert(session, ReviewRow)
            .values(
                mission_id=data.mission_id,
                author_id=review.author_id,
                author_role=review.author_role.value,
                subject_id=review.subject_id,
                stars=review.stars,
                comment=review.comment,
                submitted_at=review.submitted_at,
                published_at=published_at,
            )
            .on_conflict_do_nothing(index_elements=[ReviewRow.mission_id, ReviewRow.author_role])
            .returning(ReviewRow.id)
        )
        if session.execute(statement).first() is None:
            continue
        inserted += 1
        # A client's review rates the provider. A provider's review of the client is
        # published but feeds no rating.
        if review.author_role is Role.CLIENT:
            add_provider_rating(session, review.subject_id, review.stars, now=published_at)
            providers_rated.append(review.subject_id)
    return PublishResult(reviews_inserted=inserted, providers_rated=providers_rated)


def list_reviews(
    session: Session, *, mission_id: str | None = None, subject_id: str | None = None
) -> list[PublishedReview]:
    """Return the matching published reviews, newest first."""
    statement = select(ReviewRow).order_by(ReviewRow.published_at.desc(), ReviewRow.id.desc())
    if mission_id is not None:
        statement = statement.where(ReviewRow.mission_id == mission_id)
    if subject_id is not None:
        statement = statement.where(ReviewRow.subject_id == subject_id)
    return [PublishedReview.model_validate(row) for row in session.scalars(statement)]
