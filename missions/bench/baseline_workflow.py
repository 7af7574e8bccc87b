"""The engine's floor: a workflow with a mission's shape and empty bodies.

It makes the same number of updates, signals, activity calls and timers as a measured
mission, as given by its `BaselinePlan`, so the ratio of the two throughputs shows what
the mission's own work costs on top of Temporal's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow

BASELINE_WORKFLOW_TYPE = "BaselineWorkflow"
NOOP_ACTIVITY = "baseline_noop"
# Long enough never to fire during a run, like a mission's deadlines.
WAIT_TIMEOUT = timedelta(days=1)
NOOP_TIMEOUT = timedelta(seconds=30)


class StepShape(BaseModel):
    """The activity calls one step of a mission made."""

    activities: int = Field(default=0, ge=0)
    local_activities: int = Field(default=0, ge=0)


class BaselinePlan(BaseModel):
    """The shape of one mission's history, as `history.plan_from_history` reads it."""

    startup: StepShape = StepShape()
    updates: list[StepShape] = Field(default_factory=list)
    # For each signal, the index of the update it follows; -1 before the first update.
    signal_after: list[int] = Field(default_factory=list)
    timers: int = Field(default=0, ge=0)


@workflow.defn(name=BASELINE_WORKFLOW_TYPE)
class BaselineWorkflow:
    @workflow.init
    def __init__(self, plan: BaselinePlan) -> None:
        self._plan = plan
        self._updates_done = 0
        self._signals_received = 0
        self._timers_started = 0
        self._version = 0

    @workflow.run
    async def run(self, plan: BaselinePlan) -> int:
        await self._perform(plan.startup)
        while not self._finished():
            changed = self._changed_since(self._version)
            if self._timers_started < plan.timers:
                # Each wait with a timeout starts a timer, as a mission's deadline does.
                self._timers_started += 1
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(changed, timeout=WAIT_TIMEOUT)
            else:
                await workflow.wait_condition(changed)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._updates_done

    @workflow.update
    async def step(self, index: int) -> None:
        await self._perform(self._plan.updates[index])
        self._updates_done += 1
        self._version += 1

    @step.validator
    def _validate_step(self, index: int) -> None:
        if not 0 <= index < len(self._plan.updates):
            raise ValueError(f"step {index} is out of range 0..{len(self._plan.updates) - 1}")

    @workflow.signal
    def event(self) -> None:
        self._signals_received += 1
        self._version += 1

    def _changed_since(self, version: int) -> Callable[[], bool]:
        return lambda: self._version != version

    def _finished(self) -> bool:
        return self._updates_done >= len(self._plan.updates) and self._signals_received >= len(
            self._plan.signal_after
        )

    async def _perform(self, shape: StepShape) -> None:
        for _ in range(shape.activities):
            await workflow.execute_activity(NOOP_ACTIVITY, start_to_close_timeout=NOOP_TIMEOUT)
        for _ in range(shape.local_activities):
            await workflow.execute_local_activity(
                NOOP_ACTIVITY, start_to_close_timeout=NOOP_TIMEOUT
            )
