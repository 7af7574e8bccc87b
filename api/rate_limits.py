"""Token-bucket rate limits per verified user and per client address.

Each key (a user, or an address) owns a bucket of `burst` tokens, refilled continuously at
`requests_per_second`. A request takes one token; with none left it gets a 429 whose
`Retry-After` is the whole number of seconds until a token is back.

The default store keeps buckets in this process, so each API replica limits on its own.
Replicas share limits through another `RateLimitStore`, described in docs/api.md.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import build_problem, problem_response
from missions.contracts import Actor
from missions.errors import RateLimited
from missions.settings import RateLimit, RateLimits

log = logging.getLogger(__name__)

# Paths outside the per-address limit: probes poll, and Stripe must always reach the webhook,
# which checks its signature before doing any work.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/webhooks/stripe"})
# Slack for float rounding, so a wait of exactly 60 s is not reported as 61.
_ROUNDING_SLACK = 1e-9


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Whole seconds until the next token, 0 when allowed.
    retry_after: int


class RateLimitStore(Protocol):
    """Storage of the buckets, in this process or shared between replicas."""

    async def take(self, key: str, limit: RateLimit) -> Decision:
        """Take one token from `key`'s bucket if it has one."""
        ...


class InMemoryRateLimitStore:
    """Buckets in a dict, for one process.

    At most `max_keys` buckets are kept, and the least recently used is dropped first. A
    dropped bucket starts full again, so the limit is exact only while the keys fit.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = asyncio.Lock()

    async def take(self, key: str, limit: RateLimit) -> Decision:
        async with self._lock:
            now = self._clock()
            tokens, updated = self._buckets.pop(key, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - updated) * limit.requests_per_second)
            if tokens >= 1:
                decision = Decision(allowed=True, retry_after=0)
                tokens -= 1
            else:
                wait = (1 - tokens) / limit.requests_per_second
                decision = Decision(allowed=False, retry_after=math.ceil(wait - _ROUNDING_SLACK))
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return decision


class RateLimiter:
    """Applies the configured limits to users and client addresses."""

    def __init__(self, limits: RateLimits, store: RateLimitStore) -> None:
        self.limits = limits
        self.store = store

    async def check_user(self, actor: Actor) -> None:
        """Raise RateLimited when the user has used up their requests."""
        if not self.limits.enabled:
            return
        key = f"user:{actor.role.value}:{actor.user_id}"
        decision = await self.store.take(key, self.limits.per_user)
        if not decision.allowed:
            log.info(
                "rate limit of %s %s reached; retry after %s s",
                actor.role.value,
                actor.user_id,
                decision.retry_after,
            )
            raise RateLimited(
                f"too many requests for {actor.role.value} {actor.user_id!r}; retry in "
                f"{decision.retry_after} s",
                retry_after=decision.retry_after,
                scope="user",
            )

    async def check_address(self, address: str) -> Decision:
        if not self.limits.enabled:
            return Decision(allowed=True, retry_after=0)
        return await self.store.take(f"address:{address}", self.limits.per_address)


class AddressRateLimitMiddleware:
    """Middleware that rejects with 429, before routing, an address that used up its requests.

    The address is the ASGI `client`, which uvicorn sets from `X-Forwarded-For` only for
    proxies listed in its `--forwarded-allow-ips`.
    """

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        decision = await self.limiter.check_address(address)
        if decision.allowed:
            await self.app(scope, receive, send)
            return

        log.info(
            "rate limit of address %s reached; retry after %s s", address, decision.retry_after
        )
        error = RateLimited(
            f"too many requests from {address}; retry in {decision.retry_after} s",
            retry_after=decision.retry_after,
            scope="address",
        )
        problem = build_problem(
            error.code, error.status, error.message, instance=scope["path"], details=error.details
        )
        response = problem_response(problem, headers={"Retry-After": str(decision.retry_after)})
        await response(scope, receive, send)
