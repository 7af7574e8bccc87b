"""Rate limits per user and per client address: 429 with an exact `Retry-After`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from api.app import create_app
from api.rate_limits import InMemoryRateLimitStore
from missions.contracts import Role
from missions.settings import RateLimit, RateLimits, Settings
from missions.tokens import mint_token

PROBLEMS = "https://missions.example/problems/"
GENEROUS = RateLimit(requests_per_second=1000, burst=1000)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


Client = Callable[[str], httpx.AsyncClient]


@asynccontextmanager
async def limited_app(
    api_settings: Settings, limits: RateLimits, clock: FakeClock
) -> AsyncIterator[Client]:
    """Yield a factory of HTTP clients, one per client address, to an app with `limits`."""
    settings = api_settings.model_copy(update={"rate_limits": limits})
    application = create_app(settings, rate_limit_store=InMemoryRateLimitStore(clock=clock))
    async with application.router.lifespan_context(application):

        def client_from(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=application, client=(address, 40000))
            return httpx.AsyncClient(transport=transport, base_url="http://missions.test")

        yield client_from


def bearer(settings: Settings, user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, user_id, Role.OPS)}"}


def assert_rate_limited(response: httpx.Response, retry_after: int, scope: str) -> None:
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(retry_after)
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == PROBLEMS + "rate-limited"
    assert problem["title"] == "Too many requests"
    assert problem["code"] == "rate_limited"
    assert problem["details"] == {"retry_after": retry_after, "scope": scope}


async def test_user_limit_with_exact_retry_after(api_settings: Settings, clock: FakeClock) -> None:
    limits = RateLimits(per_user=RateLimit(requests_per_second=0.5, burst=2), per_address=GENEROUS)
    async with (
        limited_app(api_settings, limits, clock) as client_from,
        client_from("127.0.0.1") as http,
    ):
        ops = bearer(api_settings, "ops-limited")
        allowed = [(await http.get("/missions", headers=ops)).status_code for _ in range(2)]
        refused = await http.get("/missions", headers=ops)
        clock.now += 1
        still_refused = await http.get("/missions", headers=ops)
        other_user = await http.get("/missions", headers=bearer(api_settings, "ops-other"))
        clock.now += 1
        allowed_again = await http.get("/missions", headers=ops)

    assert allowed == [200, 200]
    assert_rate_limited(refused, 2, "user")
    assert_rate_limited(still_refused, 1, "user")
    assert other_user.status_code == 200
    assert allowed_again.status_code == 200


async def test_address_limit_with_exact_retry_after(
    api_settings: Settings, clock: FakeClock
) -> None:
    limits = RateLimits(
        per_user=GENEROUS, per_address=RateLimit(requests_per_second=1 / 60, burst=3)
    )
    async with (
        limited_app(api_settings, limits, clock) as client_from,
        client_from("192.0.2.10") as first,
        client_from("192.0.2.11") as second,
    ):
        # Requests without a token count too, so guessing tokens is limited as well.
        statuses = [(await first.get("/missions")).status_code for _ in range(3)]
        refused = await first.get("/missions", headers=bearer(api_settings, "ops-1"))
        probe = await first.get("/healthz")
        other_address = await second.get("/missions")
        clock.now += 59.5
        still_refused = await first.get("/missions")
        clock.now += 0.5
        allowed_again = await first.get("/missions")

    assert statuses == [401, 401, 401]
    assert_rate_limited(refused, 60, "address")
    assert probe.status_code == 200
    assert other_address.status_code == 401
    assert_rate_limited(still_refused, 1, "address")
    assert allowed_again.status_code == 401


async def test_limits_can_be_disabled(api_settings: Settings, clock: FakeClock) -> None:
    tiny = RateLimit(requests_per_second=0.001, burst=1)
    limits = RateLimits(enabled=False, per_user=tiny, per_address=tiny)
    async with (
        limited_app(api_settings, limits, clock) as client_from,
        client_from("127.0.0.1") as http,
    ):
        ops = bearer(api_settings, "ops-unlimited")
        statuses = [(await http.get("/missions", headers=ops)).status_code for _ in range(5)]

    assert statuses == [200] * 5


async def test_bucket_refills_up_to_burst(clock: FakeClock) -> None:
    store = InMemoryRateLimitStore(clock=clock)
    limit = RateLimit(requests_per_second=2, burst=3)

    first = [(await store.take("k", limit)).allowed for _ in range(4)]
    clock.now += 100
    after_long_wait = [(await store.take("k", limit)).allowed for _ in range(4)]

    assert first == [True, True, True, False]
    assert after_long_wait == [True, True, True, False]
