"""API latency under load: concurrent clients, each reading or updating its own mission.

Each client owns one mission that a provider applied to. Reads are `GET /missions/{id}`.
Updates alternate between the provider's withdrawal and a new application, so each one is
a workflow update that changes state and writes the read model, as a real command does.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from missions.bench.drivers import REQUEST, cast_for
from missions.contracts import Actor
from missions.demo.http import MissionsApi
from missions.demo.tokens import TokenBook


@dataclass(frozen=True)
class LatencySummary:
    """Percentiles of one kind of request, in milliseconds."""

    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize(samples: list[float], errors: int) -> LatencySummary:
    ordered = sorted(samples)
    return LatencySummary(
        requests=len(samples) + errors,
        errors=errors,
        p50_ms=percentile(ordered, 0.50) * 1000,
        p95_ms=percentile(ordered, 0.95) * 1000,
        p99_ms=percentile(ordered, 0.99) * 1000,
        max_ms=(ordered[-1] * 1000) if ordered else 0.0,
    )


@dataclass
class Seat:
    """One concurrent client: its mission and the provider's latest application."""

    client: Actor
    provider: Actor
    mission_id: str
    application_id: str
    application_live: bool = True


async def prepare_seats(
    api: MissionsApi, tokens: TokenBook, providers: list[str], clients: int
) -> list[Seat]:
    """Post one mission per client and let a provider apply to it."""
    return list(
        await asyncio.gather(*(_seat(api, tokens, providers, number) for number in range(clients)))
    )


async def measure_reads(
    api: MissionsApi, tokens: TokenBook, seats: list[Seat], reads_per_client: int
) -> LatencySummary:
    """Let every seat's client read its mission `reads_per_client` times, all at once."""
    samples: list[float] = []
    errors = 0

    async def reader(seat: Seat) -> None:
        nonlocal errors
        token = tokens.get(seat.client.user_id, seat.client.role)
        for _ in range(reads_per_client):
            started = time.perf_counter()
            try:
                await api.get_mission(token, seat.mission_id)
            except Exception:
                errors += 1
                continue
            samples.append(time.perf_counter() - started)

    await asyncio.gather(*(reader(seat) for seat in seats))
    return summarize(samples, errors)


async def measure_updates(
    api: MissionsApi, tokens: TokenBook, seats: list[Seat], updates_per_client: int
) -> LatencySummary:
    """Let every seat's provider withdraw and apply again in turn, all seats at once."""
    samples: list[float] = []
    errors = 0

    async def updater(seat: Seat) -> None:
        nonlocal errors
        token = tokens.get(seat.provider.user_id, seat.provider.role)
        for number in range(updates_per_client):
            started = time.perf_counter()
            try:
                if seat.application_live:
                    path = f"applications/{seat.application_id}/withdrawal"
                    await api.command(token, seat.mission_id, path)
                    seat.application_live = False
                else:
                    body = {"price_minor": 10000 + number, "message": "Toujours disponible."}
                    result = await api.command(token, seat.mission_id, "applications", body)
                    seat.application_id = str(result["application_id"])
                    seat.application_live = True
            except Exception:
                errors += 1
                continue
            samples.append(time.perf_counter() - started)

    await asyncio.gather(*(updater(seat) for seat in seats))
    return summarize(samples, errors)


async def _seat(api: MissionsApi, tokens: TokenBook, providers: list[str], number: int) -> Seat:
    cast = cast_for(number, providers, prefix="latency")
    client_token = tokens.get(cast.client.user_id, cast.client.role)
    view = await api.create_mission(client_token, REQUEST.model_dump(mode="json"))
    mission_id = str(view["mission_id"])
    body = {"price_minor": 10000, "message": "Disponible."}
    provider_token = tokens.get(cast.selected.user_id, cast.selected.role)
    result = await api.command(provider_token, mission_id, "applications", body)
    return Seat(cast.client, cast.selected, mission_id, str(result["application_id"]))
