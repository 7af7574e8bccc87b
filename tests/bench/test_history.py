"""Counting events and billable actions, and reading a baseline plan, from stored histories."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from temporalio.client import WorkflowHistory

from missions.bench.command import persistence_flags
from missions.bench.history import count_history, plan_from_history
from missions.bench.latency import percentile

HISTORIES = Path(__file__).resolve().parent.parent / "replay" / "histories" / "0.1.0"


def load(name: str) -> tuple[WorkflowHistory, list[dict[str, object]]]:
    text = (HISTORIES / f"{name}.json").read_text()
    return WorkflowHistory.from_json(name, text), json.loads(text)["events"]


def test_events_counted_by_kind() -> None:
    history, raw = load("happy_path_reviews")
    count = count_history(history)
    types = Counter(str(event["eventType"]) for event in raw)
    assert count.total_events == len(raw)
    assert count.events["timer"] == (
        types["EVENT_TYPE_TIMER_STARTED"] + types["EVENT_TYPE_TIMER_CANCELED"]
    )
    assert count.events["activity"] == sum(
        number for name, number in types.items() if "ACTIVITY_TASK" in name
    )
    assert count.events["workflow task"] == sum(
        number for name, number in types.items() if "WORKFLOW_TASK" in name
    )


def test_billable_actions_counted() -> None:
    history, raw = load("happy_path_reviews")
    types = Counter(str(event["eventType"]) for event in raw)
    actions = count_history(history).actions
    assert actions["workflow start"] == 1
    assert actions["timer"] == types["EVENT_TYPE_TIMER_STARTED"]
    assert actions["update"] == types["EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED"]
    assert actions["activity"] == types["EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"]
    assert actions["search attributes"] == types["EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"]
    # Workflow tasks are not billed, so the actions are far fewer than the events.
    assert count_history(history).total_actions < len(raw) / 2


def test_plan_matches_history() -> None:
    history, raw = load("happy_path_reviews")
    types = Counter(str(event["eventType"]) for event in raw)
    plan = plan_from_history(history)
    assert len(plan.updates) == types["EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED"]
    activities = plan.startup.activities + sum(step.activities for step in plan.updates)
    assert activities == types["EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"]
    assert plan.timers == types["EVENT_TYPE_TIMER_STARTED"]
    assert len(plan.signal_after) == types["EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED"]
    # The mission's first commit runs before any update arrives.
    assert plan.startup.activities >= 1


def test_signals_placed_after_their_update() -> None:
    history, _ = load("webhook_payment")
    plan = plan_from_history(history)
    assert plan.signal_after, "the webhook path has a payment signal"
    assert all(-1 <= index < len(plan.updates) for index in plan.signal_after)


def test_percentile_nearest_rank() -> None:
    values = [float(number) for number in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) == 0.0


def test_persistence_flags_hide_paths() -> None:
    command = [
        "temporal",
        "server",
        "start-dev",
        "--db-filename",
        "/tmp/data/temporal.sqlite",
        "--sqlite-pragma",
        "journal_mode=wal",
    ]
    assert persistence_flags(command) == [
        "--db-filename temporal.sqlite",
        "--sqlite-pragma journal_mode=wal",
    ]
    assert persistence_flags(["temporal", "server", "start-dev"]) == ["in memory"]
