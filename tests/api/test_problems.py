"""Each class of invalid request gets its exact status and problem type, before any command
runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from missions.contracts import Role
from tests.api.conftest import LiveApi
from tests.api.helpers import BearerFactory

PROBLEMS = "https://missions.example/problems/"
MISSION = "mission-00000000-0000-4000-8000-000000000000"
VALID_MISSION = {
    "title": "Monter une armoire",
    "description": "Armoire de 2 m, notice fournie.",
    "category": "assembly",
    "city": "Lyon",
    "postcode": "69003",
}
VALID_APPLY = {"price_minor": 5000, "message": "Disponible demain."}


def in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


# (case id, path, body, field at fault, error type)
INVALID_BODIES: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("unknown field", "/missions", {**VALID_MISSION, "budget": 3}, "budget", "extra_forbidden"),
    (
        "unknown nested field",
        "/missions",
        {**VALID_MISSION, "durations": {"review_windows": 3}},
        "durations.review_windows",
        "extra_forbidden",
    ),
    (
        "title too long",
        "/missions",
        {**VALID_MISSION, "title": "x" * 121},
        "title",
        "string_too_long",
    ),
    (
        "title too short",
        "/missions",
        {**VALID_MISSION, "title": "ab"},
        "title",
        "string_too_short",
    ),
    (
        "description too long",
        "/missions",
        {**VALID_MISSION, "description": "x" * 4001},
        "description",
        "string_too_long",
    ),
    (
        "unsupported currency",
        "/missions",
        {**VALID_MISSION, "currency": "USD"},
        "currency",
        "value_error",
    ),
    (
        "malformed currency",
        "/missions",
        {**VALID_MISSION, "currency": "euro"},
        "currency",
        "string_pattern_mismatch",
    ),
    (
        "date without offset",
        "/missions",
        {**VALID_MISSION, "scheduled_at": "2030-01-01T10:00:00"},
        "scheduled_at",
        "timezone_aware",
    ),
    (
        "date too far ahead",
        "/missions",
        {**VALID_MISSION, "scheduled_at": f"{in_days(800)}T10:00:00+01:00"},
        "scheduled_at",
        "value_error",
    ),
    (
        "invalid date",
        "/missions",
        {**VALID_MISSION, "scheduled_at": "2030-02-30T10:00:00Z"},
        "scheduled_at",
        "datetime_from_date_parsing",
    ),
    (
        "control character",
        "/missions",
        {**VALID_MISSION, "city": "Ly\u0007on"},
        "city",
        "value_error",
    ),
    (
        "line break in a line",
        "/missions",
        {**VALID_MISSION, "title": "Monter\nune armoire"},
        "title",
        "value_error",
    ),
    (
        "bidirectional override",
        "/missions",
        {**VALID_MISSION, "title": "Monter \u202eeriomra"},
        "title",
        "value_error",
    ),
    (
        "whitespace only",
        "/missions",
        {**VALID_MISSION, "description": "   \n "},
        "description",
        "value_error",
    ),
    (
        "duration too long",
        "/missions",
        {**VALID_MISSION, "durations": {"review_window": 10**9}},
        "durations.review_window",
        "less_than_equal",
    ),
    (
        "price below minimum",
        f"/missions/{MISSION}/applications",
        {**VALID_APPLY, "price_minor": 49},
        "price_minor",
        "greater_than_equal",
    ),
    (
        "price above maximum",
        f"/missions/{MISSION}/applications",
        {**VALID_APPLY, "price_minor": 10_000_001},
        "price_minor",
        "less_than_equal",
    ),
    (
        "price as decimal",
        f"/missions/{MISSION}/applications",
        {**VALID_APPLY, "price_minor": 50.5},
        "price_minor",
        "int_type",
    ),
    (
        "message too long",
        f"/missions/{MISSION}/applications",
        {**VALID_APPLY, "message": "x" * 2001},
        "message",
        "string_too_long",
    ),
    (
        "proposed date in the past",
        f"/missions/{MISSION}/applications",
        {**VALID_APPLY, "proposed_date": in_days(-3)},
        "proposed_date",
        "value_error",
    ),
    (
        "zero stars",
        f"/missions/{MISSION}/reviews",
        {"stars": 0},
        "stars",
        "greater_than_equal",
    ),
    (
        "six stars",
        f"/missions/{MISSION}/reviews",
        {"stars": 6},
        "stars",
        "less_than_equal",
    ),
    (
        "comment too long",
        f"/missions/{MISSION}/reviews",
        {"stars": 5, "comment": "x" * 2001},
        "comment",
        "string_too_long",
    ),
    (
        "chat message too long",
        f"/missions/{MISSION}/messages",
        {"text": "x" * 2001},
        "text",
        "string_too_long",
    ),
    (
        "refund above any escrow",
        f"/missions/{MISSION}/dispute/resolution",
        {"refund_minor": 20_000_001, "release_minor": 0},
        "refund_minor",
        "less_than_equal",
    ),
    (
        "payment method with spaces",
        f"/missions/{MISSION}/payment/confirmation",
        {"payment_method": "pm card"},
        "payment_method",
        "string_pattern_mismatch",
    ),
    (
        "unknown incident kind",
        f"/missions/{MISSION}/incidents",
        {"kind": "fire", "text": "Il y a le feu."},
        "kind",
        "enum",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "field", "error_type"),
    [case[1:] for case in INVALID_BODIES],
    ids=[case[0] for case in INVALID_BODIES],
)
async def test_invalid_body_is_422(
    http: httpx.AsyncClient,
    bearer: BearerFactory,
    path: str,
    body: dict[str, Any],
    field: str,
    error_type: str,
) -> None:
    role = Role.OPS if path.endswith("resolution") else Role.CLIENT
    response = await http.post(path, json=body, headers=bearer("user-1", role))

    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == PROBLEMS + "invalid-input"
    assert problem["title"] == "Invalid request"
    assert problem["status"] == 422
    assert problem["code"] == "invalid_input"
    assert problem["instance"] == path
    assert [(error["field"], error["type"]) for error in problem["errors"]] == [(field, error_type)]
    assert problem["errors"][0]["location"] == "body"


async def test_unknown_field_names_accepted_fields(
    http: httpx.AsyncClient, bearer: BearerFactory
) -> None:
    response = await http.post(
        f"/missions/{MISSION}/reviews",
        json={"stars": 5, "note": "Bien"},
        headers=bearer("client-1", Role.CLIENT),
    )

    [error] = response.json()["errors"]
    assert error["message"] == "unknown field 'note'; remove it (accepted fields: comment, stars)"


async def test_control_character_message_names_position(
    http: httpx.AsyncClient, bearer: BearerFactory
) -> None:
    body = {**VALID_MISSION, "title": "Fuite\x00évier"}

    response = await http.post("/missions", json=body, headers=bearer("client-1", Role.CLIENT))

    [error] = response.json()["errors"]
    assert error["message"] == ("control character U+0000 at position 5 is not allowed; remove it")


async def test_lone_surrogate_is_422(http: httpx.AsyncClient, bearer: BearerFactory) -> None:
    # Valid JSON that no UTF-8 encoder can write back, so it must not reach storage.
    content = b'{"text": "abc \\ud800"}'
    headers = {**bearer("client-1", Role.CLIENT), "Content-Type": "application/json"}

    response = await http.post(f"/missions/{MISSION}/messages", content=content, headers=headers)

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["type"]) == ("text", "string_unicode")


async def test_malformed_json_is_400(http: httpx.AsyncClient, bearer: BearerFactory) -> None:
    headers = {**bearer("client-1", Role.CLIENT), "Content-Type": "application/json"}

    response = await http.post("/missions", content=b'{"title": "Fuite', headers=headers)

    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == PROBLEMS + "malformed-json"
    assert problem["code"] == "malformed_json"
    assert problem["detail"].startswith("the body is not valid JSON")


async def test_body_that_is_not_an_object_is_422(
    http: httpx.AsyncClient, bearer: BearerFactory
) -> None:
    response = await http.post("/missions", json=[1, 2], headers=bearer("client-1", Role.CLIENT))

    assert response.status_code == 422
    assert response.json()["type"] == PROBLEMS + "invalid-input"
    assert response.json()["errors"][0]["type"] == "model_attributes_type"


async def test_unknown_query_parameter_is_422(
    http: httpx.AsyncClient, bearer: BearerFactory
) -> None:
    response = await http.get("/missions?stat=open", headers=bearer("ops-1", Role.OPS))

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == PROBLEMS + "invalid-input"
    [error] = problem["errors"]
    assert (error["field"], error["location"], error["type"]) == (
        "stat",
        "query",
        "extra_forbidden",
    )
    assert error["message"].startswith("unknown query parameter 'stat'; remove it (accepted: ")


async def test_control_character_in_query_is_422(
    http: httpx.AsyncClient, bearer: BearerFactory
) -> None:
    response = await http.get("/missions?category=a%00b", headers=bearer("ops-1", Role.OPS))

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "category"


async def test_forged_cursor_with_nul_is_422(
    http: httpx.AsyncClient, bearer: BearerFactory
) -> None:
    # base64url of ["2026-01-01T00:00:00+00:00","mission-\u0000"]
    cursor = "WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwibWlzc2lvbi1cdTAwMDAiXQ"

    response = await http.get(f"/missions?cursor={cursor}", headers=bearer("ops-1", Role.OPS))

    assert response.status_code == 422
    assert response.json()["detail"] == (
        "invalid cursor; pass the next_cursor of the previous page unchanged"
    )


async def test_control_character_in_provider_id_is_422(
    http: httpx.AsyncClient, bearer: BearerFactory
) -> None:
    response = await http.get("/providers/prov%00-1", headers=bearer("client-1", Role.CLIENT))

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "provider_id"
    assert response.json()["errors"][0]["location"] == "path"


async def test_provider_profile_unknown_field_is_422(
    http: httpx.AsyncClient, bearer: BearerFactory
) -> None:
    response = await http.put(
        "/providers/prov-1",
        json={"display_name": "Léa", "iban": "FR76"},
        headers=bearer("prov-1", Role.PROVIDER),
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "iban"


@pytest.mark.parametrize("size", [64 * 1024 + 1, 1024 * 1024])
async def test_body_over_limit_is_413(
    http: httpx.AsyncClient, bearer: BearerFactory, size: int
) -> None:
    headers = {**bearer("client-1", Role.CLIENT), "Content-Type": "application/json"}

    response = await http.post("/missions", content=b" " * size, headers=headers)

    assert response.status_code == 413
    problem = response.json()
    assert problem["type"] == PROBLEMS + "payload-too-large"
    assert problem["code"] == "payload_too_large"
    assert problem["details"] == {"max_bytes": 65536}


async def test_chunked_body_over_limit_is_413(
    http: httpx.AsyncClient, bearer: BearerFactory
) -> None:
    async def chunks() -> Any:
        for _ in range(20):
            yield b" " * 4096

    headers = {**bearer("client-1", Role.CLIENT), "Content-Type": "application/json"}

    response = await http.post("/missions", content=chunks(), headers=headers)

    assert "content-length" not in {name.lower() for name in response.request.headers}
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_body_at_limit_is_parsed(http: httpx.AsyncClient, bearer: BearerFactory) -> None:
    body = b'{"stars": 9}'.ljust(64 * 1024)
    headers = {**bearer("client-1", Role.CLIENT), "Content-Type": "application/json"}

    response = await http.post(f"/missions/{MISSION}/reviews", content=body, headers=headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "stars"


async def test_invalid_idempotency_key_is_422(
    http: httpx.AsyncClient, bearer: BearerFactory
) -> None:
    headers = {**bearer("client-1", Role.CLIENT), "Idempotency-Key": "key with spaces"}

    response = await http.post("/missions", json=VALID_MISSION, headers=headers)

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["location"]) == ("Idempotency-Key", "header")


async def test_method_not_allowed_is_405(http: httpx.AsyncClient, bearer: BearerFactory) -> None:
    response = await http.delete(f"/missions/{MISSION}", headers=bearer("ops-1", Role.OPS))

    assert response.status_code == 405
    assert response.json()["type"] == PROBLEMS + "method-not-allowed"
    assert response.headers["Allow"] == "GET"


async def test_text_is_stored_in_nfc(live: LiveApi) -> None:
    # "é" sent decomposed, as some keyboards and browsers send it: e + combining acute.
    body = {**VALID_MISSION, "title": "Re\u0301parer une e\u0301tage\u0300re"}
    headers = live.bearer("client-nfc", Role.CLIENT)

    response = await live.http.post("/missions", json=body, headers=headers)

    assert response.status_code == 201
    assert response.json()["request"]["title"] == "Réparer une étagère"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_body_not_sent_as_json_is_415(
    http: httpx.AsyncClient, bearer: BearerFactory, content_type: str | None
) -> None:
    headers = bearer("client-1", Role.CLIENT)
    if content_type is not None:
        headers["Content-Type"] = content_type

    response = await http.post(
        f"/missions/{MISSION}/reviews", content=b'{"stars": 5}', headers=headers
    )

    assert response.status_code == 415
    problem = response.json()
    assert problem["type"] == PROBLEMS + "unsupported-media-type"
    assert problem["code"] == "unsupported_media_type"
    assert problem["detail"] == (
        f"the body is sent as {content_type or 'no media type'!r}; send it as JSON with "
        "'Content-Type: application/json'"
    )


async def test_past_date_names_field(live: LiveApi) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = {**VALID_MISSION, "scheduled_at": yesterday}

    response = await live.http.post(
        "/missions", json=body, headers=live.bearer("client-past", Role.CLIENT)
    )

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == PROBLEMS + "invalid-input"
    assert [(error["field"], error["location"]) for error in problem["errors"]] == [
        ("scheduled_at", "body")
    ]
    assert problem["details"] == {"field": "scheduled_at"}


@pytest.mark.parametrize(
    ("path", "body", "field", "location"),
    [
        ("/providers/prov-é", {"display_name": "Léa"}, "provider_id", "path"),
        (
            "/providers/prov-1",
            {"display_name": "Léa", "email": "lea\u008c@example.fr"},
            "email",
            "body",
        ),
    ],
    ids=["non-ascii-id", "control-character-email"],
)
async def test_provider_profile_rejects_unpayable_values(
    http: httpx.AsyncClient,
    bearer: BearerFactory,
    path: str,
    body: dict[str, Any],
    field: str,
    location: str,
) -> None:
    response = await http.put(path, json=body, headers=bearer("ops-1", Role.OPS))

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["location"]) == (field, location)
