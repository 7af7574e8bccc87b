"""Helpers that drive missions through the typed client in workflow tests."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from missions.client import MissionsClient
from missions.contracts import (
    Actor,
    ActorInput,
    ApplicationRef,
    ApplyInput,
    ConfirmPaymentInput,
    MissionRequest,
    MissionSnapshot,
    MissionState,
    Role,
)
from missions.db.repositories import set_provider_stripe_account, upsert_provider_profile
from missions.payments import PaymentsGateway

OPS = Actor(user_id="ops-claire", role=Role.OPS)


def client_actor(name: str) -> Actor:
    return Actor(user_id=f"client-{name}", role=Role.CLIENT)


def provider_actor(name: str) -> Actor:
    return Actor(user_id=f"prov-{name}", role=Role.PROVIDER)


def mission_request(
    scheduled_at: datetime | None = None, title: str = "Monter une étagère"
) -> MissionRequest:
    return MissionRequest(
        title=title,
        description="Étagère murale de 80 cm, chevilles fournies.",
        category="bricolage",
        city="Lyon",
        postcode="69007",
        scheduled_at=scheduled_at,
    )


def onboard(gateway: PaymentsGateway, sessions: sessionmaker[Session], provider: Actor) -> str:
    """Give the provider a profile and a usable connected account; return the account id."""
    account_id, payouts_enabled = gateway.create_connected_account(provider.user_id, None)
    with sessions.begin() as session:
        upsert_provider_profile(
            session,
            provider_id=provider.user_id,
            display_name=provider.user_id,
            presentation="Artisan à Lyon.",
        )
        set_provider_stripe_account(session, provider.user_id, account_id, payouts_enabled)
    return account_id


async def wait_for_state(
    client: MissionsClient, mission_id: str, state: MissionState, wait_seconds: float = 15.0
) -> MissionSnapshot:
    """Poll the mission until it reaches the state; timers may still be finishing work."""
    deadline = time.monotonic() + wait_seconds
    while True:
        snapshot = await client.snapshot(mission_id)
        if snapshot.state is state:
            return snapshot
        if time.monotonic() > deadline:
            raise AssertionError(
                f"mission {mission_id} is {snapshot.state.value}, expected {state.value}"
            )
        await asyncio.sleep(0.05)


async def post_and_apply(
    client: MissionsClient,
    customer: Actor,
    providers: list[tuple[Actor, int]],
    scheduled_at: datetime | None = None,
) -> tuple[str, list[str]]:
    """Post a mission and let each provider apply at their price; return the ids."""
    snapshot = await client.create_mission(customer, mission_request(scheduled_at))
    application_ids = []
    for provider, price in providers:
        result = await client.apply(
            snapshot.mission_id,
            ApplyInput(actor=provider, price_minor=price, message="Disponible cette semaine."),
        )
        application_ids.append(result.application_id)
    return snapshot.mission_id, application_ids


async def funded_mission(
    client: MissionsClient,
    customer: Actor,
    provider: Actor,
    price_minor: int,
    scheduled_at: datetime | None = None,
) -> str:
    """Post, apply, select and pay a mission with a card that succeeds."""
    mission_id, (application_id,) = await post_and_apply(
        client, customer, [(provider, price_minor)], scheduled_at
    )
    await client.select_application(
        mission_id, ApplicationRef(actor=customer, application_id=application_id)
    )
    snapshot = await client.confirm_payment(
        mission_id, ConfirmPaymentInput(actor=customer, payment_method="pm_card_visa")
    )
    assert snapshot.state is MissionState.FUNDED
    return mission_id


async def release(client: MissionsClient, mission_id: str, customer: Actor) -> MissionSnapshot:
    return await client.confirm_completion(mission_id, ActorInput(actor=customer))


ONE_DAY = timedelta(days=1)
