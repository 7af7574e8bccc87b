"""Fixtures that run Stripe sandboxes in-process and a webhook receiver on loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import stripe
import uvicorn

from stripe_sandbox import SandboxConfig, create_app
from stripe_sandbox.context import SandboxContext

API_KEY = "sk_test_sandbox_suite_0123456789"
WEBHOOK_SECRET = "whsec_sandbox_suite_secret"
# Funds of the pending sandbox stay pending for a week unless a test moves its clock.
PENDING_DELAY_SECONDS = 7 * 24 * 3600


class ManualClock:
    """A clock that only moves when a test advances it."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@dataclass
class ReceivedWebhook:
    body: bytes
    signature: str
    content_type: str


@dataclass
class WebhookReceiver:
    """Records every POST; `failures` makes the first N deliveries of an event type fail."""

    url: str = ""
    received: list[ReceivedWebhook] = field(default_factory=list)
    attempts_by_type: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    condition: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(
        self, predicate: Callable[[ReceivedWebhook], bool], timeout: float = 10.0
    ) -> ReceivedWebhook:
        deadline = time.monotonic() + timeout
        with self.condition:
            while True:
                for webhook in self.received:
                    if predicate(webhook):
                        return webhook
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching webhook within {timeout} s")
                self.condition.wait(remaining)


def _receiver_handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            event_type = _event_type(body)
            with receiver.condition:
                receiver.attempts_by_type[event_type] = (
                    receiver.attempts_by_type.get(event_type, 0) + 1
                )
                failing = receiver.failures.get(event_type, 0)
                if failing:
                    receiver.failures[event_type] = failing - 1
                else:
                    receiver.received.append(
                        ReceivedWebhook(
                            body,
                            self.headers.get("Stripe-Signature", ""),
                            self.headers.get("Content-Type", ""),
                        )
                    )
                    receiver.condition.notify_all()
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _event_type(body: bytes) -> str:
    try:
        return str(json.loads(body).get("type", ""))
    except ValueError:
        return ""


def loopback_socket() -> socket.socket:
    """Bind a listening socket to a free loopback port, so no other process can take it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class RunningSandbox:
    url: str
    context: SandboxContext
    clock: ManualClock | None

    def client(self, api_key: str = API_KEY) -> stripe.StripeClient:
        # No SDK retries, so each test gets the sandbox's first response.
        return stripe.StripeClient(api_key, base_addresses={"api": self.url}, max_network_retries=0)


class SandboxServer:
    """Runs a sandbox app with uvicorn on a background thread."""

    def __init__(self, config: SandboxConfig, clock: ManualClock | None = None) -> None:
        self.clock = clock
        self.app = create_app(config, clock=clock)
        self.socket = loopback_socket()
        port = self.socket.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> RunningSandbox:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"sandbox on {self.url} did not start within 15 s")
            time.sleep(0.02)
        return RunningSandbox(self.url, self.app.state.sandbox, self.clock)

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _receiver_handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def sandbox(webhook_receiver: WebhookReceiver) -> Iterator[RunningSandbox]:
    """A sandbox whose charges are available at once and whose events reach the receiver."""
    config = SandboxConfig(
        api_key=API_KEY,
        webhook_url=webhook_receiver.url,
        webhook_secret=WEBHOOK_SECRET,
        webhook_retry_initial_seconds=0.05,
        webhook_retry_max_seconds=0.2,
        webhook_max_attempts=4,
    )
    with SandboxServer(config) as running:
        yield running


@pytest.fixture(scope="session")
def pending_sandbox() -> Iterator[RunningSandbox]:
    """A sandbox with a manual clock whose charges stay pending for a week."""
    config = SandboxConfig(api_key=API_KEY, available_after_seconds=PENDING_DELAY_SECONDS)
    with SandboxServer(config, clock=ManualClock()) as running:
        yield running


@pytest.fixture(scope="session")
def client(sandbox: RunningSandbox) -> stripe.StripeClient:
    return sandbox.client()


@pytest.fixture(scope="session")
def pending_client(pending_sandbox: RunningSandbox) -> stripe.StripeClient:
    return pending_sandbox.client()


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "sandbox.json"
