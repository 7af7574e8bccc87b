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

# A read-model write first runs as a local activity, inside the workflow task, which stays
# open meanwhile. Queries of the mission wait, and the server rejects some of them with
# "consistent query buffer is full". So its attempts are short and few: at most 3 x 2 s plus
# 0.5 + 1 s of backoff. That also ends before the worker would extend the 10 s workflow
# task (at about 8 s, 3 events each time). Then the write goes on as an activity with
# DATABASE_WRITE, whose retries record no events. Attempts bound this phase because
# temporalio 1.35 does not apply a local activity's schedule-to-close timeout to retries
# inside the workflow task (on the dev server, attempts went on past it).
DATABASE_LOCAL_CALL_TIMEOUT = timedelta(seconds=2)
DATABASE_LOCAL_WRITE = RetryPolicy(
    initial_interval=DATABASE_WRITE.initial_interval,
    backoff_coefficient=DATABASE_WRITE.backoff_coefficient,
    maximum_interval=DATABASE_WRITE.maximum_interval,
    maximum_attempts=3,
)
