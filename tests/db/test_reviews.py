"""Review publication and the provider rating summary it updates."""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from missions.activity_models import PublishReviewsInput
from missions.contracts import MissionState, Review, Role
from missions.db.models import ReviewRow
from missions.db.repositories import (
    get_provider,
    get_provider_row,
    list_reviews,
    project_mission,
    publish_reviews,
    upsert_provider_profile,
)
from missions.db.repositories.providers import RATING_PRIOR_MEAN, RATING_PRIOR_WEIGHT

from .builders import at, make_snapshot, projection


def closed_mission(sessions: sessionmaker[Session], mission_id: str, provider_id: str) -> None:
    snapshot = make_snapshot(
        mission_id, state=MissionState.REVIEWING, provider_id=provider_id, updated_at=at(90)
    )
    with sessions.begin() as session:
        project_mission(session, projection(snapshot, "review_window_opened"))


def client_review(provider_id: str, stars: int) -> Review:
    return Review(
        author_id="client-1",
        author_role=Role.CLIENT,
        subject_id=provider_id,
        stars=stars,
        comment="Travail soigné.",
        submitted_at=at(100),
    )


def provider_review(stars: int) -> Review:
    return Review(
        author_id="prov-1",
        author_role=Role.PROVIDER,
        subject_id="client-1",
        stars=stars,
        comment="Client ponctuel.",
        submitted_at=at(101),
    )


def test_publication_rates_provider_once(db_sessions: sessionmaker[Session]) -> None:
    closed_mission(db_sessions, "m-1", "prov-1")
    data = PublishReviewsInput(
        mission_id="m-1", reviews=[client_review("prov-1", 5), provider_review(3)]
    )
    with db_sessions.begin() as session:
        first = publish_reviews(session, data)
    with db_sessions.begin() as session:
        retried = publish_reviews(session, data)

    assert first.reviews_inserted == 2
    assert first.providers_rated == ["prov-1"]
    assert retried.reviews_inserted == 0
    assert retried.providers_rated == []
    with db_sessions() as session:
        row = get_provider_row(session, "prov-1")
        assert row is not None
        assert row.rating_count == 1
        assert row.rating_sum == 5
        assert row.rating_average == 5.0
        # (5 * 4.0 + 5) / (5 + 1)
        assert row.rating_score == 25 / 6
        # The provider's review of the client updates no rating.
        assert get_provider(session, "client-1") is None
        assert session.scalar(select(func.count()).select_from(ReviewRow)) == 2
        reviews = list_reviews(session, mission_id="m-1")
        assert sorted((r.author_role, r.stars) for r in reviews) == [
            (Role.CLIENT, 5),
            (Role.PROVIDER, 3),
        ]


def test_second_mission_updates_average(db_sessions: sessionmaker[Session]) -> None:
    with db_sessions.begin() as session:
        upsert_provider_profile(session, "prov-1", display_name="Amélie Plomberie")
    closed_mission(db_sessions, "m-1", "prov-1")
    closed_mission(db_sessions, "m-2", "prov-1")
    with db_sessions.begin() as session:
        publish_reviews(
            session, PublishReviewsInput(mission_id="m-1", reviews=[client_review("prov-1", 5)])
        )
    with db_sessions.begin() as session:
        publish_reviews(
            session, PublishReviewsInput(mission_id="m-2", reviews=[client_review("prov-1", 4)])
        )

    with db_sessions() as session:
        profile = get_provider(session, "prov-1")
    assert profile is not None
    assert profile.display_name == "Amélie Plomberie"
    assert profile.rating.count == 2
    assert profile.rating.average == 4.5
    # (5 * 4.0 + 9) / (5 + 2)
    assert profile.rating.score == 29 / 7
    assert profile.rating.score == (RATING_PRIOR_WEIGHT * RATING_PRIOR_MEAN + 9) / (
        RATING_PRIOR_WEIGHT + 2
    )


def test_concurrent_publications_all_counted(db_sessions: sessionmaker[Session]) -> None:
    stars = [5, 4, 3, 5, 2, 4]
    for index in range(len(stars)):
        closed_mission(db_sessions, f"m-{index}", "prov-1")
    barrier = threading.Barrier(len(stars))
    errors: list[BaseException] = []

    def publish(index: int) -> None:
        try:
            barrier.wait()
            data = PublishReviewsInput(
                mission_id=f"m-{index}", reviews=[client_review("prov-1", stars[index])]
            )
            with db_sessions.begin() as session:
                publish_reviews(session, data)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=publish, args=(index,)) for index in range(len(stars))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with db_sessions() as session:
        profile = get_provider(session, "prov-1")
    assert profile is not None
    assert profile.rating.count == 6
    assert profile.rating.average == 23 / 6
    assert profile.rating.score == (5 * 4.0 + 23) / 11
