"""A worker killed in the middle of a payout, with the Stripe sandbox restarted meanwhile,
and a worker killed while a local activity writes the read model.

The worker runs as a `missions worker` subprocess. Between it and the sandbox sits a proxy
that can forward a transfer to the sandbox and then keep the response back, so the kill
lands after Stripe made the transfer but before the worker recorded it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from missions.client import MissionsClient
from missions.contracts import ActorInput, ApplyInput, MissionState
from missions.db.models import ApplicationRow, MissionRow, NotificationRow
from missions.payments import PaymentsGateway, build_stripe_client
from missions.settings import DEV_STRIPE_API_KEY, DEV_STRIPE_WEBHOOK_SECRET, Settings
from stripe_sandbox import SandboxConfig
from stripe_sandbox import create_app as create_sandbox
from tests.adversarial.ledger import assert_books_balance, stripe_books
from tests.conftest import ThreadedServer, free_port
from tests.support import (
    client_actor,
    funded_mission,
    onboard,
    post_and_apply,
    provider_actor,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

MISSIONS_CLI = Path(sys.executable).parent / "missions"


class TransferHoldingProxy:
    """Forwards every Stripe call. While `holding` is set, a transfer's response never returns."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.holding = threading.Event()
        self.transfers_forwarded = 0
        self.app = FastAPI()
        self.app.add_api_route("/{path:path}", self.forward, methods=["GET", "POST", "DELETE"])

    async def forward(self, request: Request, path: str) -> Response:
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in ("host", "content-length")
        }
        async with httpx.AsyncClient(base_url=self.upstream, timeout=30) as upstream:
            answer = await upstream.request(
                request.method,
                f"/{path}",
                params=request.query_params,
                content=await request.body(),
                headers=headers,
            )
        if request.method == "POST" and path == "v1/transfers" and self.holding.is_set():
            self.transfers_forwarded += 1
            # Stripe made the transfer, and its response is lost with the worker.
            await asyncio.sleep(3600)
        return Response(
            answer.content,
            status_code=answer.status_code,
            media_type="application/json",
            headers={"Request-Id": answer.headers.get("request-id", "")},
        )


def sandbox_server(port: int, state_file: Path) -> ThreadedServer:
    config = SandboxConfig(
        api_key=DEV_STRIPE_API_KEY,
        webhook_secret=DEV_STRIPE_WEBHOOK_SECRET,
        webhook_url=None,
        state_file=state_file,
    )
    return ThreadedServer(create_sandbox(config), port)


def start_worker(settings: Settings, log_file: Path) -> subprocess.Popen[bytes]:
    """Start `missions worker` and return once it polls the task queue."""
    environment = {
        **os.environ,
        "MISSIONS_DATABASE_URL": settings.database_url,
        "MISSIONS_TEMPORAL_ADDRESS": settings.temporal_address,
        "MISSIONS_TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "MISSIONS_TASK_QUEUE": settings.task_queue,
        "MISSIONS_STRIPE_API_BASE": settings.stripe_api_base,
        "MISSIONS_STRIPE_API_KEY": DEV_STRIPE_API_KEY,
    }
    with log_file.open("ab") as log:
        worker = subprocess.Popen(
            [str(MISSIONS_CLI), "worker"], env=environment, stdout=log, stderr=log
        )
    deadline = time.monotonic() + 30
    while b"worker polling task queue" not in log_file.read_bytes():
        assert worker.poll() is None, log_file.read_text()
        assert time.monotonic() < deadline, "worker did not start within 30 s"
        time.sleep(0.1)
    return worker


async def wait_for_log_lines(log_file: Path, text: str, count: int) -> None:
    deadline = time.monotonic() + 20
    while (await asyncio.to_thread(log_file.read_text)).count(text) < count:
        assert time.monotonic() < deadline, f"{count} log lines with {text!r} not written in 20 s"
        await asyncio.sleep(0.05)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


@pytest.fixture
def crash_stack(
    tmp_path: Path, database_url: str, dev_temporal: WorkflowEnvironment
) -> Iterator[tuple[Settings, TransferHoldingProxy, Path, int]]:
    """Settings whose Stripe is the proxy, the proxy, the sandbox state file and port."""
    sandbox_port, proxy_port = free_port(), free_port()
    state_file = tmp_path / "sandbox-state.json"
    proxy = TransferHoldingProxy(f"http://127.0.0.1:{sandbox_port}")
    settings = Settings(
        database_url=database_url,
        temporal_address=dev_temporal.client.service_client.config.target_host,
        temporal_namespace=dev_temporal.client.namespace,
        task_queue=f"missions-crash-{uuid.uuid4().hex[:8]}",
        stripe_api_base=f"http://127.0.0.1:{proxy_port}",
    )
    with ThreadedServer(proxy.app, proxy_port):
        yield settings, proxy, state_file, sandbox_port


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for worker in started:
        stop_worker(worker)


