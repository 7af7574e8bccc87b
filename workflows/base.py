"""State helpers and plumbing shared by the mission workflow's parts.

No I/O happens here: activities are only scheduled, through `workflow.execute_activity` and
`workflow.execute_local_activity`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from missions import money
    from missions import search_attributes as attrs
    from missions.activity_models import (
        LedgerAccount,
        LedgerEntry,
        NotificationRequest,
        ProjectionInput,
    )
    from missions.contracts import (
        TERMINAL_STATES,
        Actor,
        Application,
        ApplicationStatus,
        DeadlineKind,
        Deadlines,
        MissionInput,
        MissionSnapshot,
        MissionState,
        Payment,
        Review,
        Role,
    )
    from missions.errors import InvalidState, MissionError, MissionNotFound
    from missions.rules import Action, Party, check
    from workflows import policies
    from workflows.payouts import PendingPayout

S = MissionState
Acct = LedgerAccount
OPS_RECIPIENT = ("ops", Role.OPS)
# Deadline fields whose name differs from their timer's kind.
TIMER_FIELDS = {"payment_poll": "next_payment_poll"}
# The state in which each deadline that ops may move is running.
DEADLINE_STATES = {
    DeadlineKind.SELECTION: S.OPEN,
    DeadlineKind.PAYMENT: S.AWAITING_PAYMENT,
    DeadlineKind.CONFIRMATION: S.COMPLETION_REQUESTED,
    DeadlineKind.REVIEW: S.REVIEWING,
}
SETTLED_STATES = TERMINAL_STATES | {S.RELEASED, S.REVIEWING}

# Patch of version 0.2.0, which writes the read model with local activities, skips
# search-attribute upserts that change nothing and keeps the deadline timer while the
# deadline stays the same. Runs that started before it replay the old branches (see
# "Changing workflow code" in docs/operations.md). One id serves the three changes because
# each patch id records a marker and a TemporalChangeVersion upsert in every new run.
FEWER_HISTORY_EVENTS = "fewer-history-events"

# The search-attribute values of one upsert: state, attention flag, next deadline, provider
# and amount, with None for an attribute the upsert leaves out.
SearchAttributeValues = tuple[str, bool, datetime | None, str | None, int | None]


def rejection(error: MissionError) -> ApplicationError:
    return ApplicationError(error.message, error.details, type=error.code, non_retryable=True)


def stripe_failure(error: ActivityError, what: str) -> ApplicationError:
    cause = error.cause
    message = cause.message if isinstance(cause, ApplicationError) else str(cause)
    return ApplicationError(
        f"{what} failed at the payment provider: {message}",
        type="payment_provider_error",
        non_retryable=True,
    )


class MissionBase:
    """Mission state, its derived values, notifications and publication of changes."""

    # State shared by the mixins; MissionWorkflow's initializer sets every field.
    _input: MissionInput
    _s: MissionSnapshot
    _lock: asyncio.Lock
    _version: int
    _notifications: list[NotificationRequest]
    _notification_count: int
    _selection_count: int
    _payment_attempts: int
    _pending_reviews: dict[Role, Review]
    _seen_payment_events: set[str]
    _payout: PendingPayout | None
    _ledger: list[LedgerEntry]
    _ledger_count: int
    _revenue_booked: int
    _upserted_search_attributes: SearchAttributeValues | None

    def _changed_since(self, version: int) -> Callable[[], bool]:
        return lambda: self._version != version

    def _next_timer(self) -> tuple[str, datetime] | None:
        d = self._s.deadlines
        candidates: list[tuple[str, datetime | None]] = [("payout_retry", d.payout_retry)]
        state = self._s.state
        if state is S.OPEN:
            candidates.append(("selection", d.selection))
        elif state is S.AWAITING_PAYMENT:
            candidates += [("payment_poll", d.next_payment_poll), ("payment", d.payment)]
        elif state is S.COMPLETION_REQUESTED:
            candidates += [
                ("confirmation_reminder", d.confirmation_reminder),
                ("confirmation", d.confirmation),
            ]
        elif state is S.REVIEWING:
            candidates += [("review_reminder", d.review_reminder), ("review", d.review)]
        due = [(kind, at) for kind, at in candidates if at is not None]
        return min(due, key=lambda item: item[1]) if due else None

    def _expire(self) -> None:
        self._s.state = S.EXPIRED
        self._s.deadlines = Deadlines()
        self._notify("mission_expired", [self._client()])

    def _back_to_open(self, *, withdrawn: bool, keep_application: bool = False) -> None:
        """Return to `open` after a payment lapse, a cancelled payment or a withdrawal."""
        selected = self._find_application(self._s.selected_application_id or "")
        if keep_application:
            selected.status = ApplicationStatus.LIVE
        else:
            selected.status = (
                ApplicationStatus.WITHDRAWN if withdrawn else ApplicationStatus.DECLINED
            )
        self._s.selected_application_id = None
        self._s.provider_id = None
        self._s.quote = None
        # The old PaymentIntent is cancelled or refunded by now; a new selection makes another.
        self._s.payment = None
        self._s.deadlines.payment = None
        self._s.deadlines.next_payment_poll = None
        selection_deadline = self._s.deadlines.selection
        if selection_deadline is not None and workflow.now() >= selection_deadline:
            self._expire()
        else:
            self._s.state = S.OPEN
            self._notify("mission_reopened", [self._client()])

    def _open_review_window(self) -> None:
        now = workflow.now()
        durations = self._input.durations
        deadline = now + durations.review_window
        reminder = deadline - durations.review_reminder_before
        self._s.state = S.REVIEWING
        self._s.deadlines.review = deadline
        self._s.deadlines.review_reminder = reminder if reminder > now else None
        self._notify(
            "review_window_opened",
            [self._client(), self._provider()],
            deadline=self._iso(deadline),
        )

    def _finish_without_reviews(self) -> None:
        self._s.state = S.CLOSED
        self._s.deadlines = Deadlines()
        self._notify("mission_closed", [self._client(), self._provider()])

    def _held_minor(self) -> int:
        m = self._s.money
        return m.captured_minor - m.refunded_minor - m.provider_payout_minor - m.charged_back_minor

    def _guard(self, action: Action, actor: Actor) -> Party:
        try:
            return check(action, actor, self._s)
        except MissionError as error:
            raise rejection(error) from None

    def _reject_while_payout_pending(self) -> None:
        if self._payout is None:
            return
        if self._s.payout_pending:
            message = (
                f"a payout of mission {self._s.mission_id} is waiting for the provider's "
                "account; retry once it went out"
            )
        else:
            message = (
                f"a payout of mission {self._s.mission_id} is in progress; read the mission "
                "for its outcome"
            )
        raise rejection(InvalidState(message))

    def _find_application(self, application_id: str) -> Application:
        for application in self._s.applications:
            if application.application_id == application_id:
                return application
        raise rejection(
            MissionNotFound(
                f"application {application_id!r} not found on mission {self._s.mission_id}"
            )
        )

    def _payment(self) -> Payment:
        assert self._s.payment is not None, "no payment for this mission yet"
        return self._s.payment

    def _quote(self) -> money.Quote:
        assert self._s.quote is not None, "no agreed price for this mission yet"
        return self._s.quote

    def _client(self) -> tuple[str, Role]:
        return (self._s.client_id, Role.CLIENT)

    def _provider(self) -> tuple[str, Role]:
        return (self._s.provider_id or "", Role.PROVIDER)

    @staticmethod
    def _iso(moment: datetime | None) -> str:
        return moment.isoformat() if moment is not None else ""

    def _notify(
        self, template: str, recipients: list[tuple[str, Role]], **params: str | int
    ) -> None:
        for recipient_id, role in recipients:
            if not recipient_id:
                continue
            self._notification_count += 1
            self._notifications.append(
                NotificationRequest(
                    key=f"{self._s.mission_id}:{self._notification_count}:{template}:{recipient_id}",
                    recipient_id=recipient_id,
                    recipient_role=role,
                    template=template,
                    params={
                        "title": self._s.request.title,
                        "mission_id": self._s.mission_id,
                        "currency": self._s.money.currency,
                        **params,
                    },
                    locale=self._input.locale,
                )
            )

    def _snapshot(self) -> MissionSnapshot:
        return self._s.model_copy(deep=True)

    async def _money_step_failed(self, error: ActivityError, what: str) -> ApplicationError:
        """Flag the mission for ops after Stripe finally rejected a money step.

        Returns the error the update ends with; whatever moved before the failure stays
        recorded, so ops see exactly where the mission stopped.
        """
        workflow.logger.error("mission %s: %s failed: %s", self._s.mission_id, what, error.cause)
        self._s.needs_attention = True
        await self._commit("money_step_failed")
        return stripe_failure(error, what)

    def _book(
        self,
        kind: str,
        debit: LedgerAccount,
        credit: LedgerAccount,
        amount_minor: int,
        stripe_object_id: str | None = None,
    ) -> None:
        """Queue one ledger entry; the next commit writes it with the read model."""
        if amount_minor <= 0:
            return
        self._ledger_count += 1
        self._ledger.append(
            LedgerEntry(
                key=f"{self._ledger_count}:{kind}",
                kind=kind,
                debit=debit,
                credit=credit,
                amount_minor=amount_minor,
                currency=self._s.money.currency,
                stripe_object_id=stripe_object_id,
            )
        )

    async def _commit(self, event: str) -> None:
        """Publish a change: search attributes, then the read model and its notifications."""
        self._version += 1
        # The read model keeps the row with the latest updated_at. Commits within one
        # workflow task share workflow.now(), so each gets a later time than the one before.
        now = workflow.now()
        previous = self._s.updated_at
        self._s.updated_at = now if now > previous else previous + timedelta(microseconds=1)
        # What the platform keeps is known only once nothing is held in escrow for a party.
        settled = self._s.state in SETTLED_STATES and self._payout is None
        self._s.money.platform_revenue_minor = self._held_minor() if settled else 0
        if settled and self._held_minor() > self._revenue_booked:
            revenue = self._held_minor() - self._revenue_booked
            self._book("platform_revenue", Acct.PLATFORM_REVENUE, Acct.ESCROW, revenue)
            self._revenue_booked += revenue
        self._upsert_search_attributes()
        notifications, self._notifications = self._notifications, []
        ledger, self._ledger = self._ledger, []
        workflow.logger.info(
            "mission %s: %s, now %s", self._s.mission_id, event, self._s.state.value
        )
        await self._write_read_model(
            "project_mission",
            ProjectionInput(
                snapshot=self._snapshot(),
                event=event,
                notifications=notifications,
                ledger_entries=ledger,
            ),
        )

    async def _write_read_model(self, activity: str, data: BaseModel) -> None:
        """Run one of the read-model activities, which are idempotent database upserts."""
        if workflow.patched(FEWER_HISTORY_EVENTS):
            # A local activity records one marker, where an activity records three events
            # and one more workflow task. It runs inside the workflow task, so a worker
            # crash before the task completes runs the write again on another worker,
            # which the upserts make safe. While it retries, the workflow task stays open,
            # so after DATABASE_LOCAL_WRITE's attempts the write goes on as an activity.
            try:
                await workflow.execute_local_activity(
                    activity,
                    data,
                    start_to_close_timeout=policies.DATABASE_LOCAL_CALL_TIMEOUT,
                    retry_policy=policies.DATABASE_LOCAL_WRITE,
                )
                return
            except FailureError as error:
                # temporalio 1.35 raises the activity's own ApplicationError once a local
                # activity runs out of attempts, and an ActivityError for a timeout.
                workflow.logger.warning(
                    "mission %s: %s failed as a local activity, retrying it as an activity: %s",
                    self._s.mission_id,
                    activity,
                    error,
                )
        await workflow.execute_activity(
            activity,
            data,
            start_to_close_timeout=policies.DATABASE_CALL_TIMEOUT,
            retry_policy=policies.DATABASE_WRITE,
        )

    def _upsert_search_attributes(self) -> None:
        d = self._s.deadlines
        upcoming = [
            at
            for at in (d.selection, d.payment, d.confirmation, d.review, d.payout_retry)
            if at is not None
        ]
        next_deadline = min(upcoming) if upcoming else None
        provider_id = self._s.provider_id or None
        amount_minor = self._s.quote.client_total_minor if self._s.quote is not None else None
        values = (
            self._s.state.value,
            self._s.needs_attention,
            next_deadline,
            provider_id,
            amount_minor,
        )
        # An upsert that sets every attribute to its current value changes nothing on the
        # server but still costs a history event. The cost of skipping it: a value changed
        # from outside the workflow stays until one of these values changes here.
        unchanged = values == self._upserted_search_attributes
        if workflow.patched(FEWER_HISTORY_EVENTS) and unchanged:
            return
        self._upserted_search_attributes = values

        updates: list[SearchAttributeUpdate[Any]] = [
            attrs.MISSION_STATE.value_set(self._s.state.value),
            attrs.NEEDS_ATTENTION.value_set(self._s.needs_attention),
            attrs.NEXT_DEADLINE.value_set(next_deadline)
            if next_deadline is not None
            else attrs.NEXT_DEADLINE.value_unset(),
        ]
        if provider_id is not None:
            updates.append(attrs.PROVIDER_ID.value_set(provider_id))
        if amount_minor is not None:
            updates.append(attrs.AMOUNT_MINOR.value_set(amount_minor))
        workflow.upsert_search_attributes(updates)
