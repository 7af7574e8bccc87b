"""Timer catch-up: many missions whose confirmation deadline passes at the same instant.

Each mission is brought to `completion_requested`, then ops move its confirmation deadline
to one shared instant. The figure is how long after that instant the last one was released,
read from the read model, where a released mission is `reviewing` once the transfer went out.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from missions.bench.drivers import PAYMENT_METHOD, PRICES_MINOR, REQUEST, cast_for, run_many
from missions.client import MissionsClient
from missions.contracts import (
    Actor,
    ActorInput,
    ApplicationRef,
    ApplyInput,
    ConfirmPaymentInput,
    DeadlineKind,
    MoveDeadlineInput,
    Role,
)
from missions.db.engine import make_engine
from missions.db.models import MissionRow

OPS = Actor(user_id="ops-bench", role=Role.OPS)
RELEASED_STATES = ("released", "reviewing", "closed")
# Time allowed for moving every deadline before the shared instant, so that the moves end
# first. The result reports when they ended.
MOVE_MARGIN_SECONDS = 15.0
MOVE_MARGIN_PER_MISSION_SECONDS = 0.05
RELEASE_TIMEOUT_SECONDS = 600.0
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class CatchUpResult:
    missions: int
    setup_failures: int
    released: int
    # Seconds from the shared instant; negative means before it.
    moves_done_at: float
    first_release_at: float | None
    all_released_at: float | None


async def measure_catch_up(
    client: MissionsClient, database_url: str, providers: list[str], missions: int, concurrency: int
) -> CatchUpResult:
    """Bring `missions` missions to one auto-release instant and time their release."""

    async def prepare(number: int) -> str:
        cast = cast_for(number, providers, prefix="catchup")
        snapshot = await client.create_mission(cast.client, REQUEST)
        mission_id = snapshot.mission_id
        applied = await client.apply(
            mission_id,
            ApplyInput(actor=cast.selected, price_minor=PRICES_MINOR[0], message="Dispo."),
        )
        await client.select_application(
            mission_id, ApplicationRef(actor=cast.client, application_id=applied.application_id)
        )
        await client.confirm_payment(
            mission_id, ConfirmPaymentInput(actor=cast.client, payment_method=PAYMENT_METHOD)
        )
        await client.request_release(mission_id, ActorInput(actor=cast.selected))
        return mission_id

    setup = await run_many("catch-up setup", missions, concurrency, prepare)
    ids = setup.mission_ids
    if not ids:
        return CatchUpResult(missions, setup.failures, 0, 0.0, None, None)
    margin = MOVE_MARGIN_SECONDS + MOVE_MARGIN_PER_MISSION_SECONDS * len(ids)
    instant = datetime.now(UTC) + timedelta(seconds=margin)
    instant_clock = time.monotonic() + margin
    move = MoveDeadlineInput(
        actor=OPS, deadline=DeadlineKind.CONFIRMATION, at=instant, reason="timer catch-up"
    )

    async def move_deadline(number: int) -> str:
        await client.move_deadline(ids[number], move)
        return ids[number]

    await run_many("catch-up moves", len(ids), concurrency, move_deadline)
    moves_done_at = time.monotonic() - instant_clock

    engine = make_engine(database_url)
    first: float | None = None
    released = 0
    give_up = instant_clock + RELEASE_TIMEOUT_SECONDS
    try:
        while time.monotonic() < give_up:
            released = _count_released(engine, ids)
            now = time.monotonic() - instant_clock
            if released and first is None:
                first = now
            if released >= len(ids):
                return CatchUpResult(missions, setup.failures, released, moves_done_at, first, now)
            await asyncio.sleep(POLL_SECONDS)
    finally:
        engine.dispose()
    return CatchUpResult(missions, setup.failures, released, moves_done_at, first, None)


def _count_released(engine: Engine, ids: list[str]) -> int:
    query = select(func.count()).where(
        MissionRow.id.in_(ids), MissionRow.state.in_(RELEASED_STATES)
    )
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())