async def test_worker_killed_mid_transfer_pays_once(
    crash_stack: tuple[Settings, TransferHoldingProxy, Path, int],
    workers: list[subprocess.Popen[bytes]],
    dev_temporal: WorkflowEnvironment,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    settings, proxy, state_file, sandbox_port = crash_stack
    log_file = tmp_path / "worker.log"
    customer, provider = client_actor("crash"), provider_actor("crash")
    client = MissionsClient(dev_temporal.client, settings)
    direct = Settings(stripe_api_base=f"http://127.0.0.1:{sandbox_port}")
    gateway = PaymentsGateway(build_stripe_client(direct))

    sandbox = sandbox_server(sandbox_port, state_file).__enter__()
    try:
        workers.append(start_worker(settings, log_file))
        onboard(gateway, sessions, provider)
        mission_id = await funded_mission(client, customer, provider, 5000)

        proxy.holding.set()
        release = asyncio.ensure_future(
            client.confirm_completion(mission_id, ActorInput(actor=customer))
        )
        deadline = time.monotonic() + 20
        while proxy.transfers_forwarded == 0:
            assert time.monotonic() < deadline, "the transfer never reached the sandbox"
            await asyncio.sleep(0.05)
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait()
    finally:
        sandbox.__exit__(None, None, None)

    proxy.holding.clear()
    with sandbox_server(sandbox_port, state_file):
        workers.append(start_worker(settings, log_file))
        # The lost attempt times out after the activity's 30 s start-to-close timeout.
        released = await asyncio.wait_for(release, timeout=60)

        books = stripe_books(gateway, mission_id)

    assert released.state is MissionState.REVIEWING
    assert released.money.provider_payout_minor == 4500
    assert books.transfer_count == 1
    assert books.transferred_minor == 4500
    assert_books_balance(released, books)


async def test_worker_killed_mid_projection_writes_once(
    crash_stack: tuple[Settings, TransferHoldingProxy, Path, int],
    workers: list[subprocess.Popen[bytes]],
    dev_temporal: WorkflowEnvironment,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    settings, _, state_file, sandbox_port = crash_stack
    log_file = tmp_path / "worker.log"
    customer = client_actor("crash-projection")
    first, second = provider_actor("crash-projection-1"), provider_actor("crash-projection-2")
    client = MissionsClient(dev_temporal.client, settings)

    with sandbox_server(sandbox_port, state_file):
        workers.append(start_worker(settings, log_file))
        mission_id, _ = await post_and_apply(client, customer, [(first, 5000)])
        committed = f"mission {mission_id}: application_received, now open"

        # The open transaction keeps the mission row locked, so the worker's next projection
        # waits on the database until the worker is killed.
        with sessions.begin() as session:
            session.execute(
                update(MissionRow)
                .where(MissionRow.id == mission_id)
                .values(last_event=MissionRow.last_event)
            )
            applying = asyncio.ensure_future(
                client.apply(
                    mission_id, ApplyInput(actor=second, price_minor=6000, message="Dispo.")
                )
            )
            await wait_for_log_lines(log_file, committed, 2)
            await asyncio.sleep(0.5)
            os.kill(workers[0].pid, signal.SIGKILL)
            workers[0].wait()
            stored_before = session.scalar(
                select(func.count()).where(ApplicationRow.mission_id == mission_id)
            )

        workers.append(start_worker(settings, log_file))
        # The killed worker's workflow task times out after 10 s, then the new worker replays it.
        applied = await asyncio.wait_for(applying, timeout=60)

    history = await dev_temporal.client.get_workflow_handle(mission_id).fetch_history()
    timed_out = [
        event
        for event in history.events
        if event.HasField("workflow_task_timed_out_event_attributes")
    ]
    with sessions() as session:
        stored_after = session.scalar(
            select(func.count()).where(ApplicationRow.mission_id == mission_id)
        )
        received = session.scalar(
            select(func.count()).where(
                NotificationRow.mission_id == mission_id,
                NotificationRow.template == "application_received",
            )
        )

    assert stored_before == 1
    assert len(timed_out) == 1
    assert [application.provider_id for application in applied.snapshot.applications] == [
        first.user_id,
        second.user_id,
    ]
    assert stored_after == 2
    assert received == 2
