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
class _Seat:
    """One concurrent client: its mission and the provider's live application."""

    client: Actor
    provider: Actor
    mission_id: str
    application_id: str


async def measure_latency(
    api: MissionsApi,
    tokens: TokenBook,
    providers: list[str],
    clients: int,
    reads_per_client: int,
    updates_per_client: int,
) -> tuple[LatencySummary, LatencySummary]:
    """Return the read and update latency with `clients` clients sending at once."""
    seats = await asyncio.gather(
        *(_seat(api, tokens, providers, number) for number in range(clients))
    )

    read_samples: list[float] = []
    read_errors = 0

    async def reader(seat: _Seat) -> None:
        nonlocal read_errors
        token = tokens.get(seat.client.user_id, seat.client.role)
        for _ in range(reads_per_client):
            started = time.perf_counter()
            try:
                await api.get_mission(token, seat.mission_id)
            except Exception:
                read_errors += 1
                continue
            read_samples.append(time.perf_counter() - started)

    update_samples: list[float] = []
    update_errors = 0

    async def updater(seat: _Seat) -> None:
        nonlocal update_errors
        token = tokens.get(seat.provider.user_id, seat.provider.role)
        for number in range(updates_per_client):
            started = time.perf_counter()
            try:
                if number % 2 == 0:
                    path = f"applications/{seat.application_id}/withdrawal"
                    await api.command(token, seat.mission_id, path)
                else:
                    body = {"price_minor": 10000 + number, "message": "Toujours disponible."}
                    result = await api.command(token, seat.mission_id, "applications", body)
                    seat.application_id = str(result["application_id"])
            except Exception:
                update_errors += 1
                continue
            update_samples.append(time.perf_counter() - started)

    await asyncio.gather(*(reader(seat) for seat in seats))
    await asyncio.gather(*(updater(seat) for seat in seats))
    return summarize(read_samples, read_errors), summarize(update_samples, update_errors)


async def _seat(api: MissionsApi, tokens: TokenBook, providers: list[str], number: int) -> _Seat:
    cast = cast_for(number, providers, prefix="latency")
    client_token = tokens.get(cast.client.user_id, cast.client.role)
    view = await api.create_mission(client_token, REQUEST.model_dump(mode="json"))
    mission_id = str(view["mission_id"])
    body = {"price_minor": 10000, "message": "Disponible."}
    provider_token = tokens.get(cast.selected.user_id, cast.selected.role)
    result = await api.command(provider_token, mission_id, "applications", body)
    return _Seat(cast.client, cast.selected, mission_id, str(result["application_id"]))
