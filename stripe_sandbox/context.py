"""The state that request handlers share, and the request they receive."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import SandboxConfig
from .events import EventRecorder
from .forms import Params
from .store import Store
from .webhooks import WebhookDispatcher

Clock = Callable[[], float]


@dataclass
class ApiRequest:
    """One decoded API call, as passed to a handler."""

    method: str
    path: str
    params: Params
    path_params: dict[str, str] = field(default_factory=dict)
    request_id: str = ""
    idempotency_key: str | None = None
    # From the Stripe-Version header, else the configured version.
    api_version: str = ""


class SandboxContext:
    """Configuration, store, clock and event recorder of one sandbox server.

    `clock` returns Unix seconds; tests pass a manual clock to move pending funds to
    available without waiting.
    """

    def __init__(self, config: SandboxConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or time.time
        self.store = Store(config.state_file)
        self.store.load()
        self.events = EventRecorder(self.store, config, self.clock)
        self.dispatcher: WebhookDispatcher | None = None
        if config.webhook_url:
            self.dispatcher = WebhookDispatcher(config, self.events.on_delivery_finished)
            self.events.dispatcher = self.dispatcher

    def now(self) -> int:
        return int(self.clock())


Handler = Callable[[SandboxContext, ApiRequest], dict[str, Any]]
