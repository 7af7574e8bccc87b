"""The ASGI middleware that applies the installed fault plan to API requests.

Only authenticated requests get faults, so a wrong API key still gets its 401.
Connection resets need the connection's asyncio transport. uvicorn passes its
per-request `receive` as a bound method of an object that keeps the transport, and
the middleware reads it from there.
NOTE: under another ASGI server, or when uvicorn logs at TRACE level and wraps
`receive`, no transport is found. A reset then falls back to a 500 `api_error`
response, which the SDK also treats as a retryable failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import authenticate
from .config import SandboxConfig
from .errors import API_ERROR, StripeAPIError
from .faults import Fault, FaultInjector, FaultKind
from .responses import error_response
from .store import new_id

logger = logging.getLogger(__name__)


class FaultMiddleware:
    """ASGI middleware that fails the requests that the installed fault plan picks."""

    def __init__(self, app: ASGIApp, injector: FaultInjector, config: SandboxConfig) -> None:
        self.app = app
        self.injector = injector
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            authenticate(HTTPConnection(scope), self.config)
        except StripeAPIError:
            await self.app(scope, receive, send)
            return
        fault = self.injector.choose(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return

        logger.info(
            "Injecting fault %s from rule %d into %s %s",
            fault.kind.value,
            fault.rule_index,
            scope["method"],
            scope["path"],
        )
        if fault.kind is FaultKind.TIMEOUT_AFTER_CREATE:
            await self._run_then_reset(scope, receive, send, fault)
        elif fault.kind is FaultKind.CONNECTION_RESET:
            await _reset_connection(scope, receive, send, new_id("req", 14))
        else:
            response = error_response(_injected_error(fault), new_id("req", 14))
            await response(scope, receive, send)

    async def _run_then_reset(
        self, scope: Scope, receive: Receive, send: Send, fault: Fault
    ) -> None:
        """Run the request to completion, drop its response and reset the connection."""
        status: int | None = None
        request_id = ""

        async def discard(message: Message) -> None:
            nonlocal status, request_id
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers", []))
                request_id = headers.get(b"request-id", b"").decode()

        await self.app(scope, receive, discard)
        logger.info(
            "Request %s completed with status %s; holding its response for up to %.2f s, "
            "then resetting the connection",
            request_id,
            status,
            fault.rule.hold_seconds,
        )
        if fault.rule.hold_seconds:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_client_disconnect(receive), fault.rule.hold_seconds)
        await _reset_connection(scope, receive, send, request_id)


def _injected_error(fault: Fault) -> StripeAPIError:
    if fault.kind is FaultKind.RATE_LIMIT:
        return StripeAPIError(
            429,
            f"Too many requests (rate limit error injected by sandbox fault rule "
            f"{fault.rule_index}). Retry with exponential backoff.",
            code="rate_limit",
        )
    return StripeAPIError(
        500,
        f"Internal server error injected by sandbox fault rule {fault.rule_index}. The "
        "request was not processed; retry it.",
        error_type=API_ERROR,
    )


async def _client_disconnect(receive: Receive) -> None:
    """Return once the client closes the connection; consumes any unread request body."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _reset_connection(scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    transport = _transport_of(receive)
    if transport is None:
        logger.warning(
            "Cannot reset the connection of request %s: the ASGI server exposes no "
            "transport; answering 500 instead",
            request_id,
        )
        failure = StripeAPIError(
            500,
            "The sandbox could not reset this connection as its fault plan asked, so it "
            "answers 500 instead.",
            error_type=API_ERROR,
        )
        await error_response(failure, request_id)(scope, receive, send)
        return
    if transport.is_closing():
        # The client gave up first, for example on its read timeout.
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # A zero linger time makes the close send RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # The transport reports the lost connection on the next loop iterations. The server
    # must see it before this app returns, or it sends its own 500 response.
    for _ in range(3):
        await asyncio.sleep(0)


def _transport_of(receive: Receive) -> asyncio.Transport | None:
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None
