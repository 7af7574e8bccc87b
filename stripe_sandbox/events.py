"""Event objects: recording, webhook hand-off, and the `/v1/events` endpoints."""

from __future__ import annotations

import fnmatch
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import SandboxConfig
from .errors import parameter_invalid
from .listing import paginate
from .store import Store, snapshot
from .webhooks import Delivery, WebhookDispatcher

if TYPE_CHECKING:
    from .context import ApiRequest, SandboxContext

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestInfo:
    request_id: str
    idempotency_key: str | None


# The API request being handled, so events can name it in their `request` field.
_current_request: ContextVar[RequestInfo | None] = ContextVar("current_request", default=None)


@contextmanager
def request_scope(request_id: str, idempotency_key: str | None) -> Iterator[None]:
    token = _current_request.set(RequestInfo(request_id, idempotency_key))
    try:
        yield
    finally:
        _current_request.reset(token)


class EventRecorder:
    """Stores events and hands each one to the webhook dispatcher, if one is configured."""

    def __init__(
        self,
        store: Store,
        config: SandboxConfig,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        # Set after construction, because the dispatcher reports back to this recorder.
        self.dispatcher: WebhookDispatcher | None = None

    def record(
        self,
        event_type: str,
        obj: dict[str, Any],
        previous_attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store an event whose `data.object` is a snapshot of `obj` as it is now."""
        request = _current_request.get()
        data: dict[str, Any] = {"object": snapshot(obj)}
        if previous_attributes is not None:
            data["previous_attributes"] = snapshot(previous_attributes)
        event = {
            "id": self._store.new_id("event"),
            "object": "event",
            "api_version": self._config.api_version,
            "created": int(self._clock()),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1 if self.dispatcher else 0,
            "request": {
                "id": request.request_id if request else None,
                "idempotency_key": request.idempotency_key if request else None,
            },
            "type": event_type,
        }
        self._store.insert("event", event)
        logger.debug("Recorded event %s (%s) for %s", event["id"], event_type, obj.get("id"))
        if self.dispatcher is not None:
            self.dispatcher.enqueue(_delivery_for(event))
        return event

    def pending_deliveries(self) -> list[Delivery]:
        """Return the stored events that no webhook attempt has finished for yet."""
        with self._store.lock:
            return [
                _delivery_for(event)
                for event in self._store.all("event")
                if event.get("pending_webhooks")
            ]

    def on_delivery_finished(self, event_id: str, delivered: bool) -> None:
        # The sandbox stops retrying after the last attempt, so the event is no longer
        # pending whether or not it was delivered.
        with self._store.lock:
            event = self._store.get("event", event_id)
            if event is None:
                return
            event["pending_webhooks"] = 0
            self._store.save()
        if not delivered:
            logger.warning("Event %s stays undelivered", event_id)


def _delivery_for(event: dict[str, Any]) -> Delivery:
    return Delivery(event["id"], event["type"], json.dumps(event, indent=2))


def retrieve_event(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    request.params.finish()
    return ctx.store.require("event", request.path_params["id"], label="event")


def list_events(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    event_type = params.string("type")
    event_types = params.string_list("types")
    if event_type and event_types:
        raise parameter_invalid(
            "types", "Pass either type or types, not both.", code="parameters_exclusive"
        )
    patterns = [event_type] if event_type else (event_types or [])

    def matches(event: dict[str, Any]) -> bool:
        # Stripe accepts a '*' wildcard in type filters, e.g. 'payment_intent.*'.
        return not patterns or any(fnmatch.fnmatchcase(event["type"], p) for p in patterns)

    page = paginate(ctx.store.all("event"), params, "/v1/events", where=matches)
    params.finish()
    return page
