"""Count a mission's history events and Temporal Cloud billable actions, by kind.

Billable actions follow the list in Temporal Cloud's documentation ("Temporal Cloud
Actions"). A workflow start, each timer started, each search-attribute upsert, signal,
accepted update and activity attempt is one action. All the markers one workflow task
records, which is how local activities are billed, are one action together. Queries are
billed too but leave no event, so they are not counted here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

from missions.bench.baseline_workflow import BaselinePlan, StepShape

# The marker the Python SDK's core records for each local activity.
LOCAL_ACTIVITY_MARKER = "core_local_activity"

E = EventType


@dataclass
class HistoryCount:
    """Events and billable actions of one workflow's history, each by kind."""

    events: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)

    @property
    def total_events(self) -> int:
        return sum(self.events.values())

    @property
    def total_actions(self) -> int:
        return sum(self.actions.values())

    def add(self, other: HistoryCount) -> None:
        self.events.update(other.events)
        self.actions.update(other.actions)


def event_kind(event: HistoryEvent) -> str:
    """Return the kind a history event is reported under, such as `activity` or `timer`."""
    name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    if event.event_type == E.EVENT_TYPE_MARKER_RECORDED:
        marker = event.marker_recorded_event_attributes.marker_name
        return "local activity" if marker == LOCAL_ACTIVITY_MARKER else "other marker"
    for prefix, kind in (
        ("WORKFLOW_TASK_", "workflow task"),
        ("ACTIVITY_TASK_", "activity"),
        ("TIMER_", "timer"),
        ("WORKFLOW_EXECUTION_UPDATE_", "update"),
        ("WORKFLOW_EXECUTION_SIGNALED", "signal"),
        ("UPSERT_WORKFLOW_SEARCH_ATTRIBUTES", "search attributes"),
        ("WORKFLOW_EXECUTION_", "workflow"),
    ):
        if name.startswith(prefix):
            return kind
    return name.lower().replace("_", " ")


def count_history(history: WorkflowHistory) -> HistoryCount:
    """Count the events of `history` and the billable actions they stand for."""
    count = HistoryCount()
    marker_tasks: set[int] = set()
    for event in history.events:
        count.events[event_kind(event)] += 1
        kind = event.event_type
        if kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            count.actions["workflow start"] += 1
        elif kind == E.EVENT_TYPE_TIMER_STARTED:
            count.actions["timer"] += 1
        elif kind == E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            count.actions["search attributes"] += 1
        elif kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            count.actions["signal"] += 1
        elif kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            count.actions["update"] += 1
        elif kind == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            count.actions["activity"] += 1
        elif kind == E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            # The started event records the attempt that ran; earlier attempts were retries.
            count.actions["activity retry"] += max(
                event.activity_task_started_event_attributes.attempt - 1, 0
            )
        elif kind == E.EVENT_TYPE_MARKER_RECORDED:
            marker_tasks.add(
                event.marker_recorded_event_attributes.workflow_task_completed_event_id
            )
    if marker_tasks:
        count.actions["markers (local activities)"] += len(marker_tasks)
    count.actions = +count.actions
    return count


def plan_from_history(history: WorkflowHistory) -> BaselinePlan:
    """Read the shape of a mission's history: activities per update, signals and timers.

    Activities that a signal or a timer caused are counted with the update before them,
    which keeps the totals the same.
    """
    startup = StepShape()
    updates: list[StepShape] = []
    signal_after: list[int] = []
    timers = 0
    for event in history.events:
        current = updates[-1] if updates else startup
        kind = event.event_type
        if kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            updates.append(StepShape())
        elif kind == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            current.activities += 1
        elif kind == E.EVENT_TYPE_MARKER_RECORDED and (
            event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
        ):
            current.local_activities += 1
        elif kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            signal_after.append(len(updates) - 1)
        elif kind == E.EVENT_TYPE_TIMER_STARTED:
            timers += 1
    return BaselinePlan(startup=startup, updates=updates, signal_after=signal_after, timers=timers)
