"""The running missions that need a person, found through Temporal's visibility store.

A mission needs attention when its workflow sets `NeedsAttention` (a waiting payout, an
open dispute, a failed money step) or when it is disputed. It also needs attention when one
of its deadlines passed a while ago without the mission moving on, or when an activity keeps
failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from temporalio.client import Client, WorkflowExecution

from missions import search_attributes as attrs

# A deadline this far in the past means its timer's work has not gone through.
OVERDUE_AFTER = timedelta(minutes=10)
# An activity that failed this many times is reported even while it still retries.
FAILING_ATTEMPTS = 3


@dataclass
class AttentionItem:
    mission_id: str
    state: str
    reasons: list[str] = field(default_factory=list)


def attention_query(now: datetime) -> str:
    """Return the visibility query that selects candidate missions."""
    overdue = (now - OVERDUE_AFTER).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        "WorkflowType = 'MissionWorkflow' AND ExecutionStatus = 'Running' AND "
        f"({attrs.NEEDS_ATTENTION.name} = true OR {attrs.MISSION_STATE.name} = 'disputed' "
        f"OR {attrs.NEXT_DEADLINE.name} < '{overdue}')"
    )


def _reasons(execution: WorkflowExecution, now: datetime) -> list[str]:
    found = execution.typed_search_attributes
    reasons = []
    if found.get(attrs.MISSION_STATE) == "disputed":
        reasons.append("dispute open")
    if found.get(attrs.NEEDS_ATTENTION):
        reasons.append("flagged by the workflow (dispute, waiting payout or failed money step)")
    deadline = found.get(attrs.NEXT_DEADLINE)
    if deadline is not None and deadline < now - OVERDUE_AFTER:
        reasons.append(f"deadline {deadline.isoformat()} passed without progress")
    return reasons


async def find_attention(
    client: Client, *, now: datetime | None = None, limit: int = 1000, deep: bool = True
) -> list[AttentionItem]:
    """List the running missions that need ops, with the reasons for each.

    With `deep`, every running mission is also described, because an activity that keeps
    failing sets no search attribute while it retries. That costs one call per mission.
    """
    now = now or datetime.now(UTC)
    items: dict[str, AttentionItem] = {}
    async for execution in client.list_workflows(attention_query(now), limit=limit):
        state = execution.typed_search_attributes.get(attrs.MISSION_STATE) or "?"
        items[execution.id] = AttentionItem(execution.id, state, _reasons(execution, now))
    if deep:
        running = "WorkflowType = 'MissionWorkflow' AND ExecutionStatus = 'Running'"
        async for execution in client.list_workflows(running, limit=limit):
            description = await client.get_workflow_handle(execution.id).describe()
            for pending in description.raw_description.pending_activities:
                if pending.attempt < FAILING_ATTEMPTS:
                    continue
                state = execution.typed_search_attributes.get(attrs.MISSION_STATE) or "?"
                item = items.setdefault(execution.id, AttentionItem(execution.id, state))
                item.reasons.append(
                    f"activity {pending.activity_type.name} failed {pending.attempt - 1} "
                    f"times: {pending.last_failure.message}"
                )
    return sorted(items.values(), key=lambda item: item.mission_id)
