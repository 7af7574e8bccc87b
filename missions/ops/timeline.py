"""A mission's workflow history rendered as domain events, in order, with amounts.

Only events an ops person acts on are shown: commands with their party and arguments,
their rejections, money moves at Stripe, timers, payment signals and state changes. The
read-model writes that follow every change are left out as noise. Activities and local
activities are both shown, but a local activity's input is not in the history.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

# Activities that only keep the read model current.
QUIET_ACTIVITIES = frozenset({"project_mission"})
# Marker name under which the Temporal SDK core records a local activity's outcome. Its
# `data` detail names the activity type but not the input.
LOCAL_ACTIVITY_MARKER = "core_local_activity"
# Activities that call Stripe; the others write to the database.
STRIPE_ACTIVITIES = frozenset(
    {
        "create_payment_intent",
        "confirm_payment_intent",
        "retrieve_payment_intent",
        "cancel_payment_intent",
        "refund",
        "transfer_to_provider",
    }
)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    text: str


def euros(amount_minor: object) -> str:
    """Format minor units of EUR as `€12.34`."""
    if not isinstance(amount_minor, int):
        return "?"
    sign = "-" if amount_minor < 0 else ""
    return f"{sign}€{abs(amount_minor) // 100}.{abs(amount_minor) % 100:02d}"


def _decode(payload: Payload) -> Any:
    try:
        return json.loads(payload.data)
    except ValueError:
        return None


def _first(payloads: Payloads) -> Any:
    return _decode(payloads.payloads[0]) if payloads.payloads else None


def _summary(event: HistoryEvent) -> str:
    if not event.HasField("user_metadata") or not event.user_metadata.HasField("summary"):
        return ""
    value = _decode(event.user_metadata.summary)
    return value if isinstance(value, str) else ""


def _actor(arguments: dict[str, Any]) -> str:
    actor = arguments.get("actor") or {}
    return f"{actor.get('role', '?')} {actor.get('user_id', '?')}"


def _describe_update(name: str, arguments: dict[str, Any]) -> str:
    by = _actor(arguments)
    details = {
        "apply": lambda: f"price {euros(arguments.get('price_minor'))}",
        "select_application": lambda: f"application {arguments.get('application_id')}",
        "confirm_payment": lambda: f"payment method {arguments.get('payment_method')}",
        "open_dispute": lambda: f"reason: {arguments.get('reason')}",
        "resolve_dispute": lambda: (
            f"refund {euros(arguments.get('refund_minor'))}, "
            f"release {euros(arguments.get('release_minor'))}"
        ),
        "report_incident": lambda: f"{arguments.get('kind')}: {arguments.get('text')}",
        "submit_review": lambda: f"{arguments.get('stars')} stars",
        "move_deadline": lambda: f"{arguments.get('deadline')} to {arguments.get('at')}",
    }
    detail = details.get(name)
    return f"{name.replace('_', ' ')} by {by}" + (f" ({detail()})" if detail else "")


def _describe_activity(name: str, arguments: dict[str, Any]) -> str:
    amount = euros(arguments.get("amount_minor"))
    texts = {
        "create_payment_intent": f"create PaymentIntent for {amount}",
        "confirm_payment_intent": f"confirm payment with {arguments.get('payment_method')}",
        "retrieve_payment_intent": "check the payment at Stripe",
        "cancel_payment_intent": "cancel the unpaid PaymentIntent",
        "refund": f"refund {amount} ({arguments.get('purpose')})",
        "transfer_to_provider": (
            f"transfer {amount} to provider {arguments.get('provider_id')} "
            f"({arguments.get('purpose')})"
        ),
        "publish_reviews": (
            f"publish {len(arguments['reviews'])} review(s)"
            if "reviews" in arguments
            else "publish the reviews"
        ),
    }
    return texts.get(name, name)


def build_timeline(events: Iterable[HistoryEvent]) -> list[TimelineEntry]:
    """Turn history events into the mission's domain events."""
    entries: list[TimelineEntry] = []
    activities: dict[int, str] = {}
    timers: dict[int, str] = {}
    updates: dict[str, str] = {}
    state = None

    def add(event: HistoryEvent, kind: str, text: str) -> None:
        entries.append(TimelineEntry(at=event.event_time.ToDatetime(), kind=kind, text=text))

    for event in events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            data = _first(event.workflow_execution_started_event_attributes.input) or {}
            request = data.get("request") or {}
            add(
                event,
                "posted",
                f"posted by client {data.get('client_id')}: {request.get('title')} "
                f"({request.get('category')}, {request.get('city')})",
            )
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            name = request.input.name
            updates[request.meta.update_id] = name
            arguments = _first(request.input.args) or {}
            add(event, "command", _describe_update(name, arguments))
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            completed = event.workflow_execution_update_completed_event_attributes
            if completed.outcome.HasField("failure"):
                name = updates.get(completed.meta.update_id, "command")
                add(
                    event,
                    "rejected",
                    f"{name.replace('_', ' ')} failed: {completed.outcome.failure.message}",
                )
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled = event.activity_task_scheduled_event_attributes
            name = scheduled.activity_type.name
            activities[event.event_id] = name
            if name not in QUIET_ACTIVITIES:
                kind_name = "stripe" if name in STRIPE_ACTIVITIES else "step"
                add(event, kind_name, _describe_activity(name, _first(scheduled.input) or {}))
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            failed = event.activity_task_failed_event_attributes
            name = activities.get(failed.scheduled_event_id, "activity")
            add(event, "failed", f"{name} failed: {failed.failure.message}")
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            timed_out = event.activity_task_timed_out_event_attributes
            name = activities.get(timed_out.scheduled_event_id, "activity")
            add(event, "failed", f"{name} timed out")
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == LOCAL_ACTIVITY_MARKER:
                data = marker.details["data"] if "data" in marker.details else Payloads()
                name = (_first(data) or {}).get("activity_type") or "local activity"
                if marker.HasField("failure"):
                    add(event, "failed", f"{name} failed: {marker.failure.message}")
                elif name not in QUIET_ACTIVITIES:
                    kind_name = "stripe" if name in STRIPE_ACTIVITIES else "step"
                    add(event, kind_name, _describe_activity(name, {}))
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            timers[event.event_id] = _summary(event)
        elif kind == EventType.EVENT_TYPE_TIMER_FIRED:
            started = event.timer_fired_event_attributes.started_event_id
            add(event, "timer", f"{timers.get(started) or 'timer'} deadline reached")
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            signaled = event.workflow_execution_signaled_event_attributes
            data = _first(signaled.input) or {}
            add(
                event,
                "signal",
                f"Stripe reported payment {data.get('kind')} for {data.get('payment_intent_id')}",
            )
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            payload = fields.indexed_fields.get("MissionState")
            new_state = _decode(payload) if payload is not None else None
            if new_state is not None and new_state != state:
                state = new_state
                add(event, "state", f"state is now {new_state}")
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            add(event, "ended", "workflow completed")
    return entries


def format_timeline(entries: Iterable[TimelineEntry]) -> list[str]:
    return [
        f"{entry.at.strftime('%Y-%m-%d %H:%M:%S')}  {entry.kind:<8}  {entry.text}"
        for entry in entries
    ]
