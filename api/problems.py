"""Problem details (RFC 9457): the body of every error response, and its problem types.

Each error has a stable `type` URI under `PROBLEM_TYPE_BASE`, a `title` that never changes
for that type, the HTTP `status`, a `detail` about this occurrence and the `instance` path.
Extension members: `code` (the stable snake_case code), `hint` (what to send instead),
`errors` (one entry per invalid field), and `message` and `details`, which repeat `detail`
and the error's facts for callers written against the API's first error shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://missions.example/problems/"


@dataclass(frozen=True)
class ProblemType:
    """One kind of error: its stable code, status, title and the usual fix."""

    code: str
    status: int
    title: str
    hint: str

    @property
    def uri(self) -> str:
        return PROBLEM_TYPE_BASE + self.code.replace("_", "-")


PROBLEM_TYPES: dict[str, ProblemType] = {
    problem.code: problem
    for problem in (
        ProblemType(
            "malformed_json",
            400,
            "Malformed JSON body",
            "Send a syntactically valid JSON document with 'Content-Type: application/json'.",
        ),
        ProblemType(
            "invalid_signature",
            400,
            "Invalid webhook signature",
            "Sign the raw body with the endpoint's secret; the signature timestamp must be "
            "within the configured tolerance of the server's clock.",
        ),
        ProblemType(
            "invalid_payload",
            400,
            "Invalid webhook payload",
            "Send the Stripe event exactly as Stripe serialized and signed it.",
        ),
        ProblemType(
            "unauthenticated",
            401,
            "Authentication required",
            "Send 'Authorization: Bearer <JWT>' with a valid, unexpired token of the "
            "configured issuer and audience.",
        ),
        ProblemType(
            "card_declined",
            402,
            "Card declined",
            "Ask the client for another payment method; 'details.decline_code' says why "
            "the card was declined.",
        ),
        ProblemType(
            "forbidden",
            403,
            "Forbidden for this party",
            "This party may never take this action on this resource; send it as a party "
            "that the authorization matrix allows.",
        ),
        ProblemType(
            "not_found",
            404,
            "Not found",
            "Check the id in the path; mission ids look like 'mission-<uuid>'.",
        ),
        ProblemType(
            "method_not_allowed",
            405,
            "Method not allowed",
            "Use one of the methods listed in the 'Allow' header.",
        ),
        ProblemType(
            "invalid_state",
            409,
            "Not allowed in the mission's current state",
            "Read the mission, then send an action that its current state allows.",
        ),
        ProblemType(
            "conflict",
            409,
            "Conflicts with the mission",
            "Read the mission and resolve the conflict that 'detail' names before retrying.",
        ),
        ProblemType(
            "idempotency_key_in_use",
            409,
            "Idempotency key in use",
            "Wait until the first request with this Idempotency-Key finishes, then retry "
            "with the same key and body.",
        ),
        ProblemType(
            "payload_too_large",
            413,
            "Request body too large",
            "Send a smaller body; 'details.max_bytes' is the limit.",
        ),
        ProblemType(
            "unsupported_media_type",
            415,
            "Unsupported media type",
            "Send the body as JSON with 'Content-Type: application/json'.",
        ),
        ProblemType(
            "invalid_input",
            422,
            "Invalid request",
            "Fix each entry of 'errors' (or the value that 'detail' names) and send the "
            "request again.",
        ),
        ProblemType(
            "idempotency_key_reused",
            422,
            "Idempotency key reused for another request",
            "Send a new Idempotency-Key for a different request, or resend the first body "
            "unchanged to get the first response again.",
        ),
        ProblemType(
            "rate_limited",
            429,
            "Too many requests",
            "Wait the number of seconds in the 'Retry-After' header, then retry.",
        ),
        ProblemType(
            "internal_error",
            500,
            "Internal server error",
            "Retry later; the error was logged on the server.",
        ),
        ProblemType(
            "payment_provider_error",
            502,
            "Payment provider error",
            "Retry the request later; Stripe rejected or failed the call.",
        ),
        ProblemType(
            "unavailable",
            503,
            "Service unavailable",
            "Retry later with the same Idempotency-Key; Temporal or the database is unreachable.",
        ),
    )
}


class FieldError(BaseModel):
    """One invalid part of a request."""

    field: str = Field(description="Dotted path of the field, e.g. `durations.review_window`.")
    location: str = Field(description="Where the field is: `body`, `query`, `path` or `header`.")
    message: str = Field(description="What is wrong and what to send instead.")
    type: str = Field(description="Stable machine-readable reason, e.g. `string_too_long`.")


class Problem(BaseModel):
    """An error response (RFC 9457 problem details), sent as `application/problem+json`."""

    type: str = Field(
        description="URI naming the kind of problem, e.g. "
        "`https://missions.example/problems/invalid-state`."
    )
    title: str = Field(description="Short summary of the problem type; fixed per `type`.")
    status: int = Field(description="The HTTP status code of the response.")
    detail: str = Field(description="What went wrong in this occurrence, for developers.")
    instance: str | None = Field(default=None, description="The request path.")
    code: str = Field(description="Stable machine-readable code, e.g. `invalid_state`.")
    hint: str | None = Field(default=None, description="What to send or do instead.")
    errors: list[FieldError] | None = Field(
        default=None, description="For invalid requests: each invalid field."
    )
    message: str = Field(description="Same as `detail`; kept for callers of the first shape.")
    details: dict[str, Any] = Field(
        default_factory=dict, description="Facts about the error, e.g. `decline_code`."
    )


def problem_type(code: str, status: int) -> ProblemType:
    """Return the registered type of `code`, or an `about:blank`-style type for `status`."""
    registered = PROBLEM_TYPES.get(code)
    if registered is not None:
        return registered
    phrase = HTTPStatus(status).phrase
    return ProblemType(code, status, phrase, "")


def build_problem(
    code: str,
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    details: dict[str, Any] | None = None,
    errors: list[FieldError] | None = None,
) -> Problem:
    kind = problem_type(code, status)
    return Problem(
        type=kind.uri if code in PROBLEM_TYPES else "about:blank",
        title=kind.title,
        status=status,
        detail=detail,
        instance=instance,
        code=code,
        hint=kind.hint or None,
        errors=errors,
        message=detail,
        details=jsonable_encoder(details or {}),
    )


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    """Build the `application/problem+json` response of `problem`."""
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )
