"""`Idempotency-Key` on POST requests: a retried request gets the first response again.

The first response to a key is stored with a fingerprint of the request (method, path and
body, with JSON compared by value). The same user sending the same key and request later
gets that response again, with `Idempotent-Replayed: true`; another request under the key
gets 422 `idempotency_key_reused`. A second request that arrives while the first still
runs waits for it up to `IN_PROGRESS_WAIT`, then gets 409 `idempotency_key_in_use`.

Responses of 5xx, 401, 413 and 429 are not stored, because the same request may succeed
later; the key is free for a retry.

TODO: the default store lives in this process, so replicas do not share keys and a restart
loses them. Mission creation stays safe across replicas anyway, because the mission id is
derived from the user and the key. A database-backed store would implement
`IdempotencyStore` with the table described in docs/api.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import FieldError, build_problem, problem_response
from missions.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidInput,
    MissionError,
)
from missions.tokens import TokenVerifier

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Visible ASCII, so the key prints in logs as sent; 255 characters as Stripe allows.
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
_KEY_RE = re.compile(KEY_PATTERN)
# How long a request waits for an earlier request with its key to finish.
IN_PROGRESS_WAIT = 30.0
# Stripe sends no Idempotency-Key; the webhook deduplicates by event id instead.
EXEMPT_PATHS = frozenset({"/webhooks/stripe"})
NOT_STORED_STATUSES = frozenset({401, 413, 429})


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class Outcome(StrEnum):
    NEW = "new"
    REPLAY = "replay"
    MISMATCH = "mismatch"
    IN_PROGRESS = "in_progress"


@dataclass(frozen=True)
class Claim:
    outcome: Outcome
    response: StoredResponse | None = None


class IdempotencyStore(Protocol):
    """Storage of keys and first responses, in this process or shared between replicas."""

    async def claim(self, owner: str, key: str, fingerprint: str) -> Claim:
        """Reserve `key` for `owner`, or report what an earlier request with it left.

        Waits up to `IN_PROGRESS_WAIT` for an earlier request that is still running.
        """
        ...

    async def complete(self, owner: str, key: str, response: StoredResponse) -> None:
        """Store the response of the request that reserved `key`."""
        ...

    async def release(self, owner: str, key: str) -> None:
        """Free `key` after its request ended without a response worth replaying."""
        ...


@dataclass
class _Entry:
    fingerprint: str
    created_at: float
    response: StoredResponse | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class InMemoryIdempotencyStore:
    """Keys in a dict, kept for `ttl_seconds` and at most `max_keys` of them.

    When full, the oldest key is forgotten first, and a retry with it runs again.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_keys: int,
        clock: Callable[[], float] = time.monotonic,
        wait_seconds: float = IN_PROGRESS_WAIT,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_keys = max_keys
        self._clock = clock
        self._wait = wait_seconds
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    async def claim(self, owner: str, key: str, fingerprint: str) -> Claim:
        self._forget_expired()
        entry = self._entries.get((owner, key))
        if entry is None:
            self._entries[(owner, key)] = _Entry(fingerprint, self._clock())
            while len(self._entries) > self._max_keys:
                self._entries.popitem(last=False)
            return Claim(Outcome.NEW)
        if entry.fingerprint != fingerprint:
            return Claim(Outcome.MISMATCH)
        if entry.response is None:
            try:
                await asyncio.wait_for(entry.finished.wait(), self._wait)
            except TimeoutError:
                return Claim(Outcome.IN_PROGRESS)
            if entry.response is None:
                # The first request was released without a response: run this one instead.
                return await self.claim(owner, key, fingerprint)
        return Claim(Outcome.REPLAY, entry.response)

    async def complete(self, owner: str, key: str, response: StoredResponse) -> None:
        entry = self._entries.get((owner, key))
        if entry is not None:
            entry.response = response
            entry.finished.set()

    async def release(self, owner: str, key: str) -> None:
        entry = self._entries.pop((owner, key), None)
        if entry is not None:
            entry.finished.set()

    def _forget_expired(self) -> None:
        cutoff = self._clock() - self._ttl
        while self._entries:
            oldest_key, oldest = next(iter(self._entries.items()))
            if oldest.created_at > cutoff or oldest.response is None:
                return
            del self._entries[oldest_key]


