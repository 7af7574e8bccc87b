"""Idempotency keys on POST requests.

A key is scoped to the API key that sent it. The first response for a key is stored
with a fingerprint of method, path and decoded parameters. A later request with the same
key and fingerprint gets that response again with `Idempotent-Replayed: true`. One with
another fingerprint gets 400 `idempotency_error`. Responses are stored for successes and
for errors raised after the request changed state (card declines), but not for
validation errors, as Stripe documents.

Concurrent requests with one key never both run: each key has an asyncio lock, and a
request that finds it held waits for the first to finish and then replays its response.
NOTE: Stripe responds to such a request at once with 409 `idempotency_key_in_use`. The
sandbox returns 409 only after `idempotency_wait_seconds`, because its handlers
finish in milliseconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from .context import SandboxContext
from .errors import IDEMPOTENCY_ERROR, StripeAPIError, invalid_request

MAX_KEY_LENGTH = 255


@dataclass
class _KeyLock:
    lock: asyncio.Lock
    users: int = 0


class IdempotencyManager:
    """Per-key locks and the stored responses, which live in the store for persistence."""

    def __init__(self, ctx: SandboxContext) -> None:
        self._ctx = ctx
        self._locks: dict[str, _KeyLock] = {}

    def scope(self, api_key: str, idempotency_key: str) -> str:
        if len(idempotency_key) > MAX_KEY_LENGTH:
            raise invalid_request(
                f"Idempotency-Key is {len(idempotency_key)} characters long; the maximum "
                f"is {MAX_KEY_LENGTH}.",
            )
        # A hash, so neither the state file nor memory dumps contain the API key.
        key_hash = hashlib.sha256(api_key.encode()).hexdigest()[:16]
        return f"{key_hash}:{idempotency_key}"

    @staticmethod
    def fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
        canonical = json.dumps([method, path, params], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @asynccontextmanager
    async def hold(self, scope: str) -> AsyncIterator[None]:
        """Hold the lock of one key; raise 409 if another request keeps it too long."""
        entry = self._locks.setdefault(scope, _KeyLock(asyncio.Lock()))
        entry.users += 1
        try:
            try:
                await asyncio.wait_for(
                    entry.lock.acquire(), timeout=self._ctx.config.idempotency_wait_seconds
                )
            except TimeoutError:
                raise StripeAPIError(
                    409,
                    "Another request with the same Idempotency-Key is still running. "
                    "Retry after it completes.",
                    code="idempotency_key_in_use",
                    headers={"Stripe-Should-Retry": "true"},
                ) from None
            try:
                yield
            finally:
                entry.lock.release()
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[scope]

    def lookup(self, scope: str) -> dict[str, Any] | None:
        record = self._ctx.store.idempotency.get(scope)
        if record is None:
            return None
        if record["created"] + self._ctx.config.idempotency_ttl_seconds <= self._ctx.now():
            return None
        return record

    def check_fingerprint(
        self, record: dict[str, Any], fingerprint: str, idempotency_key: str
    ) -> None:
        if record["fingerprint"] != fingerprint:
            raise StripeAPIError(
                400,
                f"Idempotency-Key {idempotency_key!r} was first used for a request to "
                f"{record['method']} {record['path']} with other parameters. Use a new key "
                "for a different request.",
                error_type=IDEMPOTENCY_ERROR,
            )

    def remember(
        self,
        scope: str,
        *,
        fingerprint: str,
        method: str,
        path: str,
        status: int,
        body: str,
        request_id: str,
    ) -> None:
        store = self._ctx.store
        now = self._ctx.now()
        ttl = self._ctx.config.idempotency_ttl_seconds
        with store.lock:
            expired = [
                key for key, record in store.idempotency.items() if record["created"] + ttl <= now
            ]
            for key in expired:
                del store.idempotency[key]
            store.idempotency[scope] = {
                "fingerprint": fingerprint,
                "method": method,
                "path": path,
                "status": status,
                "body": body,
                "request_id": request_id,
                "created": now,
            }
            store.save()
