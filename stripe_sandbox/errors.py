"""Stripe-shaped API errors.

Every failure leaves the server as `{"error": {"type", "code", "message", "param", ...}}`
with the HTTP status that Stripe uses, because stripe-python picks the exception class
from the status and reads the fields from that body.
"""

from __future__ import annotations

from typing import Any

INVALID_REQUEST = "invalid_request_error"
CARD_ERROR = "card_error"
IDEMPOTENCY_ERROR = "idempotency_error"
API_ERROR = "api_error"


class StripeAPIError(Exception):
    """An error response with Stripe's body shape.

    `replayable` marks errors raised after the request changed state (a card decline
    leaves a failed charge behind), so an idempotent retry must replay them instead of
    running again. Validation errors are not replayable, as on Stripe.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = INVALID_REQUEST,
        code: str | None = None,
        param: str | None = None,
        replayable: bool = False,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.replayable = replayable
        self.headers = headers or {}
        self.extra = extra

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


def invalid_request(
    message: str, *, code: str | None = None, param: str | None = None, **extra: Any
) -> StripeAPIError:
    return StripeAPIError(400, message, code=code, param=param, **extra)


def resource_missing(label: str, object_id: str, *, param: str | None = None) -> StripeAPIError:
    """Build the 404 for an unknown id; `label` is Stripe's name such as 'payment_intent'."""
    return StripeAPIError(
        404, f"No such {label}: '{object_id}'", code="resource_missing", param=param
    )


def parameter_missing(param: str) -> StripeAPIError:
    return invalid_request(
        f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def parameter_unknown(param: str) -> StripeAPIError:
    return invalid_request(
        f"Received unknown parameter: {param}. The sandbox accepts only the parameters "
        "that Stripe documents for this endpoint and that it implements.",
        code="parameter_unknown",
        param=param,
    )


def parameter_invalid(param: str, message: str, *, code: str | None = None) -> StripeAPIError:
    return invalid_request(message, code=code, param=param)


def unexpected_state(intent: dict[str, Any], action: str) -> StripeAPIError:
    """Build the error for an intent whose status forbids `action` (e.g. 'canceled')."""
    return invalid_request(
        f"PaymentIntent {intent['id']} has status {intent['status']}, so it cannot be {action}.",
        code="payment_intent_unexpected_state",
        payment_intent=intent,
    )
