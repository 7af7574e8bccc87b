"""Exception handlers that give every error response one shape: `{code, message, details}`.

A `MissionError` keeps its own status and code. Request validation is a 422 whose details
name each invalid field. A 401 carries `WWW-Authenticate: Bearer` as RFC 6750 requires.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError

from api.schemas import ErrorBody
from missions.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidState,
    MissionError,
    MissionNotFound,
    PaymentDeclined,
    PaymentProviderError,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger(__name__)

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}

# Description of each error status of this API, shown in the OpenAPI document.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Bad request: for the webhook, a missing or invalid `Stripe-Signature`.",
    401: f"`{Unauthenticated.code}`: the bearer token is missing, expired or invalid.",
    402: f"`{PaymentDeclined.code}`: the card was declined; `details.decline_code` says why.",
    403: f"`{Forbidden.code}`: the caller may never take this action on this resource.",
    404: f"`{MissionNotFound.code}`: no mission (or provider) has this id.",
    409: (
        f"`{InvalidState.code}` or `{Conflict.code}`: the action is not allowed in the "
        "mission's current state, or conflicts with it."
    ),
    422: f"`{InvalidInput.code}`: the request is invalid; `details.errors` names each field.",
    502: f"`{PaymentProviderError.code}`: Stripe rejected or failed the call.",
    503: f"`{Unavailable.code}`: Temporal or the database is unreachable; retry later.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Build a route's `responses` entry documenting each error status with `ErrorBody`."""
    return {
        status: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    """Build an error response of the API's one shape."""
    body = ErrorBody(code=code, message=message, details=jsonable_encoder(details or {}))
    headers = BEARER_CHALLENGE if status == HTTPStatus.UNAUTHORIZED else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _mission_id(request: Request) -> str:
    return str(request.path_params.get("mission_id", "-"))


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
    return error_response(error.status, error.code, error.message, error.details)


async def handle_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    # The rejected input is left out on purpose: it may hold a payment method or a token.
    errors = [
        {
            "field": ".".join(str(part) for part in item["loc"][1:]) or str(item["loc"][0]),
            "location": str(item["loc"][0]),
            "message": item["msg"],
            "type": item["type"],
        }
        for item in error.errors()
    ]
    summary = "; ".join(f"{item['field']}: {item['message']}" for item in errors)
    log.info(
        "mission %s: %s %s rejected as invalid: %s",
        _mission_id(request),
        request.method,
        request.url.path,
        summary,
    )
    return error_response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        InvalidInput.code,
        f"invalid request: {summary}",
        {"errors": errors},
    )


async def handle_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    status = HTTPStatus(error.status_code)
    code = status.phrase.lower().replace(" ", "_").replace("-", "_")
    message = error.detail if isinstance(error.detail, str) else status.phrase
    return error_response(error.status_code, code, message)


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
