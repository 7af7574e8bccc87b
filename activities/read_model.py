"""Activities that write the read model and the notification outbox."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from missions.activity_models import ProjectionInput, PublishReviewsInput
from missions.db import repositories

# Declared with `no_thread_cancel_exception` for the reason given in activities/payments.py:
# an exception raised into the thread could leave the logging lock taken and stop the worker.
# A write that runs on after its timeout is harmless, because every write here is idempotent.


class ReadModelActivities:
    """Read-model activities sharing one session factory.

    The methods are synchronous and block on the database, so the worker must run them in
    its activity executor (a thread pool).
    """

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    @activity.defn(no_thread_cancel_exception=True)
    def project_mission(self, data: ProjectionInput) -> None:
        """Store the mission's snapshot and queue its notifications in one transaction."""
        snapshot = data.snapshot
        with self._session_factory.begin() as session:
            result = repositories.project_mission(session, data)
        if result.mission_updated:
            activity.logger.info(
                "mission %s: projected event %s, state %s, %s notifications queued",
                snapshot.mission_id,
                data.event,
                snapshot.state.value,
                result.notifications_queued,
            )
        else:
            activity.logger.info(
                "mission %s: kept the stored snapshot, which is newer than event %s "
                "(updated_at %s), %s notifications queued",
                snapshot.mission_id,
                data.event,
                snapshot.updated_at.isoformat(),
                result.notifications_queued,
            )

    @activity.defn(no_thread_cancel_exception=True)
    def publish_reviews(self, data: PublishReviewsInput) -> None:
        """Publish the mission's reviews and update the rated provider in one transaction."""
        with self._session_factory.begin() as session:
            result = repositories.publish_reviews(session, data)
        activity.logger.info(
            "mission %s: published %s of %s reviews, rated providers %s",
            data.mission_id,
            result.reviews_inserted,
            len(data.reviews),
            result.providers_rated,
        )
