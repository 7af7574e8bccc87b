"""Exception handlers that turn every error into a problem details response (RFC 9457).

A `MissionError` keeps its own status and code. Request validation is a 422 whose `errors`
name each invalid field, except a body that is not JSON at all, which is a 400. A 401
carries `WWW-Authenticate: Bearer` as RFC 6750 requires, and a 429 carries `Retry-After`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError

from api.problems import (
    FieldError,
    Problem,
    build_problem,
    problem_response,
)
from missions.errors import (
    IdempotencyKeyInUse,
    InvalidInput,
    MissionError,
    RateLimited,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger(__name__)

# Seconds a caller should wait before retrying a key whose first request still runs.
IN_USE_RETRY_AFTER_SECONDS = 1

# Description of each error status of this API, shown in the OpenAPI document.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: (
        "`malformed_json`: the body is not valid JSON. For the webhook, "
        "`invalid_signature` or `invalid_payload`."
    ),
    401: "`unauthenticated`: the bearer token is missing, expired or invalid.",
    402: "`card_declined`: the card was declined; `details.decline_code` says why.",
    403: "`forbidden`: the caller may never take this action on this resource.",
    404: "`not_found`: no mission (or provider, or application) has this id.",
    409: (
        "`invalid_state` or `conflict`: the action is not allowed in the mission's current "
        "state, or conflicts with it. `idempotency_key_in_use`: a request with the same "
        "`Idempotency-Key` is still running."
    ),
    413: "`payload_too_large`: the body is larger than the configured limit.",
    415: "`unsupported_media_type`: the body is not sent as `application/json`.",
    422: (
        "`invalid_input`: the request is invalid; `errors` names each field. "
        "`idempotency_key_reused`: the `Idempotency-Key` was first sent with another body."
    ),
    429: "`rate_limited`: too many requests; wait `Retry-After` seconds.",
    502: "`payment_provider_error`: Stripe rejected or failed the call.",
    503: "`unavailable`: Temporal or the database is unreachable; retry later.",
}

RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Whole seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Build a route's `responses` entry documenting each error status with `Problem`."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": Problem, "description": ERROR_DESCRIPTIONS[status]}
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            entry["headers"] = RETRY_AFTER_HEADER
        responses[status] = entry
    return responses


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Build a problem response for `request`."""
    problem = build_problem(
        code, status, message, instance=request.url.path, details=details, errors=errors
    )
    return problem_response(problem, headers)


def _mission_id(request: Request) -> str:
    return str(request.path_params.get("mission_id", "-"))


def _headers_for(request: Request, error: MissionError) -> dict[str, str] | None:
    if isinstance(error, Unauthenticated):
        # RFC 6750, section 3.1: name the error only when a token was sent.
        sent = request.headers.get("Authorization", "").lower().startswith("bearer ")
        return {"WWW-Authenticate": 'Bearer error="invalid_token"' if sent else "Bearer"}
    if isinstance(error, RateLimited):
        return {"Retry-After": str(error.retry_after)}
    if isinstance(error, IdempotencyKeyInUse):
        return {"Retry-After": str(IN_USE_RETRY_AFTER_SECONDS)}
    return None


async def handle_mission_error(request: Request, error: MissionError) -> JSONResponse:
    if error.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        log.error(
            "mission %s: %s %s failed with %s: %s",
            _mission_id(request),
            request.method,
            request.url.path,
            error.code,
            error.message,
        )
    else:
        log.info(
            "mission %s: %s %s rejected with %s: %s",
            _mission_id(request),
            request.method,
            request.url.path,
            error.code,
            error.message,
        )
    return error_response(
        request,
        error.status,
        error.code,
        error.message,
        error.details,
        errors=_named_field_error(error),
        headers=_headers_for(request, error),
    )


def _named_field_error(error: MissionError) -> list[FieldError] | None:
    """List the body field that a check outside the request models names, if any."""
    field = error.details.get("field")
    if not isinstance(error, InvalidInput) or not isinstance(field, str):
        return None
    return [FieldError(field=field, location="body", message=error.message, type="value_error")]


async def handle_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    items = list(error.errors())
    content_type = request.headers.get("Content-Type", "")
    if _is_unparsed_body(items) and not _is_json(content_type):
        # FastAPI parses only JSON bodies, so another media type reaches the model as text.
        detail = (
            f"the body is sent as {content_type or 'no media type'!r}; send it as JSON "
            "with 'Content-Type: application/json'"
        )
        log.info(
            "mission %s: %s %s rejected: %s",
            _mission_id(request),
            request.method,
            request.url.path,
            detail,
        )
        return error_response(
            request, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", detail
        )
    if any(item["type"] == "json_invalid" for item in items):
        log.info(
            "mission %s: %s %s rejected, body is not JSON",
            _mission_id(request),
            request.method,
            request.url.path,
        )
        position = next(
            (item.get("ctx", {}).get("error") for item in items if item["type"] == "json_invalid"),
            None,
        )
        detail = "the body is not valid JSON" + (f": {position}" if position else "")
        return error_response(request, HTTPStatus.BAD_REQUEST, "malformed_json", detail)

    # The rejected input is left out on purpose: it may hold a payment method or a token.
    field_errors = [_field_error(request, item) for item in items]
    summary = "; ".join(f"{item.field}: {item.message}" for item in field_errors)
    log.info(
        "mission %s: %s %s rejected as invalid: %s",
        _mission_id(request),
        request.method,
        request.url.path,
        summary,
    )
    return error_response(
        request,
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "invalid_input",
        f"invalid request: {summary}",
        {"errors": [item.model_dump() for item in field_errors]},
        errors=field_errors,
    )


