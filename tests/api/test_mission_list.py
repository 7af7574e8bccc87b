"""`GET /missions` over a read model seeded with projected snapshots: who lists what."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from missions.activity_models import ProjectionInput
from missions.contracts import (
    Application,
    ApplicationStatus,
    MissionRequest,
    MissionSnapshot,
    MissionState,
    Role,
)
from missions.db.repositories import project_mission
from missions.money import FeePolicy, quote
from tests.api.helpers import BearerFactory


@dataclass(frozen=True)
class Seeded:
    """Ids of one test's users and missions, unique per test so tests share one database."""

    category: str
    client_1: str
    client_2: str
    provider_1: str
    provider_2: str
    # Mission ids by the short names the tests use.
    missions: dict[str, str]


def snapshot(
    mission_id: str,
    client_id: str,
    category: str,
    state: MissionState,
    created_at: datetime,
    applicants: list[str],
    provider_id: str | None = None,
) -> MissionSnapshot:
    agreed = quote(10_000, "EUR", FeePolicy()) if provider_id is not None else None
    applications = [
        Application(
            application_id=f"app-{uuid.uuid4()}",
            provider_id=applicant,
            price_minor=10_000,
            message="Disponible samedi.",
            status=ApplicationStatus.SELECTED
            if applicant == provider_id
            else ApplicationStatus.LIVE,
            created_at=created_at,
        )
        for applicant in applicants
    ]
    return MissionSnapshot(
        mission_id=mission_id,
        client_id=client_id,
        request=MissionRequest(
            title="Tondre la pelouse",
            description="Jardin de 200 m².",
            category=category,
            city="Nantes",
            postcode="44000",
        ),
        state=state,
        applications=applications,
        provider_id=provider_id,
        quote=agreed,
        created_at=created_at,
        updated_at=created_at,
    )


@pytest.fixture
def seeded(api_sessions: sessionmaker[Session]) -> Seeded:
    run = uuid.uuid4().hex[:8]
    ids = Seeded(
        category=f"garden-{run}",
        client_1=f"client-1-{run}",
        client_2=f"client-2-{run}",
        provider_1=f"provider-1-{run}",
        provider_2=f"provider-2-{run}",
        missions={name: f"mission-{uuid.uuid4()}" for name in ("m1", "m2", "m3", "m4")},
    )
    start = datetime.now(UTC) - timedelta(hours=1)
    snapshots = [
        snapshot(
            ids.missions["m1"],
            ids.client_1,
            ids.category,
            MissionState.OPEN,
            start,
            [ids.provider_1],
        ),
        snapshot(
            ids.missions["m2"],
            ids.client_1,
            ids.category,
            MissionState.OPEN,
            start + timedelta(minutes=1),
            [],
        ),
        snapshot(
            ids.missions["m3"],
            ids.client_2,
            ids.category,
            MissionState.FUNDED,
            start + timedelta(minutes=2),
            [ids.provider_1, ids.provider_2],
            provider_id=ids.provider_2,
        ),
        snapshot(
            ids.missions["m4"],
            ids.client_2,
            ids.category,
            MissionState.CANCELLED,
            start + timedelta(minutes=3),
            [ids.provider_1],
        ),
    ]
    with api_sessions.begin() as session:
        for item in snapshots:
            project_mission(session, ProjectionInput(snapshot=item, event="test_seed"))
    return ids


async def listed(
    http: httpx.AsyncClient, headers: dict[str, str], seeded: Seeded, query: str = ""
) -> list[str]:
    """Return the short names of the seeded missions the caller lists, newest first."""
    response = await http.get(f"/missions?category={seeded.category}{query}", headers=headers)
    assert response.status_code == 200, response.text
    names = {mission_id: name for name, mission_id in seeded.missions.items()}
    return [names[item["mission_id"]] for item in response.json()["items"]]


async def test_client_lists_own_missions(
    http: httpx.AsyncClient, bearer: BearerFactory, seeded: Seeded
) -> None:
    assert await listed(http, bearer(seeded.client_1, Role.CLIENT), seeded) == ["m2", "m1"]
    assert await listed(http, bearer(seeded.client_2, Role.CLIENT), seeded) == ["m4", "m3"]


async def test_provider_lists_open_and_applied(
    http: httpx.AsyncClient, bearer: BearerFactory, seeded: Seeded
) -> None:
    provider_1 = bearer(seeded.provider_1, Role.PROVIDER)
    provider_2 = bearer(seeded.provider_2, Role.PROVIDER)
    newcomer = bearer(f"{seeded.provider_2}-new", Role.PROVIDER)

    assert await listed(http, provider_1, seeded) == ["m4", "m3", "m2", "m1"]
    assert await listed(http, provider_2, seeded) == ["m3", "m2", "m1"]
    assert await listed(http, newcomer, seeded) == ["m2", "m1"]


async def test_provider_lists_all_open_missions(
    http: httpx.AsyncClient, bearer: BearerFactory, seeded: Seeded
) -> None:
    provider_2 = bearer(seeded.provider_2, Role.PROVIDER)

    assert await listed(http, provider_2, seeded, "&state=open") == ["m2", "m1"]


