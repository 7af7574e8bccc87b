"""Stripe activities: thin wrappers that map Stripe's responses to retryable or final errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import stripe
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from missions.activity_models import (
    CARD_DECLINED,
    INVALID_PAYMENT_METHOD,
    PROVIDER_NOT_PAYABLE,
    STRIPE_IDEMPOTENCY_ERROR,
    STRIPE_REJECTED,
    ConfirmPaymentIntentInput,
    CreatePaymentIntentInput,
    PaymentIntentInfo,
    PaymentIntentRef,
    RefundInfo,
    RefundInput,
    TransferInfo,
    TransferInput,
)
from missions.db.repositories import (
    get_provider_payout_account,
    set_payouts_enabled_for_account,
)
from missions.errors import PaymentDeclined
from missions.payments import PaymentsGateway

T = TypeVar("T")

# Stripe codes that mean the destination account cannot receive this transfer now.
_ACCOUNT_UNUSABLE_CODES = frozenset(
    {
        "account_invalid",
        "transfers_not_allowed",
        "account_closed",
        "insufficient_capabilities_for_transfer",
    }
)


def _call_stripe(mission_id: str, operation: str, call: Callable[[], T]) -> T:
    """Run one Stripe call, turning final rejections into non-retryable errors.

    Network failures, rate limits and Stripe's 5xx responses propagate unchanged, so the
    activity's retry policy retries them with the same idempotency key.
    """
    try:
        return call()
    except PaymentDeclined as error:
        activity.logger.info("mission %s: %s declined: %s", mission_id, operation, error.details)
        raise ApplicationError(
            error.message, error.details, type=CARD_DECLINED, non_retryable=True
        ) from error
    except stripe.IdempotencyError as error:
        activity.logger.error(
            "mission %s: %s reused an idempotency key with other parameters: %s",
            mission_id,
            operation,
            error.user_message,
        )
        raise ApplicationError(
            f"{operation} for mission {mission_id} hit an idempotency conflict at Stripe",
            type=STRIPE_IDEMPOTENCY_ERROR,
            non_retryable=True,
        ) from error
    except stripe.InvalidRequestError as error:
        code = error.code or "invalid_request"
        if code == "balance_insufficient":
            # Pending funds become available over time, so this one is worth retrying.
            activity.logger.warning(
                "mission %s: %s waits for available balance: %s",
                mission_id,
                operation,
                error.user_message,
            )
            raise ApplicationError(
                f"{operation} for mission {mission_id} waits for available balance",
                {"stripe_code": code},
                type="stripe_balance_insufficient",
            ) from error
        if code == "resource_missing" and error.param == "payment_method":
            activity.logger.info(
                "mission %s: %s named an unknown PaymentMethod", mission_id, operation
            )
            raise ApplicationError(
                f"PaymentMethod not found at Stripe: {error.user_message}",
                {"stripe_code": code},
                type=INVALID_PAYMENT_METHOD,
                non_retryable=True,
            ) from error
        activity.logger.error(
            "mission %s: Stripe rejected %s: %s (%s)",
            mission_id,
            operation,
            error.user_message,
            code,
        )
        error_type = PROVIDER_NOT_PAYABLE if code in _ACCOUNT_UNUSABLE_CODES else STRIPE_REJECTED
        raise ApplicationError(
            f"Stripe rejected {operation} for mission {mission_id}: {error.user_message}",
            {"stripe_code": code},
            type=error_type,
            non_retryable=True,
        ) from error


# Every activity here is declared with `no_thread_cancel_exception`. Otherwise, on a timeout
# or cancellation, temporalio raises an exception inside the worker thread at any bytecode,
# even while the thread holds the logging module's handler lock. That lock then stays taken
# and stops every thread of the worker. Instead, the thread ends its call and its result is
# dropped, and the idempotency key makes the retry safe.


class PaymentActivities:
    """Stripe calls of the mission workflow; the gateway and sessions are built at worker start."""

    def __init__(self, gateway: PaymentsGateway, sessions: sessionmaker[Session]) -> None:
        self._gateway = gateway
        self._sessions = sessions

    @activity.defn(no_thread_cancel_exception=True)
    def create_payment_intent(self, data: CreatePaymentIntentInput) -> PaymentIntentInfo:
        return _call_stripe(
            data.mission_id,
            "create PaymentIntent",
            lambda: self._gateway.create_payment_intent(
                mission_id=data.mission_id,
                client_id=data.client_id,
                amount_minor=data.amount_minor,
                currency=data.currency,
                description=data.description,
                selection_number=data.selection_number,
            ),
        )

    @activity.defn(no_thread_cancel_exception=True)
    def confirm_payment_intent(self, data: ConfirmPaymentIntentInput) -> PaymentIntentInfo:
        return _call_stripe(
            data.mission_id,
            "confirm PaymentIntent",
            lambda: self._gateway.confirm_payment_intent(
                mission_id=data.mission_id,
                payment_intent_id=data.payment_intent_id,
                payment_method=data.payment_method,
                attempt_number=data.attempt_number,
            ),
        )

    @activity.defn(no_thread_cancel_exception=True)
    def retrieve_payment_intent(self, data: PaymentIntentRef) -> PaymentIntentInfo:
        return _call_stripe(
            data.mission_id,
            "retrieve PaymentIntent",
            lambda: self._gateway.retrieve_payment_intent(payment_intent_id=data.payment_intent_id),
        )

    @activity.defn(no_thread_cancel_exception=True)
    def cancel_payment_intent(self, data: PaymentIntentRef) -> PaymentIntentInfo:
        return _call_stripe(
            data.mission_id,
            "cancel PaymentIntent",
            lambda: self._gateway.cancel_payment_intent(
                mission_id=data.mission_id, payment_intent_id=data.payment_intent_id
            ),
        )

    @activity.defn(no_thread_cancel_exception=True)
    def refund(self, data: RefundInput) -> RefundInfo:
        return _call_stripe(
            data.mission_id,
            "refund",
            lambda: self._gateway.refund(
                mission_id=data.mission_id,
                payment_intent_id=data.payment_intent_id,
                amount_minor=data.amount_minor,
                purpose=data.purpose,
            ),
        )

    @activity.defn(no_thread_cancel_exception=True)
    def transfer_to_provider(self, data: TransferInput) -> TransferInfo:
        """Transfer to the provider's connected account, read from the database at call time.

        Reading the account here, not in the workflow, lets a provider who finishes
        onboarding while a payout waits be paid on the next retry.
        """
        with self._sessions() as session:
            account = get_provider_payout_account(session, data.provider_id)
        if account is not None and not account[1]:
            account = self._refresh_payouts_enabled(data.mission_id, account[0])
        if account is None or not account[1]:
            reason = "no connected account" if account is None else "payouts disabled"
            activity.logger.warning(
                "mission %s: provider %s cannot be paid yet: %s",
                data.mission_id,
                data.provider_id,
                reason,
            )
            raise ApplicationError(
                f"provider {data.provider_id} cannot be paid yet: {reason}",
                {"reason": reason},
                type=PROVIDER_NOT_PAYABLE,
                non_retryable=True,
            )
        destination = account[0]
        return _call_stripe(
            data.mission_id,
            "transfer",
            lambda: self._gateway.transfer(
                mission_id=data.mission_id,
                destination=destination,
                amount_minor=data.amount_minor,
                currency=data.currency,
                charge_id=data.charge_id,
                purpose=data.purpose,
            ),
        )

    def _refresh_payouts_enabled(self, mission_id: str, account_id: str) -> tuple[str, bool]:
        """Ask Stripe whether the account can be paid now, and store the result.

        The stored flag dates from the last account event received, so a provider who
        finished onboarding since then is paid without waiting for that event.
        """
        enabled = _call_stripe(
            mission_id, "retrieve account", lambda: self._gateway.payouts_enabled(account_id)
        )
        if enabled:
            with self._sessions.begin() as session:
                set_payouts_enabled_for_account(session, account_id, True)
            activity.logger.info(
                "mission %s: account %s can receive payouts now", mission_id, account_id
            )
        return account_id, enabled