def _is_unparsed_body(items: list[Any]) -> bool:
    return any(
        tuple(item["loc"]) == ("body",) and isinstance(item.get("input"), str | bytes)
        for item in items
    )


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _field_error(request: Request, item: dict[str, Any]) -> FieldError:
    location = item["loc"]
    field = ".".join(str(part) for part in location[1:]) or str(location[0])
    message = str(item["msg"])
    if item["type"] == "extra_forbidden" and location[0] == "body":
        allowed = _allowed_fields(request, location[1:-1])
        message = f"unknown field {location[-1]!r}; remove it"
        if allowed:
            message += f" (accepted fields: {', '.join(allowed)})"
    elif item["type"] == "value_error":
        # Custom validators raise ValueError; pydantic prefixes "Value error, ".
        message = message.removeprefix("Value error, ")
    return FieldError(field=field, location=str(location[0]), message=message, type=item["type"])


def _allowed_fields(request: Request, parent: Sequence[Any]) -> list[str]:
    """Return the field names the body model accepts at `parent`, or [] if unknown."""
    route = request.scope.get("route")
    body_field = getattr(route, "body_field", None)
    model = getattr(getattr(body_field, "field_info", None), "annotation", None)
    for part in parent:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        model = _model_in(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(model.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """Return the model inside `Model | None`, or the annotation itself."""
    for argument in getattr(annotation, "__args__", ()):
        if isinstance(argument, type) and issubclass(argument, BaseModel):
            return argument
    return annotation


HTTP_ERROR_CODES = {
    HTTPStatus.NOT_FOUND: "not_found",
    HTTPStatus.METHOD_NOT_ALLOWED: "method_not_allowed",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "payload_too_large",
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
}


async def handle_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    status = HTTPStatus(error.status_code)
    code = HTTP_ERROR_CODES.get(status) or status.phrase.lower().replace(" ", "_").replace("-", "_")
    message = error.detail if isinstance(error.detail, str) else status.phrase
    if status is HTTPStatus.NOT_FOUND and message == status.phrase:
        message = f"no route matches {request.method} {request.url.path}"
    headers = dict(error.headers) if error.headers else None
    return error_response(request, error.status_code, code, message, headers=headers)


async def handle_temporal_error(request: Request, error: RPCError) -> JSONResponse:
    # MissionsClient maps the RPC errors it expects. One that reaches this handler means
    # Temporal itself failed, which a retry may fix.
    log.error(
        "mission %s: %s %s failed, Temporal call error %s: %s",
        _mission_id(request),
        request.method,
        request.url.path,
        error.status.name if error.status else "unknown",
        error.message,
    )
    return error_response(
        request,
        HTTPStatus.SERVICE_UNAVAILABLE,
        Unavailable.code,
        f"Temporal is unavailable: {error.message}; retry later",
    )


async def handle_database_error(request: Request, error: OperationalError) -> JSONResponse:
    # OperationalError covers a lost connection, a timeout or a locked SQLite file, which a
    # retry may fix. Errors in the statements themselves stay 500s.
    log.error(
        "mission %s: %s %s failed, database error: %s",
        _mission_id(request),
        request.method,
        request.url.path,
        error.orig,
    )
    return error_response(
        request,
        HTTPStatus.SERVICE_UNAVAILABLE,
        Unavailable.code,
        "the database is unavailable; retry later",
    )


async def handle_unexpected_error(request: Request, error: Exception) -> JSONResponse:
    log.exception(
        "mission %s: %s %s failed with an unexpected error",
        _mission_id(request),
        request.method,
        request.url.path,
    )
    return error_response(
        request,
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "internal_error",
        "the server failed to handle the request; it was logged",
    )


def install_error_handlers(app: FastAPI) -> None:
    app.exception_handler(MissionError)(handle_mission_error)
    app.exception_handler(RequestValidationError)(handle_validation_error)
    app.exception_handler(StarletteHTTPException)(handle_http_error)
    app.exception_handler(RPCError)(handle_temporal_error)
    app.exception_handler(OperationalError)(handle_database_error)
    # Starlette runs this one in its outermost middleware, for any error left unhandled.
    app.exception_handler(Exception)(handle_unexpected_error)
