"""Named timeouts and retry policies for the mission workflow's activities."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from missions.activity_models import (
    CARD_DECLINED,
    INVALID_PAYMENT_METHOD,
    PROVIDER_NOT_PAYABLE,
    STRIPE_IDEMPOTENCY_ERROR,
    STRIPE_REJECTED,
)

FINAL_STRIPE_ERRORS = [
    CARD_DECLINED,
    INVALID_PAYMENT_METHOD,
    PROVIDER_NOT_PAYABLE,
    STRIPE_REJECTED,
    STRIPE_IDEMPOTENCY_ERROR,
]

# A party is waiting for the result, so give up after about a minute and report the failure.
STRIPE_INTERACTIVE = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=15),
    maximum_attempts=6,
    non_retryable_error_types=FINAL_STRIPE_ERRORS,
)

# Money already owed to someone: keep trying, because the idempotency key makes every
# retry safe and giving up would leave money in escrow.
STRIPE_MONEY_MOVE = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=FINAL_STRIPE_ERRORS,
)

# Read-model writes are idempotent upserts; a database outage should delay them, not lose them.
DATABASE_WRITE = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)

STRIPE_CALL_TIMEOUT = timedelta(seconds=30)
DATABASE_CALL_TIMEOUT = timedelta(seconds=20)
