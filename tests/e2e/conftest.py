"""The whole local stack in one process: dev server, worker, API and Stripe sandbox.

The sandbox delivers signed webhooks to the API over loopback, exactly as in `missions dev`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from missions.payments import PaymentsGateway, build_stripe_client
from missions.settings import DEV_STRIPE_API_KEY, DEV_STRIPE_WEBHOOK_SECRET, Settings
from stripe_sandbox import SandboxConfig
from stripe_sandbox import create_app as create_sandbox
from tests.conftest import ThreadedServer, free_port
from workers.main import build_worker


@dataclass(frozen=True)
class LiveStack:
    settings: Settings
    api_url: str
    gateway: PaymentsGateway


@pytest.fixture(scope="session")
def stack_settings(database_url: str, dev_temporal: WorkflowEnvironment) -> Iterator[Settings]:
    api_port, sandbox_port = free_port(), free_port()
    settings = Settings(
        database_url=database_url,
        temporal_address=dev_temporal.client.service_client.config.target_host,
        temporal_namespace=dev_temporal.client.namespace,
        task_queue=f"missions-e2e-{uuid.uuid4().hex[:8]}",
        stripe_api_base=f"http://127.0.0.1:{sandbox_port}",
        api_port=api_port,
        allow_duration_override=True,
    )
    sandbox = SandboxConfig(
        api_key=DEV_STRIPE_API_KEY,
        webhook_secret=DEV_STRIPE_WEBHOOK_SECRET,
        webhook_url=f"http://127.0.0.1:{api_port}/webhooks/stripe",
    )
    with ThreadedServer(create_sandbox(sandbox), sandbox_port):
        yield settings


@pytest_asyncio.fixture(scope="session")
async def live_stack(
    stack_settings: Settings,
    dev_temporal: WorkflowEnvironment,
    sessions: sessionmaker[Session],
) -> AsyncIterator[LiveStack]:
    gateway = PaymentsGateway(build_stripe_client(stack_settings))
    with ThreadPoolExecutor(max_workers=32) as executor:
        worker = build_worker(
            dev_temporal.client, stack_settings.task_queue, gateway, sessions, executor
        )
        async with worker:
            with ThreadedServer(create_app(stack_settings), stack_settings.api_port) as api:
                yield LiveStack(settings=stack_settings, api_url=api.url, gateway=gateway)
