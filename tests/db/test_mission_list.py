"""Filters and cursor pagination of the mission list."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from missions.contracts import MissionState
from missions.db.repositories import list_missions, project_mission
from missions.errors import InvalidInput

from .builders import at, make_application, make_snapshot, projection


@pytest.fixture
def listed_sessions(db_sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Seven missions; m-3 and m-4 share a creation time, so the id breaks the tie."""
    snapshots = [
        make_snapshot("m-1", created_at=at(1), category="plomberie"),
        make_snapshot("m-2", created_at=at(2), category="jardinage", client_id="client-2"),
        make_snapshot(
            "m-3",
            created_at=at(3),
            state=MissionState.FUNDED,
            provider_id="prov-1",
            applications=[make_application("a-3", "prov-1")],
        ),
        make_snapshot(
            "m-4",
            created_at=at(3),
            category="jardinage",
            applications=[make_application("a-4", "prov-1"), make_application("a-5", "prov-2")],
        ),
        make_snapshot("m-5", created_at=at(5), state=MissionState.CANCELLED),
        make_snapshot(
            "m-6",
            created_at=at(6),
            state=MissionState.FUNDED,
            provider_id="prov-2",
            client_id="client-2",
        ),
        make_snapshot("m-7", created_at=at(7), applications=[make_application("a-7", "prov-2")]),
    ]
    with db_sessions.begin() as session:
        for snapshot in snapshots:
            project_mission(session, projection(snapshot))
    return db_sessions


def all_pages(session: Session, limit: int, **filters: object) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = list_missions(session, limit=limit, cursor=cursor, **filters)  # type: ignore[arg-type]
        pages.append([item.mission_id for item in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_pages_cover_all_newest_first(listed_sessions: sessionmaker[Session]) -> None:
    with listed_sessions() as session:
        pages = all_pages(session, limit=2)
    assert pages == [["m-7", "m-6"], ["m-5", "m-4"], ["m-3", "m-2"], ["m-1"]]


def test_exact_last_page_has_no_cursor(listed_sessions: sessionmaker[Session]) -> None:
    with listed_sessions() as session:
        first = list_missions(session, limit=7)
    assert len(first.items) == 7
    assert first.next_cursor is None


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"state": MissionState.FUNDED}, ["m-6", "m-3"]),
        ({"category": "jardinage"}, ["m-4", "m-2"]),
        ({"client_id": "client-2"}, ["m-6", "m-2"]),
        ({"provider_id": "prov-1"}, ["m-3"]),
        ({"applicant_id": "prov-1"}, ["m-4", "m-3"]),
        ({"applicant_id": "prov-2"}, ["m-7", "m-4"]),
        ({"state": MissionState.OPEN, "applicant_id": "prov-2"}, ["m-7", "m-4"]),
        ({"category": "jardinage", "client_id": "client-1"}, ["m-4"]),
        ({"applicant_id": "prov-9"}, []),
        ({"open_or_applicant_id": "prov-1"}, ["m-7", "m-4", "m-3", "m-2", "m-1"]),
        ({"open_or_applicant_id": "prov-9"}, ["m-7", "m-4", "m-2", "m-1"]),
    ],
)
def test_filters(
    listed_sessions: sessionmaker[Session], filters: dict[str, object], expected: list[str]
) -> None:
    with listed_sessions() as session:
        pages = all_pages(session, limit=1, **filters)
    assert [mission_id for page in pages for mission_id in page] == expected


def test_summary_fields(listed_sessions: sessionmaker[Session]) -> None:
    with listed_sessions() as session:
        [summary] = list_missions(session, provider_id="prov-2").items
    assert summary.mission_id == "m-6"
    assert summary.state is MissionState.FUNDED
    assert summary.client_id == "client-2"
    assert summary.city == "Lyon"
    assert summary.created_at == at(6)
    assert summary.price_minor is None


@pytest.mark.parametrize("cursor", ["not base64 at all!", "bm90IGpzb24", "WzEsMiwzXQ", ""])
def test_invalid_cursor_rejected(listed_sessions: sessionmaker[Session], cursor: str) -> None:
    with listed_sessions() as session, pytest.raises(InvalidInput, match="invalid cursor"):
        list_missions(session, cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_limit_out_of_range_rejected(db_sessions: sessionmaker[Session], limit: int) -> None:
    with db_sessions() as session, pytest.raises(InvalidInput, match="limit must be between"):
        list_missions(session, limit=limit)
