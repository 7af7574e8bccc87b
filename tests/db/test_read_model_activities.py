"""The read-model activities, run through Temporal's activity test environment."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.read_model import ReadModelActivities
from missions.activity_models import PublishReviewsInput
from missions.contracts import MissionState, Review, Role
from missions.db.repositories import get_mission_row, get_provider, list_notifications

from .builders import at, make_snapshot, posted_notification, projection


def test_activities_project_and_publish(
    db_sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    activities = ReadModelActivities(db_sessions)
    environment = ActivityEnvironment()
    snapshot = make_snapshot(state=MissionState.REVIEWING, provider_id="prov-1", updated_at=at(90))
    review = Review(
        author_id="client-1",
        author_role=Role.CLIENT,
        subject_id="prov-1",
        stars=4,
        comment="Très bien.",
        submitted_at=at(95),
    )

    with caplog.at_level(logging.INFO):
        environment.run(
            activities.project_mission,
            projection(snapshot, "review_window_opened", [posted_notification()]),
        )
        environment.run(
            activities.publish_reviews, PublishReviewsInput(mission_id="m-1", reviews=[review])
        )

    with db_sessions() as session:
        row = get_mission_row(session, "m-1")
        assert row is not None
        assert row.state == "reviewing"
        assert [n.key for n in list_notifications(session, mission_id="m-1")] == ["posted"]
        profile = get_provider(session, "prov-1")
        assert profile is not None
        assert profile.rating.count == 1
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("mission m-1: projected event review_window_opened") for m in messages)
    assert any(m.startswith("mission m-1: published 1 of 1 reviews") for m in messages)