async def test_provider_state_filter_keeps_scope(
    http: httpx.AsyncClient, bearer: BearerFactory, seeded: Seeded
) -> None:
    provider_2 = bearer(seeded.provider_2, Role.PROVIDER)
    other_provider = bearer(f"{seeded.provider_2}-other", Role.PROVIDER)

    assert await listed(http, provider_2, seeded, "&state=funded") == ["m3"]
    assert await listed(http, other_provider, seeded, "&state=funded") == []
    assert await listed(http, other_provider, seeded, "&state=cancelled") == []


async def test_ops_and_service_list_all(
    http: httpx.AsyncClient, bearer: BearerFactory, seeded: Seeded
) -> None:
    everything = ["m4", "m3", "m2", "m1"]

    assert await listed(http, bearer("ops-1", Role.OPS), seeded) == everything
    assert await listed(http, bearer("backend", Role.SERVICE), seeded) == everything


async def test_list_pages_with_cursor(
    http: httpx.AsyncClient, bearer: BearerFactory, seeded: Seeded
) -> None:
    ops = bearer("ops-1", Role.OPS)

    first = await http.get(f"/missions?category={seeded.category}&limit=3", headers=ops)
    cursor = first.json()["next_cursor"]
    second = await http.get(
        f"/missions?category={seeded.category}&limit=3&cursor={cursor}", headers=ops
    )

    assert first.status_code == 200
    assert len(first.json()["items"]) == 3
    assert cursor is not None
    assert second.status_code == 200
    assert [item["mission_id"] for item in second.json()["items"]] == [seeded.missions["m1"]]
    assert second.json()["next_cursor"] is None


async def test_list_item_fields(
    http: httpx.AsyncClient, bearer: BearerFactory, seeded: Seeded
) -> None:
    response = await http.get(
        f"/missions?category={seeded.category}&state=funded", headers=bearer("ops-1", Role.OPS)
    )

    [item] = response.json()["items"]
    assert item["mission_id"] == seeded.missions["m3"]
    assert item["client_id"] == seeded.client_2
    assert item["provider_id"] == seeded.provider_2
    assert item["state"] == "funded"
    assert item["postcode"] == "44000"


async def test_invalid_cursor_is_422(http: httpx.AsyncClient, bearer: BearerFactory) -> None:
    response = await http.get("/missions?cursor=not-a-cursor", headers=bearer("ops-1", Role.OPS))

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
    assert "cursor" in response.json()["message"]


async def test_invalid_state_filter_is_422(http: httpx.AsyncClient, bearer: BearerFactory) -> None:
    response = await http.get("/missions?state=paused", headers=bearer("ops-1", Role.OPS))

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["details"]["errors"]] == ["state"]


async def test_ops_filter_by_party(
    http: httpx.AsyncClient, bearer: BearerFactory, seeded: Seeded
) -> None:
    ops = bearer("ops-1", Role.OPS)
    service = bearer("backend", Role.SERVICE)

    assert await listed(http, ops, seeded, f"&client_id={seeded.client_2}") == ["m4", "m3"]
    assert await listed(http, ops, seeded, f"&provider_id={seeded.provider_2}") == ["m3"]
    assert await listed(http, ops, seeded, f"&applicant_id={seeded.provider_1}") == [
        "m4",
        "m3",
        "m1",
    ]
    assert await listed(http, service, seeded, f"&applicant_id={seeded.provider_2}") == ["m3"]


@pytest.mark.parametrize("role", [Role.CLIENT, Role.PROVIDER])
async def test_party_filter_is_forbidden_to_users(
    http: httpx.AsyncClient, bearer: BearerFactory, seeded: Seeded, role: Role
) -> None:
    response = await http.get(
        f"/missions?client_id={seeded.client_2}&provider_id={seeded.provider_2}",
        headers=bearer(seeded.client_1 if role is Role.CLIENT else seeded.provider_1, role),
    )

    assert response.status_code == 403
    problem = response.json()
    assert problem["type"] == "https://missions.example/problems/forbidden"
    assert problem["details"] == {"filters": ["client_id", "provider_id"]}


async def test_declined_provider_sees_no_winner_or_price(
    http: httpx.AsyncClient, bearer: BearerFactory, seeded: Seeded
) -> None:
    query = f"/missions?category={seeded.category}&state=funded"

    declined = await http.get(query, headers=bearer(seeded.provider_1, Role.PROVIDER))
    winner = await http.get(query, headers=bearer(seeded.provider_2, Role.PROVIDER))
    ops = await http.get(query, headers=bearer("ops-1", Role.OPS))

    [declined_item] = declined.json()["items"]
    [winner_item] = winner.json()["items"]
    [ops_item] = ops.json()["items"]
    assert (declined_item["provider_id"], declined_item["price_minor"]) == (None, None)
    assert declined_item["client_total_minor"] is None
    assert (winner_item["provider_id"], winner_item["price_minor"]) == (seeded.provider_2, 10_000)
    assert winner_item["client_total_minor"] == 10_500
    assert (ops_item["provider_id"], ops_item["price_minor"]) == (seeded.provider_2, 10_000)
