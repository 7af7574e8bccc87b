"""The OpenAPI document, completed with the errors every operation shares.

FastAPI documents the errors each route declares. The middlewares add errors to many routes
at once (413 for any body, 429 for rate limits, 409 and 422 for idempotency keys), so they
are added here, and every error is documented as `application/problem+json`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import ERROR_DESCRIPTIONS, RETRY_AFTER_HEADER
from api.idempotency import EXEMPT_PATHS as IDEMPOTENCY_EXEMPT_PATHS
from api.problems import PROBLEM_MEDIA_TYPE
from api.rate_limits import UNLIMITED_PATHS

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# Routes that read their body as bytes instead of parsing it as JSON.
RAW_BODY_PATHS = frozenset({"/webhooks/stripe"})


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` return the completed document, built once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            for path, operations in document.get("paths", {}).items():
                for method, operation in operations.items():
                    _add_shared_errors(path, method, operation)
                    _use_problem_media_type(operation)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_shared_errors(path: str, method: str, operation: dict[str, Any]) -> None:
    # Any route rejects a query parameter it does not declare.
    statuses: list[int] = [422]
    if "security" in operation:
        statuses.append(401)
    if path not in UNLIMITED_PATHS:
        statuses.append(429)
    if method in ("post", "put", "patch"):
        statuses.append(413)
        if "requestBody" in operation and path not in RAW_BODY_PATHS:
            statuses += [400, 415]
    if method == "post" and path not in IDEMPOTENCY_EXEMPT_PATHS:
        statuses.append(409)
    responses = operation.setdefault("responses", {})
    for status in statuses:
        if str(status) in responses:
            continue
        entry: dict[str, Any] = {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}},
        }
        if status == 429:
            entry["headers"] = RETRY_AFTER_HEADER
        responses[str(status)] = entry


def _use_problem_media_type(operation: dict[str, Any]) -> None:
    for status, response in operation.get("responses", {}).items():
        content = response.get("content", {})
        json_content = content.get("application/json", {})
        if int(status) >= 400 and json_content.get("schema") == PROBLEM_REF:
            content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
