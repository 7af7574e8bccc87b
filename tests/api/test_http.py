"""The HTTP layer without a worker: authentication, validation, probes and the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest

from api.schemas import DurationsSeconds
from missions.contracts import Durations, Role
from missions.settings import Settings
from missions.tokens import mint_token
from tests.api.helpers import BearerFactory

VALID_MISSION = {
    "title": "Monter une armoire",
    "description": "Armoire de 2 m, notice fournie.",
    "category": "assembly",
    "city": "Lyon",
    "postcode": "69003",
}
UNKNOWN_MISSION = "mission-00000000-0000-4000-8000-000000000000"

ROUTES = {
    ("post", "/missions"),
    ("get", "/missions"),
    ("get", "/missions/{mission_id}"),
    ("post", "/missions/{mission_id}/applications"),
    ("post", "/missions/{mission_id}/applications/{application_id}/withdrawal"),
    ("post", "/missions/{mission_id}/selection"),
    ("post", "/missions/{mission_id}/payment/confirmation"),
    ("post", "/missions/{mission_id}/completion-request"),
    ("post", "/missions/{mission_id}/confirmation"),
    ("post", "/missions/{mission_id}/dispute"),
    ("post", "/missions/{mission_id}/dispute/resolution"),
    ("post", "/missions/{mission_id}/incidents"),
    ("post", "/missions/{mission_id}/cancellation"),
    ("post", "/missions/{mission_id}/reviews"),
    ("post", "/missions/{mission_id}/messages"),
    ("get", "/missions/{mission_id}/messages"),
    ("get", "/missions/{mission_id}/notifications"),
    ("put", "/providers/{provider_id}"),
    ("get", "/providers/{provider_id}"),
    ("post", "/webhooks/stripe"),
    ("get", "/healthz"),
    ("get", "/readyz"),
}
UNAUTHENTICATED_ROUTES = {("post", "/webhooks/stripe"), ("get", "/healthz"), ("get", "/readyz")}


PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "code", "hint"}
COMPATIBLE_MEMBERS = {"message", "details"}


def assert_unauthenticated(
    response: httpx.Response, message_part: str, *, token_sent: bool = False
) -> None:
    challenge = 'Bearer error="invalid_token"' if token_sent else "Bearer"
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == challenge
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "https://missions.example/problems/unauthenticated"
    assert body["title"] == "Authentication required"
    assert body["status"] == 401
    assert body["code"] == "unauthenticated"
    assert message_part in body["detail"]
    assert body["message"] == body["detail"]
    assert set(body) == PROBLEM_MEMBERS | COMPATIBLE_MEMBERS


async def test_missing_bearer_is_401(http: httpx.AsyncClient) -> None:
    response = await http.get(f"/missions/{UNKNOWN_MISSION}")

    assert_unauthenticated(response, "missing bearer token")


async def test_other_scheme_is_401(http: httpx.AsyncClient) -> None:
    response = await http.get("/missions", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert_unauthenticated(response, "missing bearer token")


async def test_garbage_bearer_is_401(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/missions", json=VALID_MISSION, headers={"Authorization": "Bearer not-a-jwt"}
    )

    assert_unauthenticated(response, "token is malformed", token_sent=True)


async def test_expired_bearer_is_401(http: httpx.AsyncClient, api_settings: Settings) -> None:
    expired = mint_token(api_settings, "client-1", Role.CLIENT, ttl=timedelta(seconds=1))
    claims = jwt.decode(expired, options={"verify_signature": False})
    claims["iat"] = claims["nbf"] = claims["iat"] - 3600
    claims["exp"] = claims["exp"] - 3600
    token = jwt.encode(claims, api_settings.jwt_secret, algorithm="HS256")

    response = await http.get("/missions", headers={"Authorization": f"Bearer {token}"})

    assert_unauthenticated(response, "expired", token_sent=True)


async def test_bearer_signed_with_other_key_is_401(
    http: httpx.AsyncClient, api_settings: Settings
) -> None:
    forged = api_settings.model_copy(update={"jwt_secret": "x" * 48})
    token = mint_token(forged, "ops-1", Role.OPS)

    response = await http.get("/missions", headers={"Authorization": f"Bearer {token}"})

    assert_unauthenticated(response, "signature is invalid", token_sent=True)


async def test_provider_routes_need_bearer(http: httpx.AsyncClient) -> None:
    response = await http.get("/providers/provider-1")

    assert_unauthenticated(response, "missing bearer token")


async def test_invalid_body_is_422_naming_field(
    http: httpx.AsyncClient, bearer: BearerFactory
) -> None:
    body = {**VALID_MISSION, "postcode": "6900"}

    response = await http.post("/missions", json=body, headers=bearer("client-1", Role.CLIENT))

    assert response.status_code == 422
    payload = response.json()
    assert payload["code"] == "invalid_input"
    assert payload["type"] == "https://missions.example/problems/invalid-input"
    assert "postcode" in payload["detail"]
    assert [error["field"] for error in payload["errors"]] == ["postcode"]
    assert payload["errors"][0]["location"] == "body"
    assert payload["details"]["errors"] == payload["errors"]


async def test_missing_field_is_422_naming_it(
    http: httpx.AsyncClient, bearer: BearerFactory
) -> None:
    body = {key: value for key, value in VALID_MISSION.items() if key != "title"}

    response = await http.post("/missions", json=body, headers=bearer("client-1", Role.CLIENT))

    assert response.status_code == 422
    errors = response.json()["details"]["errors"]
    assert [(error["field"], error["type"]) for error in errors] == [("title", "missing")]


async def test_unknown_duration_is_422(http: httpx.AsyncClient, bearer: BearerFactory) -> None:
    body = {**VALID_MISSION, "durations": {"selection_deadlin": 20}}

    response = await http.post("/missions", json=body, headers=bearer("client-1", Role.CLIENT))

    assert response.status_code == 422
    fields = [error["field"] for error in response.json()["details"]["errors"]]
    assert fields == ["durations.selection_deadlin"]


async def test_invalid_command_body_is_422(http: httpx.AsyncClient, bearer: BearerFactory) -> None:
    response = await http.post(
        f"/missions/{UNKNOWN_MISSION}/reviews",
        json={"stars": 6, "comment": "trop bien"},
        headers=bearer("client-1", Role.CLIENT),
    )

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["details"]["errors"]] == ["stars"]


async def test_invalid_list_limit_is_422(http: httpx.AsyncClient, bearer: BearerFactory) -> None:
    response = await http.get("/missions?limit=0", headers=bearer("ops-1", Role.OPS))

    assert response.status_code == 422
    error = response.json()["details"]["errors"][0]
    assert (error["field"], error["location"]) == ("limit", "query")


async def test_durations_body_matches_contract() -> None:
    assert set(DurationsSeconds.model_fields) == set(Durations.model_fields)


async def test_durations_override_only_given_fields() -> None:
    base = Durations()

    durations = DurationsSeconds(selection_deadline=20, payment_deadline=6).apply_to(base)

    assert durations.selection_deadline == timedelta(seconds=20)
    assert durations.payment_deadline == timedelta(seconds=6)
    assert durations.review_window == base.review_window


async def test_unknown_mission_is_404(http: httpx.AsyncClient, bearer: BearerFactory) -> None:
    response = await http.get(f"/missions/{UNKNOWN_MISSION}", headers=bearer("ops-1", Role.OPS))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_malformed_mission_id_is_404(http: httpx.AsyncClient, bearer: BearerFactory) -> None:
    response = await http.get("/missions/42", headers=bearer("ops-1", Role.OPS))

    assert response.status_code == 404
    assert "mission-<uuid>" in response.json()["message"]


async def test_provider_cannot_post_mission(http: httpx.AsyncClient, bearer: BearerFactory) -> None:
    response = await http.post(
        "/missions", json=VALID_MISSION, headers=bearer("provider-1", Role.PROVIDER)
    )

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


async def test_durations_rejected_when_disabled(
    http: httpx.AsyncClient, bearer: BearerFactory, api_settings: Settings
) -> None:
    assert api_settings.allow_duration_override is False
    body = {**VALID_MISSION, "durations": {"selection_deadline": 20}}

    response = await http.post("/missions", json=body, headers=bearer("client-1", Role.CLIENT))

    assert response.status_code == 403
    assert "durations" in response.json()["message"]


async def test_other_provider_profile_is_403(
    http: httpx.AsyncClient, bearer: BearerFactory
) -> None:
    response = await http.put(
        "/providers/provider-2",
        json={"display_name": "Léa", "presentation": "Plombière"},
        headers=bearer("provider-1", Role.PROVIDER),
    )

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


async def test_unknown_provider_is_404(http: httpx.AsyncClient, bearer: BearerFactory) -> None:
    response = await http.get("/providers/nobody", headers=bearer("client-1", Role.CLIENT))

    assert response.status_code == 404
    assert response.json()["message"] == "provider nobody not found"


async def test_unknown_path_is_problem(http: httpx.AsyncClient) -> None:
    response = await http.get("/nowhere")

    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://missions.example/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "no route matches GET /nowhere",
        "instance": "/nowhere",
        "code": "not_found",
        "hint": "Check the id in the path; mission ids look like 'mission-<uuid>'.",
        "message": "no route matches GET /nowhere",
        "details": {},
    }


async def test_healthz(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_with_database_and_temporal(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "temporal": "ok"}}


@pytest.fixture
async def openapi(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_openapi_lists_every_route(openapi: dict[str, Any]) -> None:
    listed = {
        (method, path) for path, operations in openapi["paths"].items() for method in operations
    }

    assert listed == ROUTES


async def test_openapi_has_title_version_and_bearer(openapi: dict[str, Any]) -> None:
    assert openapi["info"]["title"] == "Missions API"
    assert openapi["info"]["version"]
    scheme = openapi["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": scheme["description"],
    }


async def test_openapi_security_per_route(openapi: dict[str, Any]) -> None:
    for method, path in ROUTES:
        operation = openapi["paths"][path][method]
        secured = operation.get("security") == [{"bearerAuth": []}]
        assert secured is ((method, path) not in UNAUTHENTICATED_ROUTES), (method, path)


async def test_openapi_documents_errors(openapi: dict[str, Any]) -> None:
    error_ref = "#/components/schemas/Problem"
    for method, path in ROUTES - {("get", "/healthz"), ("get", "/readyz")}:
        responses = openapi["paths"][path][method]["responses"]
        error_statuses = [status for status in responses if status.startswith(("4", "5"))]
        assert error_statuses, (method, path)
        for status in error_statuses:
            content = responses[status]["content"]
            assert set(content) == {"application/problem+json"}, (method, path, status)
            assert content["application/problem+json"]["schema"] == {"$ref": error_ref}


async def test_openapi_documents_shared_errors(openapi: dict[str, Any]) -> None:
    create = openapi["paths"]["/missions"]["post"]["responses"]
    webhook = openapi["paths"]["/webhooks/stripe"]["post"]["responses"]
    listing = openapi["paths"]["/missions"]["get"]["responses"]

    assert set(create) == {"201", "400", "401", "403", "409", "413", "415", "422", "429", "503"}
    assert create["429"]["headers"]["Retry-After"]["required"] is True
    assert set(webhook) == {"200", "400", "413", "422", "503"}
    assert set(listing) == {"200", "401", "403", "422", "429", "503"}


async def test_openapi_documents_idempotency_key(openapi: dict[str, Any]) -> None:
    for method, path in ROUTES:
        parameters = openapi["paths"][path][method].get("parameters", [])
        names = {parameter["name"] for parameter in parameters if parameter["in"] == "header"}
        expected = method == "post" and path != "/webhooks/stripe"
        assert ("Idempotency-Key" in names) is expected, (method, path)


async def test_openapi_documents_card_declined(openapi: dict[str, Any]) -> None:
    responses = openapi["paths"]["/missions/{mission_id}/payment/confirmation"]["post"]["responses"]

    assert "card_declined" in responses["402"]["description"]


async def test_openapi_client_secret_optional(openapi: dict[str, Any]) -> None:
    payment = openapi["components"]["schemas"]["PaymentView"]

    assert "client_secret" not in payment.get("required", [])


async def test_docs_page(http: httpx.AsyncClient) -> None:
    response = await http.get("/docs")

    assert response.status_code == 200
    assert "swagger" in response.text.lower()
    assert "cdn" not in response.text


async def test_docs_assets_served_locally(http: httpx.AsyncClient) -> None:
    script = await http.get("/docs-static/swagger-ui-bundle.js")
    style = await http.get("/docs-static/swagger-ui.css")

    assert script.status_code == 200
    assert style.status_code == 200
    assert len(script.content) > 100_000


async def test_openapi_readiness_failure_is_plain_json(openapi: dict[str, Any]) -> None:
    content = openapi["paths"]["/readyz"]["get"]["responses"]["503"]["content"]

    assert content == {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}
