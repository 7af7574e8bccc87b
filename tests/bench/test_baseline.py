"""The baseline workflow makes the calls its plan lists, so it is a fair floor for a mission."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from missions.bench.baseline_workflow import (
    NOOP_ACTIVITY,
    BaselinePlan,
    BaselineWorkflow,
    StepShape,
)
from missions.bench.drivers import baseline_run
from missions.bench.history import count_history, plan_from_history

HISTORIES = Path(__file__).resolve().parent.parent / "replay" / "histories" / "0.1.0"
HAPPY_PATH = HISTORIES / "happy_path_reviews.json"


def totals(plan: BaselinePlan) -> dict[str, int]:
    """Sum a plan's calls. Where each falls may differ, because an update can arrive in
    the same workflow task as the work before it."""
    steps = [plan.startup, *plan.updates]
    return {
        "updates": len(plan.updates),
        "activities": sum(step.activities for step in steps),
        "local_activities": sum(step.local_activities for step in steps),
        "signals": len(plan.signal_after),
        "timers": plan.timers,
    }


@activity.defn(name=NOOP_ACTIVITY)
async def noop() -> None:
    """Stand in for the benchmark worker's no-op activity."""


async def run_plan(env: WorkflowEnvironment, plan: BaselinePlan) -> WorkflowHistory:
    task_queue = f"baseline-test-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client, task_queue=task_queue, workflows=[BaselineWorkflow], activities=[noop]
    ):
        workflow_id = await baseline_run(env.client, task_queue, plan, f"baseline-{uuid.uuid4()}")
        return await env.client.get_workflow_handle(workflow_id).fetch_history()


@pytest.mark.asyncio(loop_scope="session")
async def test_baseline_reproduces_mission_plan(time_env: WorkflowEnvironment) -> None:
    mission = WorkflowHistory.from_json("happy", HAPPY_PATH.read_text())
    plan = plan_from_history(mission)
    baseline = await run_plan(time_env, plan)
    assert totals(plan_from_history(baseline)) == totals(plan)
    mission_actions = count_history(mission).actions
    baseline_actions = count_history(baseline).actions
    for kind in ("update", "activity", "timer", "signal", "workflow start"):
        assert baseline_actions[kind] == mission_actions[kind], kind


@pytest.mark.asyncio(loop_scope="session")
async def test_baseline_runs_local_activities(time_env: WorkflowEnvironment) -> None:
    plan = BaselinePlan(
        startup=StepShape(local_activities=1),
        updates=[StepShape(activities=1), StepShape(local_activities=2)],
        signal_after=[0],
        timers=2,
    )
    history = await run_plan(time_env, plan)
    assert totals(plan_from_history(history)) == totals(plan)
    assert count_history(history).events["local activity"] == 3
