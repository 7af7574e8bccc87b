"""Rejects request bodies over `max_body_bytes` with 413 before anything parses them."""

from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import build_problem, problem_response
from missions.errors import PayloadTooLarge

log = logging.getLogger(__name__)


class BodySizeLimitMiddleware:
    """Middleware that rejects with 413 a body whose declared `Content-Length` exceeds
    `max_bytes`, or whose bytes pass it, so a chunked body without a length is cut off too.

    The body is buffered, at most `max_bytes` of it, and handed on in one piece.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._reject(scope, receive, send, declared)
            return

        # The whole body is read here, before any route parses it, so a body over the limit
        # is a 413 whether or not it declared its length.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._reject(scope, receive, send, received)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        body_sent = False

        async def buffered_receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, buffered_receive, send)

    def _error(self, size: int) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"request body of at least {size} bytes exceeds the limit of {self.max_bytes} "
            "bytes; send a smaller body",
            max_bytes=self.max_bytes,
        )

    async def _reject(self, scope: Scope, receive: Receive, send: Send, size: int) -> None:
        error = self._error(size)
        log.info("%s %s rejected: %s", scope["method"], scope["path"], error.message)
        problem = build_problem(
            error.code, error.status, error.message, instance=scope["path"], details=error.details
        )
        # The unread body is left behind, so the server closes the connection afterwards.
        response = problem_response(problem, headers={"Connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None or not value.isdigit():
        return None
    return int(value)
