"""Commands only ops send: moving a running deadline and retrying a waiting payout.

The updates are inherited by MissionWorkflow, so they share its lock and its state.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from missions.contracts import ActorInput, DeadlineKind, MissionSnapshot, MoveDeadlineInput
    from missions.errors import InvalidState
    from missions.rules import Action
    from workflows.base import DEADLINE_STATES, rejection, stripe_failure
    from workflows.money_steps import MoneySteps


class OpsCommands(MoneySteps):
    """The ops-only updates of a mission."""

    @workflow.update
    async def move_deadline(self, data: MoveDeadlineInput) -> MissionSnapshot:
        async with self._lock:
            self._validate_move_deadline(data)
            now = workflow.now()
            durations = self._input.durations
            deadlines = self._s.deadlines
            previous = getattr(deadlines, data.deadline.value)
            setattr(deadlines, data.deadline.value, data.at)
            if data.deadline is DeadlineKind.CONFIRMATION:
                reminder = data.at - durations.confirmation_reminder_before
                deadlines.confirmation_reminder = reminder if reminder > now else None
            elif data.deadline is DeadlineKind.REVIEW:
                reminder = data.at - durations.review_reminder_before
                deadlines.review_reminder = reminder if reminder > now else None
            elif data.deadline is DeadlineKind.PAYMENT:
                poll = deadlines.next_payment_poll
                if poll is not None and poll >= data.at:
                    deadlines.next_payment_poll = None
            workflow.logger.info(
                "mission %s: %s moved the %s deadline from %s to %s (%s)",
                self._s.mission_id,
                data.actor.user_id,
                data.deadline.value,
                self._iso(previous),
                data.at.isoformat(),
                data.reason or "no reason given",
            )
            await self._commit(f"{data.deadline.value}_deadline_moved")
            return self._snapshot()

    @move_deadline.validator
    def _validate_move_deadline(self, data: MoveDeadlineInput) -> None:
        self._guard(Action.MOVE_DEADLINE, data.actor)
        running_in = DEADLINE_STATES[data.deadline]
        if self._s.state is not running_in:
            raise rejection(
                InvalidState(
                    f"the {data.deadline.value} deadline runs only while a mission is "
                    f"{running_in.value}; mission {self._s.mission_id} is {self._s.state.value}",
                    deadline=data.deadline.value,
                    state=self._s.state.value,
                )
            )

    @workflow.update
    async def retry_payout(self, data: ActorInput) -> MissionSnapshot:
        async with self._lock:
            self._validate_retry_payout(data)
            workflow.logger.info(
                "mission %s: %s retries the waiting payout", self._s.mission_id, data.actor.user_id
            )
            try:
                await self._try_payout()
            except ActivityError as error:
                raise stripe_failure(error, "retrying the payout") from error
            return self._snapshot()

    @retry_payout.validator
    def _validate_retry_payout(self, data: ActorInput) -> None:
        self._guard(Action.RETRY_PAYOUT, data.actor)
        if self._payout is None:
            raise rejection(
                InvalidState(f"no payout of mission {self._s.mission_id} is waiting to be retried")
            )
