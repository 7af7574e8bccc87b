"""`Idempotency-Key`: a retried POST gets the first response, and creates one mission only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.types import Receive, Scope, Send
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.idempotency import (
    IdempotencyMiddleware,
    InMemoryIdempotencyStore,
    Outcome,
    StoredResponse,
    request_fingerprint,
)
from missions.client import idempotent_mission_id
from missions.contracts import Role
from missions.settings import Settings
from missions.tokens import TokenVerifier, mint_token
from tests.api.conftest import LiveApi

pytestmark = pytest.mark.asyncio(loop_scope="session")

PROBLEMS = "https://missions.example/problems/"


def mission_body(title: str = "Poser une étagère") -> dict[str, Any]:
    return {
        "title": title,
        "description": "Étagère de 60 cm.",
        "category": "bricolage",
        "city": "Rennes",
        "postcode": "35000",
    }


def with_key(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def workflow_runs(env: WorkflowEnvironment, mission_id: str) -> int:
    """Count the runs of a workflow id; one id can hold several runs after a restart."""
    count = 0
    async for _ in env.client.list_workflows(f"WorkflowId = '{mission_id}'"):
        count += 1
    return count


@pytest_asyncio.fixture(loop_scope="session")
async def replica(live: LiveApi) -> AsyncIterator[httpx.AsyncClient]:
    """A second API replica: the same Temporal and database, its own idempotency store."""
    application = create_app(live.settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://replica.test", timeout=60
        ) as http:
            yield http


async def test_retry_replays_first_response(live: LiveApi) -> None:
    client = f"client-idem-{uuid.uuid4().hex[:8]}"
    headers = with_key(live.bearer(client, Role.CLIENT), "create-1")

    first = await live.http.post("/missions", json=mission_body(), headers=headers)
    second = await live.http.post("/missions", json=mission_body(), headers=headers)

    assert first.status_code == 201
    assert second.status_code == 201
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert first.json()["mission_id"] == idempotent_mission_id(client, "create-1")


async def test_same_json_in_another_order_replays(live: LiveApi) -> None:
    headers = with_key(live.bearer(f"client-idem-{uuid.uuid4().hex[:8]}", Role.CLIENT), "k")
    body = mission_body()
    reordered = dict(reversed(list(body.items())))

    first = await live.http.post("/missions", json=body, headers=headers)
    second = await live.http.post("/missions", json=reordered, headers=headers)

    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["mission_id"] == first.json()["mission_id"]


async def test_same_key_other_body_is_422(live: LiveApi) -> None:
    headers = with_key(live.bearer(f"client-idem-{uuid.uuid4().hex[:8]}", Role.CLIENT), "k")
    first = await live.http.post("/missions", json=mission_body(), headers=headers)

    second = await live.http.post("/missions", json=mission_body("Autre titre"), headers=headers)

    assert second.status_code == 422
    assert second.headers["Content-Type"] == "application/problem+json"
    problem = second.json()
    assert problem["type"] == PROBLEMS + "idempotency-key-reused"
    assert problem["code"] == "idempotency_key_reused"
    assert problem["title"] == "Idempotency key reused for another request"
    view = await live.http.get(
        f"/missions/{first.json()['mission_id']}", headers=live.bearer("ops-idem", Role.OPS)
    )
    assert view.json()["request"]["title"] == "Poser une étagère"


async def test_same_key_other_route_is_422(live: LiveApi) -> None:
    headers = with_key(live.bearer(f"client-idem-{uuid.uuid4().hex[:8]}", Role.CLIENT), "k")
    created = await live.http.post("/missions", json=mission_body(), headers=headers)
    path = f"/missions/{created.json()['mission_id']}/messages"

    response = await live.http.post(path, json=mission_body(), headers=headers)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"


async def test_same_key_other_user_is_independent(live: LiveApi) -> None:
    run = uuid.uuid4().hex[:8]
    first_user = with_key(live.bearer(f"client-a-{run}", Role.CLIENT), "shared")
    second_user = with_key(live.bearer(f"client-b-{run}", Role.CLIENT), "shared")

    first = await live.http.post("/missions", json=mission_body(), headers=first_user)
    second = await live.http.post("/missions", json=mission_body(), headers=second_user)

    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert first.json()["mission_id"] != second.json()["mission_id"]


async def test_concurrent_creations_start_one_workflow(
    live: LiveApi, dev_temporal: WorkflowEnvironment
) -> None:
    client = f"client-idem-{uuid.uuid4().hex[:8]}"
    headers = with_key(live.bearer(client, Role.CLIENT), "burst")

    responses = await asyncio.gather(
        *(live.http.post("/missions", json=mission_body(), headers=headers) for _ in range(5))
    )

    mission_id = idempotent_mission_id(client, "burst")
    assert [response.status_code for response in responses] == [201] * 5
    assert {response.json()["mission_id"] for response in responses} == {mission_id}
    assert await workflow_runs(dev_temporal, mission_id) == 1


async def test_replicas_start_one_workflow(
    live: LiveApi, replica: httpx.AsyncClient, dev_temporal: WorkflowEnvironment
) -> None:
    client = f"client-idem-{uuid.uuid4().hex[:8]}"
    headers = with_key(live.bearer(client, Role.CLIENT), "two-replicas")

    first, second = await asyncio.gather(
        live.http.post("/missions", json=mission_body(), headers=headers),
        replica.post("/missions", json=mission_body(), headers=headers),
    )

    mission_id = idempotent_mission_id(client, "two-replicas")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["mission_id"] == second.json()["mission_id"] == mission_id
    assert first.json()["created_at"] == second.json()["created_at"]
    assert await workflow_runs(dev_temporal, mission_id) == 1


async def test_replica_rejects_other_body(live: LiveApi, replica: httpx.AsyncClient) -> None:
    headers = with_key(live.bearer(f"client-idem-{uuid.uuid4().hex[:8]}", Role.CLIENT), "k")
    await live.http.post("/missions", json=mission_body(), headers=headers)

    response = await replica.post("/missions", json=mission_body("Autre titre"), headers=headers)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"


async def test_command_retry_posts_one_message(live: LiveApi) -> None:
    client_headers = live.bearer(f"client-idem-{uuid.uuid4().hex[:8]}", Role.CLIENT)
    created = await live.http.post("/missions", json=mission_body(), headers=client_headers)
    path = f"/missions/{created.json()['mission_id']}/messages"
    headers = with_key(client_headers, "message-1")

    responses = await asyncio.gather(
        *(live.http.post(path, json={"text": "Bonjour"}, headers=headers) for _ in range(3))
    )
    messages = await live.http.get(path, headers=client_headers)

    assert [response.status_code for response in responses] == [201] * 3
    assert len({response.json()["id"] for response in responses}) == 1
    assert sum(response.headers.get("Idempotent-Replayed") == "true" for response in responses) == 2
    assert [message["text"] for message in messages.json()] == ["Bonjour"]


async def test_rejected_command_is_replayed(live: LiveApi) -> None:
    client_headers = live.bearer(f"client-idem-{uuid.uuid4().hex[:8]}", Role.CLIENT)
    created = await live.http.post("/missions", json=mission_body(), headers=client_headers)
    path = f"/missions/{created.json()['mission_id']}/completion-request"
    headers = with_key(client_headers, "release-1")

    first = await live.http.post(path, headers=headers)
    second = await live.http.post(path, headers=headers)

    assert first.status_code == second.status_code == 403
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"


# The middleware alone, over a stand-in app.


SETTINGS = Settings(jwt_secret="idempotency-test-secret-0123456789-abcdef")


class CountingApp:
    """Responds with the statuses it is given, in turn, and counts its calls."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = self.statuses[min(self.calls, len(self.statuses) - 1)]
        self.calls += 1
        await receive()
        body = f'{{"call": {self.calls}}}'.encode()
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})


