"""The errors a mission command can end with, each with a stable code the API maps to a status.

The workflow raises `ApplicationError(type=code)`; the client turns that back into the
matching `MissionError` subclass, so the API and direct callers see the same errors.
"""

from __future__ import annotations

from typing import Any, ClassVar


class MissionError(Exception):
    """A rejected or failed mission command."""

    code: ClassVar[str] = "mission_error"
    status: ClassVar[int] = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Unauthenticated(MissionError):
    code = "unauthenticated"
    status = 401


class Forbidden(MissionError):
    code = "forbidden"
    status = 403


class MissionNotFound(MissionError):
    code = "not_found"
    status = 404


class InvalidState(MissionError):
    code = "invalid_state"
    status = 409


class Conflict(MissionError):
    code = "conflict"
    status = 409


class InvalidInput(MissionError):
    code = "invalid_input"
    status = 422


class PaymentDeclined(MissionError):
    code = "card_declined"
    status = 402


class PaymentProviderError(MissionError):
    code = "payment_provider_error"
    status = 502


class Unavailable(MissionError):
    """Temporal or another dependency failed; the command may be retried."""

    code = "unavailable"
    status = 503


# The errors below come from the HTTP layer only; no workflow raises them.


class PayloadTooLarge(MissionError):
    code = "payload_too_large"
    status = 413


class RateLimited(MissionError):
    """Too many requests; `retry_after` is the whole number of seconds to wait."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class IdempotencyKeyReused(MissionError):
    """An `Idempotency-Key` sent again with another request body or route."""

    code = "idempotency_key_reused"
    status = 422


class IdempotencyKeyInUse(MissionError):
    """An `Idempotency-Key` whose first request is still running."""

    code = "idempotency_key_in_use"
    status = 409


ERRORS_BY_CODE: dict[str, type[MissionError]] = {
    cls.code: cls
    for cls in (
        Unauthenticated,
        Forbidden,
        MissionNotFound,
        InvalidState,
        Conflict,
        InvalidInput,
        PaymentDeclined,
        PaymentProviderError,
        Unavailable,
    )
}
