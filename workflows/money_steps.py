"""The money steps of a mission: payment, refunds and payouts, each through one activity.

Every Stripe call carries an idempotency key built from the mission id and the step, so a
replayed or retried step never moves money twice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from missions import money
    from missions.activity_models import (
        PROVIDER_NOT_PAYABLE,
        PaymentIntentInfo,
        PaymentIntentRef,
        PublishReviewsInput,
        RefundInfo,
        RefundInput,
        TransferInfo,
        TransferInput,
    )
    from missions.contracts import (
        Actor,
        Deadlines,
        Role,
    )
    from workflows import policies
    from workflows.base import (
        OPS_RECIPIENT,
        Acct,
        MissionBase,
        S,
    )
    from workflows.payouts import PayoutNext, PendingPayout


class MoneySteps(MissionBase):
    """Payment, refund and payout steps, called with the workflow's lock held."""

    async def _apply_intent(self, intent: PaymentIntentInfo) -> None:
        """Record a PaymentIntent's state, and fund the mission if it succeeded.

        Only a mission awaiting payment is funded, so a success learned twice (from the
        confirmation, the webhook and the poll) captures once.
        """
        payment = self._payment()
        payment.status = intent.status
        if intent.status != "succeeded" or self._s.state is not S.AWAITING_PAYMENT:
            return
        payment.charge_id = intent.charge_id
        self._s.money.captured_minor += intent.amount_minor
        self._book(
            "capture", Acct.ESCROW, Acct.CLIENT_CARD, intent.amount_minor, intent.payment_intent_id
        )
        self._s.state = S.FUNDED
        self._s.deadlines.payment = None
        self._s.deadlines.next_payment_poll = None
        self._notify(
            "mission_funded", [self._client(), self._provider()], amount_minor=intent.amount_minor
        )
        await self._commit("mission_funded")

    async def _retrieve_intent(self) -> PaymentIntentInfo:
        return await workflow.execute_activity(
            "retrieve_payment_intent",
            PaymentIntentRef(
                mission_id=self._s.mission_id, payment_intent_id=self._payment().payment_intent_id
            ),
            result_type=PaymentIntentInfo,
            start_to_close_timeout=policies.STRIPE_CALL_TIMEOUT,
            retry_policy=policies.STRIPE_MONEY_MOVE,
        )

    async def _poll_payment(self) -> None:
        intent = await self._retrieve_intent()
        if intent.status == "succeeded":
            await self._apply_intent(intent)
            return
        next_poll = workflow.now() + self._input.durations.payment_poll_interval
        payment_deadline = self._s.deadlines.payment
        if payment_deadline is not None and next_poll >= payment_deadline:
            self._s.deadlines.next_payment_poll = None
        else:
            self._s.deadlines.next_payment_poll = next_poll
        self._version += 1

    async def _payment_deadline_passed(self) -> None:
        intent = await self._cancel_payment_intent()
        if intent.status == "succeeded":
            await self._apply_intent(intent)
            return
        self._s.payment_lapsed = True
        self._notify("payment_lapsed", [self._client(), self._provider()])
        self._back_to_open(withdrawn=False, keep_application=True)
        await self._commit("payment_lapsed")

    async def _cancel_payment_intent(self) -> PaymentIntentInfo:
        return await workflow.execute_activity(
            "cancel_payment_intent",
            PaymentIntentRef(
                mission_id=self._s.mission_id, payment_intent_id=self._payment().payment_intent_id
            ),
            result_type=PaymentIntentInfo,
            start_to_close_timeout=policies.STRIPE_CALL_TIMEOUT,
            retry_policy=policies.STRIPE_MONEY_MOVE,
        )

    async def _refund(self, amount_minor: int, purpose: str) -> None:
        if amount_minor <= 0:
            return
        refund = await workflow.execute_activity(
            "refund",
            RefundInput(
                mission_id=self._s.mission_id,
                payment_intent_id=self._payment().payment_intent_id,
                amount_minor=amount_minor,
                currency=self._s.money.currency,
                purpose=purpose,
            ),
            result_type=RefundInfo,
            start_to_close_timeout=policies.STRIPE_CALL_TIMEOUT,
            retry_policy=policies.STRIPE_MONEY_MOVE,
        )
        self._s.money.refunded_minor += amount_minor
        self._book(
            f"refund_{purpose}", Acct.CLIENT_CARD, Acct.ESCROW, amount_minor, refund.refund_id
        )

    async def _start_payout(self, amount_minor: int, purpose: str, then: PayoutNext) -> None:
        if self._payout is not None:
            # Validators reject every command that could start a second payout; keeping the
            # first one owed is the only safe choice if that ever fails.
            workflow.logger.error(
                "mission %s: payout of %s (%s) not started, %s (%s) is still owed",
                self._s.mission_id,
                amount_minor,
                purpose,
                self._payout.amount_minor,
                self._payout.purpose,
            )
            return
        self._s.deadlines.confirmation = None
        self._s.deadlines.confirmation_reminder = None
        self._payout = PendingPayout(amount_minor=amount_minor, purpose=purpose, then=then)
        self._book(f"payable_{purpose}", Acct.PROVIDER_PAYABLE, Acct.ESCROW, amount_minor)
        await self._try_payout()

    async def _try_payout(self) -> None:
        """Transfer the pending payout; an unpayable provider makes it wait and notifies ops."""
        payout = self._payout
        if payout is None:
            self._s.deadlines.payout_retry = None
            return
        try:
            transfer = await workflow.execute_activity(
                "transfer_to_provider",
                TransferInput(
                    mission_id=self._s.mission_id,
                    provider_id=self._s.provider_id or "",
                    amount_minor=payout.amount_minor,
                    currency=self._s.money.currency,
                    charge_id=self._payment().charge_id or "",
                    purpose=payout.purpose,
                ),
                result_type=TransferInfo,
                start_to_close_timeout=policies.STRIPE_CALL_TIMEOUT,
                retry_policy=policies.STRIPE_MONEY_MOVE,
            )
        except ActivityError as error:
            cause = error.cause
            if not (isinstance(cause, ApplicationError) and cause.type == PROVIDER_NOT_PAYABLE):
                # Stripe rejected the transfer for another reason: keep the payout owed and
                # retry it from the main loop, so the money is never left behind.
                self._s.needs_attention = True
                self._s.deadlines.payout_retry = (
                    workflow.now() + self._input.durations.payout_retry_interval
                )
                await self._commit("payout_failed")
                raise
            first_wait = not self._s.payout_pending
            self._s.payout_pending = True
            self._s.needs_attention = True
            self._s.deadlines.payout_retry = (
                workflow.now() + self._input.durations.payout_retry_interval
            )
            workflow.logger.warning(
                "mission %s: payout of %s waits: %s",
                self._s.mission_id,
                payout.amount_minor,
                cause.message,
            )
            if first_wait:
                self._notify(
                    "payout_pending",
                    [self._provider(), OPS_RECIPIENT],
                    amount_minor=payout.amount_minor,
                    reason=cause.message,
                )
            await self._commit("payout_pending")
            return

        self._payout = None
        self._s.payout_pending = False
        self._s.needs_attention = (
            self._s.dispute is not None and self._s.dispute.resolved_at is None
        )
        self._s.deadlines.payout_retry = None
        self._s.money.provider_payout_minor += payout.amount_minor
        self._book(
            f"transfer_{payout.purpose}",
            Acct.PROVIDER,
            Acct.PROVIDER_PAYABLE,
            payout.amount_minor,
            transfer.transfer_id,
        )
        if payout.then is PayoutNext.CANCELLED:
            await self._commit("cancellation_share_paid")
            return
        self._s.state = S.RELEASED
        template = "auto_released" if self._s.auto_released else "funds_released"
        self._notify(template, [self._client(), self._provider()], amount_minor=payout.amount_minor)
        await self._commit(template)
        self._open_review_window()
        await self._commit("review_window_opened")

    async def _provider_withdraws(self) -> None:
        refund = self._held_minor()
        await self._refund(refund, "provider_withdrawal")
        self._notify("provider_withdrew", [self._client()], refund_minor=refund)
        self._back_to_open(withdrawn=True)
        await self._commit("provider_withdrew")

    async def _client_cancels_funded(self, actor: Actor) -> None:
        escrow_minor = self._held_minor()
        scheduled = self._s.request.scheduled_at
        policy = self._input.cancellation_policy
        late = (
            actor.role is Role.CLIENT
            and scheduled is not None
            and workflow.now() > scheduled - timedelta(hours=policy.free_until_hours_before)
        )
        split = money.late_cancellation_split(self._quote(), policy, late=late)
        refund = min(split.refund_minor, escrow_minor)
        await self._refund(refund, "cancellation")
        self._s.cancelled_by = actor.role
        self._notify("mission_cancelled", [self._client(), self._provider()], refund_minor=refund)
        # The mission ends now; a provider's share that cannot be paid yet stays owed and the
        # workflow keeps running until it is transferred.
        self._s.state = S.CANCELLED
        self._s.deadlines = Deadlines()
        if split.provider_payout_minor > 0:
            await self._start_payout(
                split.provider_payout_minor, "late_cancellation", PayoutNext.CANCELLED
            )
            return
        await self._commit("mission_cancelled")

    async def _close_reviews(self) -> None:
        """Publish the reviews received so far, double-blind until now, and close."""
        reviews = sorted(self._pending_reviews.values(), key=lambda review: review.author_role)
        if reviews:
            await self._write_read_model(
                "publish_reviews",
                PublishReviewsInput(mission_id=self._s.mission_id, reviews=reviews),
            )
            self._notify(
                "reviews_published", [self._client(), self._provider()], count=len(reviews)
            )
        self._s.published_reviews = reviews
        self._s.state = S.CLOSED
        self._s.deadlines = Deadlines()
        self._notify("mission_closed", [self._client(), self._provider()])
        await self._commit("mission_closed")