def middleware_client(app: CountingApp, store: InMemoryIdempotencyStore) -> httpx.AsyncClient:
    middleware = IdempotencyMiddleware(app, store, TokenVerifier(SETTINGS))
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=middleware), base_url="http://middleware.test"
    )


def bearer_with_key(key: str) -> dict[str, str]:
    token = mint_token(SETTINGS, "client-1", Role.CLIENT)
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": key}


def store(**overrides: Any) -> InMemoryIdempotencyStore:
    options: dict[str, Any] = {"ttl_seconds": 3600, "max_keys": 100, **overrides}
    return InMemoryIdempotencyStore(**options)


@pytest.mark.parametrize("failure", [500, 503, 429, 401, 413])
async def test_failed_response_is_not_stored(failure: int) -> None:
    app = CountingApp(failure, 200)
    async with middleware_client(app, store()) as http:
        first = await http.post("/x", json={}, headers=bearer_with_key("k"))
        second = await http.post("/x", json={}, headers=bearer_with_key("k"))
        third = await http.post("/x", json={}, headers=bearer_with_key("k"))

    assert (first.status_code, second.status_code, third.status_code) == (failure, 200, 200)
    assert app.calls == 2
    assert third.json() == {"call": 2}


async def test_unauthenticated_request_skips_store() -> None:
    app = CountingApp(200)
    async with middleware_client(app, store()) as http:
        for _ in range(2):
            await http.post("/x", json={}, headers={"Idempotency-Key": "k"})

    assert app.calls == 2


async def test_get_is_not_replayed() -> None:
    app = CountingApp(200)
    async with middleware_client(app, store()) as http:
        for _ in range(2):
            await http.get("/x", headers=bearer_with_key("k"))

    assert app.calls == 2


async def test_expired_key_runs_again() -> None:
    now = [1000.0]
    keys = store(ttl_seconds=60, clock=lambda: now[0])
    app = CountingApp(201)
    async with middleware_client(app, keys) as http:
        await http.post("/x", json={}, headers=bearer_with_key("k"))
        now[0] += 59
        replayed = await http.post("/x", json={}, headers=bearer_with_key("k"))
        now[0] += 2
        again = await http.post("/x", json={}, headers=bearer_with_key("k"))

    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in again.headers
    assert app.calls == 2


async def test_oldest_key_is_forgotten_when_full() -> None:
    keys = store(max_keys=2)
    for key in ("a", "b", "c"):
        assert (await keys.claim("owner", key, "f")).outcome is Outcome.NEW
        await keys.complete("owner", key, _stored())

    assert (await keys.claim("owner", "a", "f")).outcome is Outcome.NEW
    assert (await keys.claim("owner", "c", "f")).outcome is Outcome.REPLAY


async def test_key_still_running_is_409() -> None:
    keys = store(wait_seconds=0.05)
    await keys.claim("owner", "k", "f")

    claim = await keys.claim("owner", "k", "f")

    assert claim.outcome is Outcome.IN_PROGRESS


async def test_key_still_running_answers_409_over_http() -> None:
    keys = store(wait_seconds=0.05)
    await keys.claim("client:client-1", "k", _fingerprint_of_empty_post())
    async with middleware_client(CountingApp(200), keys) as http:
        response = await http.post("/x", json={}, headers=bearer_with_key("k"))

    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"
    assert response.json()["type"] == PROBLEMS + "idempotency-key-in-use"


def _stored() -> StoredResponse:
    return StoredResponse(201, [], b"{}")


def _fingerprint_of_empty_post() -> str:
    return request_fingerprint("POST", "/x", b"", b"{}")
