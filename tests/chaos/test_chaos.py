"""Many missions on every money path while the worker is killed and Stripe fails.

The worker runs as a separate process that is killed with SIGKILL and restarted at random
points, and the Stripe sandbox injects 500s, rate limits, connection resets and timeouts after
the object was created. Afterwards every mission must have reached its expected end, the
ledger check must pass, and no Stripe object may exist twice for the same purpose.

`MISSIONS_CHAOS_MISSIONS` sets how many missions run (60 by default, bounded to a few
minutes here); set it to 500 or more for a soak run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from missions import money
from missions.client import MissionsClient
from missions.contracts import (
    ActorInput,
    ApplicationRef,
    ApplyInput,
    CancelInput,
    ConfirmPaymentInput,
    DisputeInput,
    Durations,
    MissionSnapshot,
    MissionState,
    ResolveDisputeInput,
    ReviewInput,
    Role,
)
from missions.errors import PaymentDeclined
from missions.ledger_check import check_all
from missions.payments import PaymentsGateway, build_stripe_client
from missions.settings import DEV_STRIPE_API_KEY, Settings
from stripe_sandbox import SandboxConfig, create_app
from stripe_sandbox.faults import FaultKind, FaultPlan, FaultRule
from tests.conftest import ThreadedServer, free_port
from tests.support import OPS, client_actor, mission_request, onboard, provider_actor

log = logging.getLogger(__name__)

# The run took one to four minutes on a 2-CPU machine. The timeout leaves room for a slower one.
pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(900)]

MISSION_COUNT = int(os.environ.get("MISSIONS_CHAOS_MISSIONS", "60"))
CONCURRENCY = 60
SEED = 20261204
FEES = money.FeePolicy()
# Short enough that auto-release and review windows pass during the run; the selection
# and payment deadlines stay long so that no mission expires by accident.
DURATIONS = Durations(
    selection_deadline=timedelta(minutes=30),
    payment_deadline=timedelta(minutes=30),
    confirmation_window=timedelta(seconds=3),
    review_window=timedelta(seconds=4),
    confirmation_reminder_before=timedelta(seconds=1),
    review_reminder_before=timedelta(seconds=1),
    payment_poll_interval=timedelta(minutes=10),
    payout_retry_interval=timedelta(seconds=2),
)
MONEY_PATHS = (
    "/v1/refunds",
    "/v1/transfers",
    "/v1/payment_intents",
    "/v1/payment_intents/*/confirm",
)


def fault_plan() -> FaultPlan:
    rules = []
    kinds = (
        FaultKind.HTTP_500,
        FaultKind.TIMEOUT_AFTER_CREATE,
        FaultKind.CONNECTION_RESET,
        FaultKind.RATE_LIMIT,
    )
    for offset, path in enumerate(MONEY_PATHS):
        for index, kind in enumerate(kinds):
            rules.append(
                FaultRule(
                    method="POST",
                    path=path,
                    kind=kind,
                    probability=0.12,
                    seed=SEED + offset * 10 + index,
                )
            )
    return FaultPlan(rules=tuple(rules))


@dataclass
class Expected:
    state: MissionState
    captured: int
    refunded: int
    payout: int

    @property
    def platform(self) -> int:
        return self.captured - self.refunded - self.payout


@dataclass
class ChaosRun:
    settings: Settings
    missions: MissionsClient
    gateway: PaymentsGateway
    sandbox_url: str
    stop_killing: Callable[[], Awaitable[None]]
    restarts: int = 0
    expected: dict[str, Expected] = field(default_factory=dict)


class WorkerProcess:
    """A `missions worker` child process that the test kills and restarts."""

    def __init__(self, settings: Settings) -> None:
        self.environment = {
            **os.environ,
            "MISSIONS_DATABASE_URL": settings.effective_database_url,
            "MISSIONS_TEMPORAL_ADDRESS": settings.temporal_address,
            "MISSIONS_TEMPORAL_NAMESPACE": settings.temporal_namespace,
            "MISSIONS_TASK_QUEUE": settings.task_queue,
            "MISSIONS_STRIPE_API_BASE": settings.stripe_api_base,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "missions.cli", "--log-level", "WARNING", "worker"],
            env=self.environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def chaos_sandbox() -> Iterator[str]:
    config = SandboxConfig(api_key=DEV_STRIPE_API_KEY, faults=fault_plan())
    with ThreadedServer(create_app(config), free_port()) as server:
        yield server.url


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def chaos(
    chaos_sandbox: str, database_url: str, dev_temporal: WorkflowEnvironment
) -> AsyncIterator[ChaosRun]:
    settings = Settings(
        database_url=database_url,
        temporal_address=dev_temporal.client.service_client.config.target_host,
        temporal_namespace=dev_temporal.client.namespace,
        task_queue=f"missions-chaos-{uuid.uuid4().hex[:8]}",
        stripe_api_base=chaos_sandbox,
        allow_duration_override=True,
    )
    worker = WorkerProcess(settings)
    worker.start()
    stop = asyncio.Event()

    async def stop_killing() -> None:
        stop.set()
        await killer

    run = ChaosRun(
        settings=settings,
        missions=MissionsClient(dev_temporal.client, settings),
        gateway=PaymentsGateway(build_stripe_client(settings)),
        sandbox_url=chaos_sandbox,
        stop_killing=stop_killing,
    )
    killer = asyncio.create_task(_kill_and_restart(worker, run, stop))
    try:
        yield run
    finally:
        await stop_killing()
        worker.kill()


async def _kill_and_restart(worker: WorkerProcess, run: ChaosRun, stop: asyncio.Event) -> None:
    """Kill the worker at random intervals, leaving a live one when `stop` is set.

    A task bound to the killed worker reaches the next one only after the sticky queue's
    schedule-to-start timeout (10 s by default in temporalio). A worker killed more often than
    that would starve missions instead of testing them, so the intervals stay above it.
    """
    draws = random.Random(SEED)
    delay = 2.0
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
            return
        except TimeoutError:
            pass
        worker.kill()
        await asyncio.sleep(draws.uniform(0.0, 1.0))
        worker.start()
        run.restarts += 1
        delay = draws.uniform(10.0, 20.0)


async def _retrying(
    call: Callable[[], Awaitable[object]],
    done: Callable[[], Awaitable[bool]] | None = None,
) -> None:
    """Send one command until it goes through, riding out worker restarts and Stripe faults.

    A failed attempt may still have taken effect (its response was lost while the worker
    restarted), so `done` is asked before each new attempt of a command that must not run
    twice.
    """
    for _attempt in range(30):
        try:
            await call()
            return
        except PaymentDeclined:
            raise
        except Exception as error:
            log.info("chaos: command failed, retrying: %s", error)
        await asyncio.sleep(0.5)
        if done is not None:
            try:
                if await done():
                    return
            except Exception as error:
                log.info("chaos: query failed: %s", error)
    raise AssertionError("a command kept failing for 30 attempts")


async def _run_mission(run: ChaosRun, number: int, sessions: sessionmaker[Session]) -> None:
    missions = run.missions
    path = number % 6
    customer = client_actor(f"chaos-{number}")
    provider = provider_actor(f"chaos-{number}")
    if path != 5:
        await asyncio.to_thread(onboard, run.gateway, sessions, provider)
    price = 2000 + (number * 137) % 30000
    quote = money.quote(price, "EUR", FEES)
    late = path == 3
    scheduled = datetime.now(UTC) + (timedelta(hours=6) if late else timedelta(days=10))
    mission_id = f"mission-{uuid.uuid4()}"

    async def state_is(*states: MissionState) -> bool:
        return (await missions.snapshot(mission_id)).state in states

    async def has_applied() -> bool:
        return bool((await missions.snapshot(mission_id)).applications)

    await _retrying(
        lambda: missions.create_mission(
            customer, mission_request(scheduled), durations=DURATIONS, mission_id=mission_id
        ),
        done=lambda: state_is(MissionState.OPEN),
    )
    await _retrying(
        lambda: missions.apply(
            mission_id, ApplyInput(actor=provider, price_minor=price, message="Disponible")
        ),
        done=has_applied,
    )
    application_id = (await _snapshot(missions, mission_id)).applications[0].application_id
    await _retrying(
        lambda: missions.select_application(
            mission_id, ApplicationRef(actor=customer, application_id=application_id)
        ),
        done=lambda: state_is(MissionState.AWAITING_PAYMENT, MissionState.FUNDED),
    )
    await _retrying(
        lambda: missions.confirm_payment(
            mission_id, ConfirmPaymentInput(actor=customer, payment_method="pm_card_visa")
        ),
        done=lambda: state_is(MissionState.FUNDED),
    )
    total = quote.client_total_minor
    if path == 0:
        await _retrying(
            lambda: missions.request_release(mission_id, ActorInput(actor=provider)),
            done=lambda: state_is(MissionState.COMPLETION_REQUESTED),
        )
        await _retrying(
            lambda: missions.confirm_completion(mission_id, ActorInput(actor=customer)),
            done=lambda: state_is(MissionState.REVIEWING, MissionState.CLOSED),
        )
        for author, role in ((customer, Role.CLIENT), (provider, Role.PROVIDER)):
            await _retrying(
                lambda author=author: missions.submit_review(
                    mission_id, ReviewInput(actor=author, stars=5)
                ),
                done=lambda role=role: _reviewed(missions, mission_id, role),
            )
        expected = Expected(MissionState.CLOSED, total, 0, quote.provider_payout_minor)
    elif path == 1:
        await _retrying(
            lambda: missions.open_dispute(
                mission_id, DisputeInput(actor=customer, reason="Retard")
            ),
            done=lambda: state_is(MissionState.DISPUTED),
        )
        refund = total // 3
        release = (total - refund) // 2
        await _retrying(
            lambda: missions.resolve_dispute(
                mission_id,
                ResolveDisputeInput(actor=OPS, refund_minor=refund, release_minor=release),
            ),
            done=lambda: state_is(MissionState.REVIEWING, MissionState.CLOSED),
        )
        expected = Expected(MissionState.CLOSED, total, refund, release)
    elif path == 2:
        await _retrying(
            lambda: missions.cancel(mission_id, CancelInput(actor=customer)),
            done=lambda: state_is(MissionState.CANCELLED),
        )
        expected = Expected(MissionState.CANCELLED, total, total, 0)
    elif path == 3:
        split = money.late_cancellation_split(quote, money.CancellationPolicy(), late=True)
        await _retrying(
            lambda: missions.cancel(mission_id, CancelInput(actor=customer)),
            done=lambda: state_is(MissionState.CANCELLED),
        )
        expected = Expected(
            MissionState.CANCELLED, total, split.refund_minor, split.provider_payout_minor
        )
    elif path == 4:
        await _retrying(
            lambda: missions.cancel(mission_id, CancelInput(actor=provider)),
            done=lambda: state_is(MissionState.OPEN),
        )
        await _retrying(
            lambda: missions.cancel(mission_id, CancelInput(actor=customer)),
            done=lambda: state_is(MissionState.CANCELLED),
        )
        expected = Expected(MissionState.CANCELLED, total, total, 0)
    else:
        # Auto-release to a provider who onboards only once the payout waits.
        await _retrying(
            lambda: missions.request_release(mission_id, ActorInput(actor=provider)),
            done=lambda: state_is(MissionState.COMPLETION_REQUESTED, MissionState.FUNDED),
        )
        await _wait_until(missions, mission_id, lambda s: s.payout_pending)
        await asyncio.to_thread(onboard, run.gateway, sessions, provider)
        expected = Expected(MissionState.CLOSED, total, 0, quote.provider_payout_minor)
    run.expected[mission_id] = expected


async def _wait_until(
    missions: MissionsClient, mission_id: str, condition: Callable[..., bool]
) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if condition(await missions.snapshot(mission_id)):
                return
        except Exception as error:
            log.info("chaos: query of %s failed: %s", mission_id, error)
        await asyncio.sleep(0.5)
    raise AssertionError(f"mission {mission_id} did not reach the expected condition in 120 s")


async def _snapshot(missions: MissionsClient, mission_id: str) -> MissionSnapshot:
    """Read the mission, waiting out a worker restart."""
    for _attempt in range(60):
        try:
            return await missions.snapshot(mission_id)
        except Exception as error:
            log.info("chaos: query of %s failed: %s", mission_id, error)
            await asyncio.sleep(0.5)
    return await missions.snapshot(mission_id)


async def _reviewed(missions: MissionsClient, mission_id: str, role: Role) -> bool:
    snapshot = await missions.snapshot(mission_id)
    return role in snapshot.reviews_submitted_by or snapshot.state is MissionState.CLOSED


def _duplicates(run: ChaosRun, mission_id: str) -> list[str]:
    """Return a line for each Stripe object created twice for the same purpose."""
    stripe = run.gateway._stripe
    found = []
    intents = list(
        stripe.v1.payment_intents.search(
            {"query": f"metadata['mission_id']:'{mission_id}'", "limit": 100}
        ).auto_paging_iter()
    )
    selections = Counter(intent.metadata.to_dict().get("selection_number") for intent in intents)
    found += [
        f"{mission_id}: {n} PaymentIntents for selection {s}"
        for s, n in selections.items()
        if n > 1
    ]
    for intent in intents:
        refunds = stripe.v1.refunds.list({"payment_intent": intent.id, "limit": 100})
        purposes = Counter(r.metadata.to_dict().get("purpose") for r in refunds.auto_paging_iter())
        found += [f"{mission_id}: {n} refunds for {p}" for p, n in purposes.items() if n > 1]
    transfers = stripe.v1.transfers.list({"transfer_group": mission_id, "limit": 100})
    purposes = Counter(t.metadata.to_dict().get("purpose") for t in transfers.auto_paging_iter())
    found += [f"{mission_id}: {n} transfers for {p}" for p, n in purposes.items() if n > 1]
    return found


async def test_chaos_moves_money_once(chaos: ChaosRun, sessions: sessionmaker[Session]) -> None:
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(number: int) -> None:
        async with limit:
            await _run_mission(chaos, number, sessions)

    await asyncio.gather(*(one(number) for number in range(MISSION_COUNT)))
    # The checks below read the final state. Kills during these queries would only slow them,
    # because each query would wait out a dead worker's sticky queue.
    await chaos.stop_killing()

    mismatches = []
    for mission_id, expected in chaos.expected.items():
        await _wait_until(chaos.missions, mission_id, lambda s, e=expected: s.state is e.state)
        money_now = (await _snapshot(chaos.missions, mission_id)).money
        got = (
            money_now.captured_minor,
            money_now.refunded_minor,
            money_now.provider_payout_minor,
            money_now.platform_revenue_minor,
        )
        want = (expected.captured, expected.refunded, expected.payout, expected.platform)
        if got != want:
            mismatches.append(f"{mission_id}: expected {want}, got {got}")

    # The read model trails the workflow by one activity; give the last writes time to land.
    await asyncio.sleep(2)
    results = await asyncio.to_thread(check_all, sessions, chaos.gateway._stripe)
    ours = [r for r in results if r.mission_id in chaos.expected]
    discrepancies = [f"{r.mission_id}: {r.problems}" for r in ours if not r.ok]
    duplicates = [line for m in chaos.expected for line in _duplicates(chaos, m)]
    async with httpx.AsyncClient(base_url=chaos.sandbox_url) as http:
        report = (
            await http.get(
                "/_sandbox/faults", headers={"Authorization": f"Bearer {DEV_STRIPE_API_KEY}"}
            )
        ).json()
    faults = report["injected_total"]
    sys.stdout.write(
        f"\nchaos: {len(chaos.expected)} missions, {faults} faults injected "
        f"{report['injected']}, {chaos.restarts} worker restarts, "
        f"{len(duplicates)} duplicates, {len(discrepancies)} ledger discrepancies\n"
    )

    assert mismatches == []
    assert discrepancies == []
    assert duplicates == []
    assert len(chaos.expected) == MISSION_COUNT
    assert len(ours) == MISSION_COUNT
    assert chaos.restarts >= 1
    assert faults >= 50
