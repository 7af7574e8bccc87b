"""Drive missions and baseline workflows through the happy path, many at once.

The happy path has two applications and two reviews: post, two providers apply, the client
selects one and pays, the provider requests release, the client confirms, both review.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from temporalio.client import Client

from missions.bench.baseline_workflow import BASELINE_WORKFLOW_TYPE, BaselinePlan
from missions.client import MissionsClient
from missions.contracts import (
    Actor,
    ActorInput,
    ApplicationRef,
    ApplyInput,
    ConfirmPaymentInput,
    MissionRequest,
    ReviewInput,
    Role,
)
from missions.demo.http import MissionsApi
from missions.demo.tokens import TokenBook

log = logging.getLogger(__name__)

REQUEST = MissionRequest(
    title="Monter une armoire",
    description="Armoire en kit de 2 m, notice fournie, montage dans une chambre.",
    category="bricolage",
    city="Nantes",
    postcode="44000",
)
PRICES_MINOR = (9000, 11000)
PAYMENT_METHOD = "pm_card_visa"
REVIEW_COMMENT = "Travail soigné, à l'heure."
# Clients of the benchmark's missions; several missions share one, as on the marketplace.
CLIENTS = 50


@dataclass(frozen=True)
class Cast:
    """The users of one benchmark mission: its client and its two applicants."""

    client: Actor
    selected: Actor
    other: Actor


def cast_for(number: int, providers: list[str], prefix: str = "bench") -> Cast:
    """Pick the users of mission `number` from the onboarded providers, in turn."""
    first = providers[number % len(providers)]
    second = providers[(number + 1) % len(providers)]
    return Cast(
        client=Actor(user_id=f"{prefix}-client-{number % CLIENTS}", role=Role.CLIENT),
        selected=Actor(user_id=first, role=Role.PROVIDER),
        other=Actor(user_id=second, role=Role.PROVIDER),
    )


@dataclass
class RunResult:
    """Measurements of one throughput run."""

    name: str
    missions: int
    failures: int
    seconds: float
    mission_ids: list[str]
    # CPU seconds each process spent during the run, when measured.
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return (self.missions - self.failures) / self.seconds if self.seconds > 0 else 0.0


async def run_many(
    name: str, count: int, concurrency: int, drive: Callable[[int], Awaitable[str]]
) -> RunResult:
    """Run `drive(number)` for each number below `count`, at most `concurrency` at once."""
    gate = asyncio.Semaphore(concurrency)
    ids: list[str] = []
    failures = 0

    async def one(number: int) -> None:
        nonlocal failures
        async with gate:
            try:
                ids.append(await drive(number))
            except Exception as error:
                failures += 1
                log.warning("%s: mission %s failed: %r", name, number, error)

    started = time.perf_counter()
    await asyncio.gather(*(one(number) for number in range(count)))
    return RunResult(name, count, failures, time.perf_counter() - started, ids)


async def happy_path_via_client(client: MissionsClient, cast: Cast) -> str:
    """Drive one mission through the typed client; return its id once its workflow ended."""
    snapshot = await client.create_mission(cast.client, REQUEST)
    mission_id = snapshot.mission_id
    chosen = await client.apply(
        mission_id, ApplyInput(actor=cast.selected, price_minor=PRICES_MINOR[0], message="Dispo.")
    )
    await client.apply(
        mission_id, ApplyInput(actor=cast.other, price_minor=PRICES_MINOR[1], message="Dispo.")
    )
    await client.select_application(
        mission_id, ApplicationRef(actor=cast.client, application_id=chosen.application_id)
    )
    await client.confirm_payment(
        mission_id, ConfirmPaymentInput(actor=cast.client, payment_method=PAYMENT_METHOD)
    )
    await client.request_release(mission_id, ActorInput(actor=cast.selected))
    await client.confirm_completion(mission_id, ActorInput(actor=cast.client))
    for reviewer in (cast.client, cast.selected):
        await client.submit_review(
            mission_id, ReviewInput(actor=reviewer, stars=5, comment=REVIEW_COMMENT)
        )
    await client.temporal.get_workflow_handle(mission_id).result()
    return mission_id


async def happy_path_via_http(api: MissionsApi, tokens: TokenBook, cast: Cast) -> str:
    """Drive one mission through the HTTP API; return its id once it is closed."""

    def token(actor: Actor) -> str:
        return tokens.get(actor.user_id, actor.role)

    view = await api.create_mission(token(cast.client), REQUEST.model_dump(mode="json"))
    mission_id = str(view["mission_id"])
    applications = []
    for actor, price in ((cast.selected, PRICES_MINOR[0]), (cast.other, PRICES_MINOR[1])):
        body = {"price_minor": price, "message": "Dispo."}
        result = await api.command(token(actor), mission_id, "applications", body)
        applications.append(str(result["application_id"]))
    client_token = token(cast.client)
    await api.command(client_token, mission_id, "selection", {"application_id": applications[0]})
    await api.command(
        client_token, mission_id, "payment/confirmation", {"payment_method": PAYMENT_METHOD}
    )
    await api.command(token(cast.selected), mission_id, "completion-request")
    await api.command(client_token, mission_id, "confirmation")
    view = {}
    for reviewer in (cast.client, cast.selected):
        review = {"stars": 5, "comment": REVIEW_COMMENT}
        view = await api.command(token(reviewer), mission_id, "reviews", review)
    if view.get("state") != "closed":
        raise RuntimeError(f"mission {mission_id} is {view.get('state')} after both reviews")
    return mission_id


async def baseline_run(
    client: Client, task_queue: str, plan: BaselinePlan, workflow_id: str
) -> str:
    """Drive one baseline workflow through its plan; return its id once it ended."""
    handle = await client.start_workflow(
        BASELINE_WORKFLOW_TYPE, plan, id=workflow_id, task_queue=task_queue
    )
    await _signal_after(handle, plan, -1)
    for index in range(len(plan.updates)):
        await handle.execute_update("step", index)
        await _signal_after(handle, plan, index)
    await handle.result()
    return workflow_id


async def _signal_after(handle: Any, plan: BaselinePlan, index: int) -> None:
    for _ in range(plan.signal_after.count(index)):
        await handle.signal("event")


def http_client(api_url: str, concurrency: int) -> httpx.AsyncClient:
    """Return an HTTP client with one connection per concurrent mission."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(
        base_url=api_url, limits=limits, timeout=httpx.Timeout(60.0, connect=10.0)
    )
