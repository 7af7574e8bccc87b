"""Build and run the worker that hosts MissionWorkflow and its activities.

Clients (Stripe, database sessions) are built once here and injected into the activity
classes. The synchronous activities run on a thread pool sized for blocking I/O.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.payments import PaymentActivities
from activities.read_model import ReadModelActivities
from missions.client import connect_temporal
from missions.db.engine import make_engine, make_session_factory
from missions.observability import configure_logging
from missions.payments import PaymentsGateway, build_stripe_client
from missions.settings import Settings
from workflows.mission import MissionWorkflow

log = logging.getLogger(__name__)

ACTIVITY_THREADS = 32


def activities_for(gateway: PaymentsGateway, sessions: sessionmaker[Session]) -> Sequence[Any]:
    """List the activity callables a mission worker registers."""
    payments = PaymentActivities(gateway, sessions)
    read_model = ReadModelActivities(sessions)
    return [
        payments.create_payment_intent,
        payments.confirm_payment_intent,
        payments.retrieve_payment_intent,
        payments.cancel_payment_intent,
        payments.refund,
        payments.transfer_to_provider,
        read_model.project_mission,
        read_model.publish_reviews,
    ]


def build_worker(
    client: Client,
    task_queue: str,
    gateway: PaymentsGateway,
    sessions: sessionmaker[Session],
    executor: ThreadPoolExecutor,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[MissionWorkflow],
        activities=activities_for(gateway, sessions),
        activity_executor=executor,
        max_concurrent_activities=ACTIVITY_THREADS,
    )


async def run_worker(settings: Settings) -> None:
    """Run a mission worker until cancelled."""
    # JSON logs when configured; connect_temporal adds the SDK's Prometheus endpoint.
    configure_logging(settings)
    client = await connect_temporal(settings)
    engine = make_engine(settings.effective_database_url)
    gateway = PaymentsGateway(build_stripe_client(settings))
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        worker = build_worker(
            client, settings.task_queue, gateway, make_session_factory(engine), executor
        )
        log.info(
            "worker polling task queue %s on %s", settings.task_queue, settings.temporal_address
        )
        try:
            await worker.run()
        except asyncio.CancelledError:
            log.info("worker stopping")
            raise
        finally:
            engine.dispose()
