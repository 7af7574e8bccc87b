"""JSON responses with the headers that Stripe sends on every response."""

from __future__ import annotations

import json

from fastapi import Response

from .errors import StripeAPIError


def add_headers(response: Response, request_id: str, idempotency_key: str | None) -> None:
    response.headers["Request-Id"] = request_id
    if idempotency_key:
        response.headers["Idempotency-Key"] = idempotency_key


def json_response(status: int, body: str, request_id: str, idempotency_key: str | None) -> Response:
    response = Response(body, status_code=status, media_type="application/json")
    add_headers(response, request_id, idempotency_key)
    return response


def error_response(error: StripeAPIError, request_id: str) -> Response:
    response = Response(
        json.dumps(error.to_body()), status_code=error.status, media_type="application/json"
    )
    add_headers(response, request_id, None)
    response.headers.update(error.headers)
    return response
