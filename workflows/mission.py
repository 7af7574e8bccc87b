"""MissionWorkflow: one mission's whole lifecycle, from the client's request to the reviews.

Party commands are updates whose validators apply `missions.rules`, so a rejected command
never reaches the history. Every handler that changes state holds one lock, because
handlers and timers await activities and must not interleave their money moves. Deadlines
are absolute times in the state, so ops can move them while the mission runs.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from missions import money
    from missions.activity_models import (
        CARD_DECLINED,
        INVALID_PAYMENT_METHOD,
        ConfirmPaymentIntentInput,
        CreatePaymentIntentInput,
        LedgerEntry,
        NotificationRequest,
        PaymentIntentInfo,
    )
    from missions.contracts import (
        MAX_LIVE_APPLICATIONS,
        TERMINAL_STATES,
        Actor,
        ActorInput,
        Application,
        ApplicationRef,
        ApplicationStatus,
        ApplyInput,
        ApplyResult,
        CancelInput,
        ChargebackEvent,
        ConfirmPaymentInput,
        Deadlines,
        Dispute,
        DisputeInput,
        Incident,
        IncidentInput,
        MissionInput,
        MissionSnapshot,
        Money,
        Payment,
        PaymentEvent,
        PaymentEventKind,
        ResolveDisputeInput,
        Review,
        ReviewInput,
        Role,
    )
    from missions.errors import Conflict, InvalidInput, InvalidState
    from missions.rules import Action, Party
    from workflows import policies
    from workflows.base import (
        FEWER_HISTORY_EVENTS,
        OPS_RECIPIENT,
        TIMER_FIELDS,
        Acct,
        S,
        rejection,
        stripe_failure,
    )
    from workflows.deadline_timer import DeadlineTimer, Due
    from workflows.ops_commands import OpsCommands
    from workflows.payouts import PayoutNext, PendingPayout


@workflow.defn(name="MissionWorkflow")
class MissionWorkflow(OpsCommands):
    @workflow.init
    def __init__(self, data: MissionInput) -> None:
        now = workflow.now()
        self._input = data
        self._s = MissionSnapshot(
            mission_id=data.mission_id,
            client_id=data.client_id,
            request=data.request,
            state=S.OPEN,
            money=Money(currency=data.request.currency),
            deadlines=Deadlines(selection=now + data.durations.selection_deadline),
            created_at=now,
            updated_at=now,
        )
        self._lock = asyncio.Lock()
        # Bumped on every change, so the main loop recomputes its next timer.
        self._version = 0
        self._notifications: list[NotificationRequest] = []
        self._notification_count = 0
        self._selection_count = 0
        self._payment_attempts = 0
        self._pending_reviews: dict[Role, Review] = {}
        self._seen_payment_events: set[str] = set()
        self._payout: PendingPayout | None = None
        self._ledger: list[LedgerEntry] = []
        self._ledger_count = 0
        # Platform revenue already moved out of escrow in the ledger.
        self._revenue_booked = 0
        self._upserted_search_attributes = None

    @workflow.run
    async def run(self, data: MissionInput) -> MissionSnapshot:
        async with self._lock:
            self._notify("mission_posted", [self._client()])
            await self._commit("mission_posted")

        timer = DeadlineTimer()
        while self._s.state not in TERMINAL_STATES or self._payout is not None:
            seen = self._version
            due = self._next_timer()
            if workflow.patched(FEWER_HISTORY_EVENTS):
                kind = await timer.wait(due, self._changed_since(seen))
            else:
                kind = await self._wait_restarting_timer(due, seen)
            if kind is None:
                continue
            async with self._lock:
                if self._version != seen:
                    continue
                await self._fire_timer(kind)
        timer.cancel()

        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.logger.info("mission %s ended %s", self._s.mission_id, self._s.state.value)
        return self._snapshot()

    async def _wait_restarting_timer(self, due: Due | None, seen: int) -> str | None:
        """Wait like `DeadlineTimer.wait`, with a new timer on every wait (version 0.1.0)."""
        if due is None:
            await workflow.wait_condition(self._changed_since(seen))
            return None
        kind, at = due
        delay = at - workflow.now()
        if delay > timedelta(0):
            try:
                await workflow.wait_condition(
                    self._changed_since(seen), timeout=delay, timeout_summary=kind
                )
                return None
            except TimeoutError:
                pass
        return kind

    async def _fire_timer(self, kind: str) -> None:
        mission_id = self._s.mission_id
        workflow.logger.info("mission %s: %s timer fired", mission_id, kind)
        d = self._s.deadlines
        try:
            if kind == "selection":
                self._expire()
                await self._commit("mission_expired")
            elif kind == "payment_poll":
                await self._poll_payment()
            elif kind == "payment":
                await self._payment_deadline_passed()
            elif kind == "confirmation_reminder":
                d.confirmation_reminder = None
                self._notify(
                    "confirmation_reminder", [self._client()], deadline=self._iso(d.confirmation)
                )
                await self._commit("confirmation_reminder")
            elif kind == "confirmation":
                self._s.auto_released = True
                await self._start_payout(
                    self._quote().provider_payout_minor, "release", PayoutNext.REVIEW
                )
            elif kind == "review_reminder":
                d.review_reminder = None
                waiting = [
                    party
                    for role, party in (
                        (Role.CLIENT, self._client()),
                        (Role.PROVIDER, self._provider()),
                    )
                    if role not in self._pending_reviews
                ]
                self._notify("review_reminder", waiting, deadline=self._iso(d.review))
                await self._commit("review_reminder")
            elif kind == "review":
                await self._close_reviews()
            elif kind == "payout_retry":
                await self._try_payout()
        except ActivityError as error:
            # A final error from Stripe on a timer path: flag the mission for ops and try
            # again later rather than failing the workflow with money in escrow.
            workflow.logger.error(
                "mission %s: %s timer action failed, retrying in %s: %s",
                mission_id,
                kind,
                self._input.durations.payout_retry_interval,
                error.cause,
            )
            retry_at = workflow.now() + self._input.durations.payout_retry_interval
            if self._payout is not None:
                d.payout_retry = retry_at
            else:
                setattr(d, TIMER_FIELDS.get(kind, kind), retry_at)
            self._s.needs_attention = True
            await self._commit(f"{kind}_failed")

    @workflow.update
    async def apply(self, data: ApplyInput) -> ApplyResult:
        async with self._lock:
            self._validate_apply(data)
            application = Application(
                application_id=f"app-{workflow.uuid4()}",
                provider_id=data.actor.user_id,
                price_minor=data.price_minor,
                message=data.message,
                proposed_date=data.proposed_date,
                created_at=workflow.now(),
            )
            self._s.applications.append(application)
            self._notify(
                "application_received",
                [self._client()],
                provider_id=application.provider_id,
                price_minor=application.price_minor,
            )
            await self._commit("application_received")
            return ApplyResult(application_id=application.application_id, snapshot=self._snapshot())

    @apply.validator
    def _validate_apply(self, data: ApplyInput) -> None:
        self._guard(Action.APPLY, data.actor)
        live = [a for a in self._s.applications if a.status is ApplicationStatus.LIVE]
        if any(a.provider_id == data.actor.user_id for a in live):
            raise rejection(
                Conflict(
                    f"provider {data.actor.user_id!r} already has a live application on "
                    f"mission {self._s.mission_id}; withdraw it before applying again"
                )
            )
        if len(live) >= MAX_LIVE_APPLICATIONS:
            raise rejection(
                Conflict(
                    f"mission {self._s.mission_id} already has {MAX_LIVE_APPLICATIONS} live "
                    "applications, the maximum"
                )
            )

    @workflow.update
    async def withdraw_application(self, data: ApplicationRef) -> MissionSnapshot:
        async with self._lock:
            self._validate_withdraw(data)
            application = self._find_application(data.application_id)
            application.status = ApplicationStatus.WITHDRAWN
            self._notify(
                "application_withdrawn", [self._client()], provider_id=application.provider_id
            )
            await self._commit("application_withdrawn")
            return self._snapshot()

    @withdraw_application.validator
    def _validate_withdraw(self, data: ApplicationRef) -> None:
        self._guard(Action.WITHDRAW_APPLICATION, data.actor)
        application = self._find_application(data.application_id)
        if application.provider_id != data.actor.user_id:
            raise rejection(
                InvalidInput(
                    f"application {data.application_id} belongs to another provider; "
                    "a provider may withdraw only their own application"
                )
            )
        if application.status is not ApplicationStatus.LIVE:
            raise rejection(
                InvalidState(
                    f"application {data.application_id} is {application.status.value}, not live"
                )
            )

    @workflow.update
    async def select_application(self, data: ApplicationRef) -> MissionSnapshot:
        async with self._lock:
            self._validate_select(data)
            chosen = self._find_application(data.application_id)
            quote = money.quote(
                chosen.price_minor, self._s.request.currency, self._input.fee_policy
            )
            self._selection_count += 1
            try:
                intent = await workflow.execute_activity(
                    "create_payment_intent",
                    CreatePaymentIntentInput(
                        mission_id=self._s.mission_id,
                        client_id=self._s.client_id,
                        amount_minor=quote.client_total_minor,
                        currency=quote.currency,
                        description=self._s.request.title,
                        selection_number=self._selection_count,
                    ),
                    result_type=PaymentIntentInfo,
                    start_to_close_timeout=policies.STRIPE_CALL_TIMEOUT,
                    retry_policy=policies.STRIPE_INTERACTIVE,
                )
            except ActivityError as error:
                raise stripe_failure(error, "creating the payment") from error

            now = workflow.now()
            durations = self._input.durations
            self._s.state = S.AWAITING_PAYMENT
            self._s.quote = quote
            self._s.selected_application_id = chosen.application_id
            self._s.provider_id = chosen.provider_id
            self._s.payment = Payment(
                payment_intent_id=intent.payment_intent_id,
                client_secret=intent.client_secret,
                amount_minor=intent.amount_minor,
                currency=quote.currency,
                status=intent.status,
            )
            self._s.payment_lapsed = False
            self._s.deadlines.payment = now + durations.payment_deadline
            self._s.deadlines.next_payment_poll = now + durations.payment_poll_interval
            chosen.status = ApplicationStatus.SELECTED
            for other in self._s.applications:
                if other.status is ApplicationStatus.LIVE:
                    other.status = ApplicationStatus.DECLINED
                    self._notify("application_declined", [(other.provider_id, Role.PROVIDER)])
            self._notify("application_selected", [self._provider()], price_minor=quote.price_minor)
            self._notify(
                "payment_requested", [self._client()], amount_minor=quote.client_total_minor
            )
            await self._commit("application_selected")
            return self._snapshot()

    @select_application.validator
    def _validate_select(self, data: ApplicationRef) -> None:
        self._guard(Action.SELECT, data.actor)
        application = self._find_application(data.application_id)
        if application.status is not ApplicationStatus.LIVE:
            raise rejection(
                InvalidState(
                    f"application {data.application_id} is {application.status.value}; "
                    "only a live application can be selected"
                )
            )

    @workflow.update
    async def confirm_payment(self, data: ConfirmPaymentInput) -> MissionSnapshot:
        async with self._lock:
            self._validate_confirm_payment(data)
            payment = self._payment()
            self._payment_attempts += 1
            try:
                intent = await workflow.execute_activity(
                    "confirm_payment_intent",
                    ConfirmPaymentIntentInput(
                        mission_id=self._s.mission_id,
                        payment_intent_id=payment.payment_intent_id,
                        payment_method=data.payment_method,
                        attempt_number=self._payment_attempts,
                    ),
                    result_type=PaymentIntentInfo,
                    start_to_close_timeout=policies.STRIPE_CALL_TIMEOUT,
                    retry_policy=policies.STRIPE_INTERACTIVE,
                )
            except ActivityError as error:
                cause = error.cause
                if isinstance(cause, ApplicationError) and cause.type == CARD_DECLINED:
                    details = cause.details[0] if cause.details else {}
                    self._s.money.declined_attempts += 1
                    self._notify(
                        "payment_declined",
                        [self._client()],
                        decline_code=str(details.get("decline_code", "generic_decline")),
                    )
                    await self._commit("payment_declined")
                    raise ApplicationError(
                        cause.message, details, type=CARD_DECLINED, non_retryable=True
                    ) from error
                if isinstance(cause, ApplicationError) and cause.type == INVALID_PAYMENT_METHOD:
                    raise rejection(
                        InvalidInput(
                            f"payment method {data.payment_method!r} not found at Stripe; "
                            "send the id of a PaymentMethod the client created",
                            payment_method=data.payment_method,
                        )
                    ) from error
                # The payment may have gone through although its response was lost, or an
                # earlier attempt already paid; Stripe's own record decides.
                current = await self._retrieve_intent()
                if current.status != "succeeded":
                    raise stripe_failure(error, "confirming the payment") from error
                intent = current
            await self._apply_intent(intent)
            return self._snapshot()

    @confirm_payment.validator
    def _validate_confirm_payment(self, data: ConfirmPaymentInput) -> None:
        self._guard(Action.CONFIRM_PAYMENT, data.actor)

    @workflow.update
    async def request_release(self, data: ActorInput) -> MissionSnapshot:
        async with self._lock:
            self._validate_request_release(data)
            now = workflow.now()
            durations = self._input.durations
            deadline = now + durations.confirmation_window
            reminder = deadline - durations.confirmation_reminder_before
            self._s.state = S.COMPLETION_REQUESTED
            self._s.deadlines.confirmation = deadline
            self._s.deadlines.confirmation_reminder = reminder if reminder > now else None
            self._notify("completion_requested", [self._client()], deadline=self._iso(deadline))
            await self._commit("completion_requested")
            return self._snapshot()

    @request_release.validator
    def _validate_request_release(self, data: ActorInput) -> None:
        self._guard(Action.REQUEST_RELEASE, data.actor)
        self._reject_while_payout_pending()

    @workflow.update
    async def confirm_completion(self, data: ActorInput) -> MissionSnapshot:
        async with self._lock:
            self._validate_confirm_completion(data)
            await self._start_payout(
                self._quote().provider_payout_minor, "release", PayoutNext.REVIEW
            )
            return self._snapshot()

    @confirm_completion.validator
    def _validate_confirm_completion(self, data: ActorInput) -> None:
        self._guard(Action.CONFIRM_COMPLETION, data.actor)
        self._reject_while_payout_pending()

    @workflow.update
    async def open_dispute(self, data: DisputeInput) -> MissionSnapshot:
        async with self._lock:
            self._validate_open_dispute(data)
            self._s.state = S.DISPUTED
            self._s.dispute = Dispute(
                opened_by=data.actor, reason=data.reason, opened_at=workflow.now()
            )
            self._s.deadlines.confirmation = None
            self._s.deadlines.confirmation_reminder = None
            self._s.needs_attention = True
            self._notify(
                "dispute_opened",
                [self._client(), self._provider(), OPS_RECIPIENT],
                reason=data.reason,
            )
            await self._commit("dispute_opened")
            return self._snapshot()

    @open_dispute.validator
    def _validate_open_dispute(self, data: DisputeInput) -> None:
        self._guard(Action.DISPUTE, data.actor)
        self._reject_while_payout_pending()

    @workflow.update
    async def resolve_dispute(self, data: ResolveDisputeInput) -> MissionSnapshot:
        async with self._lock:
            self._validate_resolve_dispute(data)
            dispute = self._s.dispute
            assert dispute is not None
            dispute.refund_minor = data.refund_minor
            dispute.release_minor = data.release_minor
            dispute.resolved_by = data.actor.user_id
            dispute.resolved_at = workflow.now()
            self._s.needs_attention = False
            try:
                await self._refund(data.refund_minor, "dispute")
            except ActivityError as error:
                raise await self._money_step_failed(error, "refunding the client") from error
            self._notify(
                "dispute_resolved",
                [self._client(), self._provider()],
                refund_minor=data.refund_minor,
                release_minor=data.release_minor,
            )
            if data.release_minor > 0:
                await self._start_payout(data.release_minor, "dispute", PayoutNext.REVIEW)
            else:
                self._finish_without_reviews()
                await self._commit("dispute_resolved")
            return self._snapshot()

    @resolve_dispute.validator
    def _validate_resolve_dispute(self, data: ResolveDisputeInput) -> None:
        self._guard(Action.RESOLVE_DISPUTE, data.actor)
        self._reject_while_payout_pending()
        escrow_minor = self._held_minor()
        if data.refund_minor + data.release_minor > escrow_minor:
            raise rejection(
                InvalidInput(
                    f"refund_minor {data.refund_minor} + release_minor {data.release_minor} "
                    f"exceeds the {escrow_minor} held in escrow for mission {self._s.mission_id}; "
                    "lower one of them",
                    held_minor=escrow_minor,
                )
            )

    @workflow.update
    async def report_incident(self, data: IncidentInput) -> MissionSnapshot:
        async with self._lock:
            self._validate_report_incident(data)
            self._s.incidents.append(
                Incident(
                    reported_by=data.actor,
                    kind=data.kind,
                    text=data.text,
                    reported_at=workflow.now(),
                )
            )
            self._notify(
                "incident_reported",
                [self._client(), self._provider(), OPS_RECIPIENT],
                kind=data.kind.value,
                text=data.text,
            )
            await self._commit("incident_reported")
            return self._snapshot()

    @report_incident.validator
    def _validate_report_incident(self, data: IncidentInput) -> None:
        self._guard(Action.REPORT_INCIDENT, data.actor)

    @workflow.update
    async def cancel(self, data: CancelInput) -> MissionSnapshot:
        async with self._lock:
            self._validate_cancel(data)
            party = self._guard(Action.CANCEL, data.actor)
            if self._s.state is S.AWAITING_PAYMENT:
                intent = await self._cancel_payment_intent()
                if intent.status == "succeeded":
                    await self._apply_intent(intent)
            if self._s.state is S.OPEN:
                self._s.state = S.CANCELLED
                self._s.cancelled_by = data.actor.role
                self._s.deadlines = Deadlines()
                live = [a for a in self._s.applications if a.status is ApplicationStatus.LIVE]
                recipients = [self._client()] + [(a.provider_id, Role.PROVIDER) for a in live]
                self._notify("mission_cancelled", recipients, refund_minor=0)
                await self._commit("mission_cancelled")
            elif self._s.state is S.AWAITING_PAYMENT:
                self._back_to_open(withdrawn=party is Party.SELECTED_PROVIDER)
                await self._commit("mission_reopened")
            else:
                try:
                    if party is Party.SELECTED_PROVIDER:
                        await self._provider_withdraws()
                    else:
                        await self._client_cancels_funded(data.actor)
                except ActivityError as error:
                    raise await self._money_step_failed(error, "cancelling") from error
            return self._snapshot()

    @cancel.validator
    def _validate_cancel(self, data: CancelInput) -> None:
        self._guard(Action.CANCEL, data.actor)
        self._reject_while_payout_pending()

    @workflow.update
    async def submit_review(self, data: ReviewInput) -> MissionSnapshot:
        async with self._lock:
            self._validate_review(data)
            role = self._reviewer_role(data.actor)
            subject = self._s.provider_id if role is Role.CLIENT else self._s.client_id
            self._pending_reviews[role] = Review(
                author_id=data.actor.user_id,
                author_role=role,
                subject_id=subject or "",
                stars=data.stars,
                comment=data.comment,
                submitted_at=workflow.now(),
            )
            self._s.reviews_submitted_by = sorted(self._pending_reviews)
            if len(self._pending_reviews) == 2:
                await self._close_reviews()
            else:
                await self._commit("review_submitted")
            return self._snapshot()

    @submit_review.validator
    def _validate_review(self, data: ReviewInput) -> None:
        self._guard(Action.REVIEW, data.actor)
        role = self._reviewer_role(data.actor)
        if role in self._pending_reviews:
            raise rejection(
                Conflict(
                    f"the {role.value} already reviewed mission {self._s.mission_id}; "
                    "each party may leave one review"
                )
            )

    def _reviewer_role(self, actor: Actor) -> Role:
        return Role.CLIENT if self._guard(Action.REVIEW, actor) is Party.CLIENT else Role.PROVIDER

    @workflow.signal
    async def payment_event(self, event: PaymentEvent) -> None:
        async with self._lock:
            if event.event_id in self._seen_payment_events:
                return
            self._seen_payment_events.add(event.event_id)
            payment = self._s.payment
            if payment is None or payment.payment_intent_id != event.payment_intent_id:
                workflow.logger.info(
                    "mission %s: ignored %s for PaymentIntent %s, not the current one",
                    self._s.mission_id,
                    event.kind.value,
                    event.payment_intent_id,
                )
                return
            if event.kind is PaymentEventKind.SUCCEEDED:
                await self._apply_intent(
                    PaymentIntentInfo(
                        payment_intent_id=event.payment_intent_id,
                        client_secret=payment.client_secret,
                        status="succeeded",
                        amount_minor=event.amount_minor,
                        currency=payment.currency,
                        charge_id=event.charge_id,
                    )
                )
            else:
                # Declines of server-side confirmations are counted by confirm_payment;
                # this only records that Stripe reported one.
                workflow.logger.info(
                    "mission %s: Stripe reported a failed payment (%s)",
                    self._s.mission_id,
                    event.decline_code,
                )

    @workflow.signal
    async def chargeback(self, event: ChargebackEvent) -> None:
        """Freeze the funds like a dispute before release; after it, record the loss."""
        async with self._lock:
            if event.event_id in self._seen_payment_events:
                return
            self._seen_payment_events.add(event.event_id)
            workflow.logger.warning(
                "mission %s: chargeback %s of %s on %s (%s)",
                self._s.mission_id,
                event.dispute_id,
                event.amount_minor,
                event.payment_intent_id,
                event.reason,
            )
            self._s.needs_attention = True
            self._s.money.charged_back_minor += event.amount_minor
            if self._s.state in (S.FUNDED, S.COMPLETION_REQUESTED, S.DISPUTED):
                await self._freeze_for_chargeback(event)
                return
            # Released already: the card network takes the money from the platform's balance.
            self._book(
                "chargeback_loss",
                Acct.CLIENT_CARD,
                Acct.PLATFORM_REVENUE,
                event.amount_minor,
                event.dispute_id,
            )
            self._revenue_booked -= event.amount_minor
            self._notify("dispute_opened", [OPS_RECIPIENT], reason=f"chargeback {event.dispute_id}")
            await self._commit("chargeback_after_release")

    async def _freeze_for_chargeback(self, event: ChargebackEvent) -> None:
        payout = self._payout
        if payout is not None:
            # The owed payout goes back to escrow: the card network decides where it goes.
            self._payout = None
            self._s.payout_pending = False
            self._s.deadlines.payout_retry = None
            self._book(
                f"payable_{payout.purpose}_cancelled",
                Acct.ESCROW,
                Acct.PROVIDER_PAYABLE,
                payout.amount_minor,
            )
        self._book(
            "chargeback", Acct.CLIENT_CARD, Acct.ESCROW, event.amount_minor, event.dispute_id
        )
        if self._s.state is not S.DISPUTED:
            self._s.state = S.DISPUTED
            self._s.dispute = Dispute(
                opened_by=Actor(user_id="card-network", role=Role.OPS),
                reason=f"chargeback {event.dispute_id}: {event.reason or 'no reason given'}",
                opened_at=workflow.now(),
            )
        self._s.deadlines.confirmation = None
        self._s.deadlines.confirmation_reminder = None
        self._notify(
            "dispute_opened",
            [self._client(), self._provider(), OPS_RECIPIENT],
            reason=f"chargeback {event.dispute_id}",
        )
        await self._commit("chargeback_opened")

    @workflow.query
    def snapshot(self) -> MissionSnapshot:
        return self._snapshot()