def request_fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """Hash the parts of a request that must match for a replay.

    A JSON body is compared by value, so key order and spacing do not matter.
    """
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8", "surrogatepass")
    except ValueError:
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotencyMiddleware:
    """Replays stored responses to POST requests that carry an `Idempotency-Key`."""

    def __init__(self, app: ASGIApp, store: IdempotencyStore, verifier: TokenVerifier) -> None:
        self.app = app
        self.store = store
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not _KEY_RE.match(key):
            await self._send_invalid_key(scope, receive, send)
            return
        owner = await self._owner(headers)
        if owner is None:
            # Unauthenticated: the route returns 401, and nothing is stored.
            await self.app(scope, receive, send)
            return

        body = await _read_body(receive)
        fingerprint = request_fingerprint(
            scope["method"], scope["path"], scope.get("query_string", b""), body
        )
        claim = await self.store.claim(owner, key, fingerprint)
        if claim.outcome is Outcome.MISMATCH:
            error: MissionError = IdempotencyKeyReused(
                f"Idempotency-Key {key!r} was first used with another request; send a new "
                "key for a different request",
                idempotency_key=key,
            )
            await _send_problem(scope, receive, send, error)
            return
        if claim.outcome is Outcome.IN_PROGRESS:
            error = IdempotencyKeyInUse(
                f"a request with Idempotency-Key {key!r} is still running; retry in a moment",
                idempotency_key=key,
            )
            await _send_problem(scope, receive, send, error, {"Retry-After": "1"})
            return
        if claim.outcome is Outcome.REPLAY and claim.response is not None:
            log.info("%s %s: replayed the response to key %r", scope["method"], scope["path"], key)
            await _replay(claim.response, send)
            return

        await self._run_first(scope, receive, body, send, owner, key)

    async def _owner(self, headers: Headers) -> str | None:
        authorization = headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            if self.verifier.fetches_keys:
                verified = await asyncio.to_thread(self.verifier.verify, token)
            else:
                verified = self.verifier.verify(token)
        except MissionError:
            return None
        actor = verified.actor
        return f"{actor.role.value}:{actor.user_id}"

    async def _run_first(
        self, scope: Scope, receive: Receive, body: bytes, send: Send, owner: str, key: str
    ) -> None:
        status = 0
        response_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        body_sent = False

        async def replay_receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            # The whole body was read already; what remains is the client disconnecting.
            return await receive()

        async def capturing_send(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capturing_send)
        except BaseException:
            await self.store.release(owner, key)
            raise
        if status == 0 or status >= 500 or status in NOT_STORED_STATUSES:
            await self.store.release(owner, key)
            return
        stored = StoredResponse(status, response_headers, b"".join(chunks))
        await self.store.complete(owner, key, stored)

    async def _send_invalid_key(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = "must be 1 to 255 visible ASCII characters, for example a UUID"
        log.info("%s %s rejected: %s %s", scope["method"], scope["path"], HEADER, message)
        error = InvalidInput(f"invalid request: {HEADER}: {message}")
        field_error = FieldError(
            field=HEADER, location="header", message=message, type="string_pattern_mismatch"
        )
        problem = build_problem(
            error.code,
            error.status,
            error.message,
            instance=scope["path"],
            details={"errors": [field_error.model_dump()]},
            errors=[field_error],
        )
        await problem_response(problem)(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _replay(response: StoredResponse, send: Send) -> None:
    headers = [(name, value) for name, value in response.headers if name.lower() != b"date"]
    headers.append((REPLAYED_HEADER.lower().encode(), b"true"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body, "more_body": False})


async def _send_problem(
    scope: Scope,
    receive: Receive,
    send: Send,
    error: MissionError,
    headers: dict[str, str] | None = None,
) -> None:
    log.info("%s %s rejected: %s", scope["method"], scope["path"], error.message)
    problem = build_problem(
        error.code, error.status, error.message, instance=scope["path"], details=error.details
    )
    await problem_response(problem, headers)(scope, receive, send)
