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
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

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

# The workflow sandbox re-imports a workflow's own module (`workflows.mission`) for every run
# it starts or replays, and each cached run keeps its own copy of that module's code and
# classes. Passing the `workflows` package through imports it once for all runs.
# `missions bench --quick --only memory` ran 2 to 6 times per setup with 300 open missions, on a
# shared 2-CPU AMD EPYC with Python 3.11.7 and temporalio 1.35. The worker's RSS grew by
# 207-215 KiB per cached mission before and by 96-117 KiB after, against 93-95 KiB with no
# sandbox at all. A query that replays an evicted open mission took 23 ms instead of 44 ms.
# The trade: all runs share the module globals of `workflows/`, so those modules must keep no
# mutable module-level state. Calls such as `datetime.now()` written in `workflows.mission` are
# no longer rejected at run time. The modules it imports under `imports_passed_through` were
# never checked that way. `open()`, `input()` and `breakpoint()` are still rejected during a
# run. tests/replay runs the recorded histories in the default sandbox, which still rejects
# such calls in `workflows.mission`.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("workflows")
)

# The SDK's default number of runs kept in the workflow cache.
DEFAULT_MAX_CACHED_WORKFLOWS = 1000


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
    max_cached_workflows: int = DEFAULT_MAX_CACHED_WORKFLOWS,
) -> Worker:
    """Build the mission worker, which keeps at most `max_cached_workflows` missions in memory.

    The cache evicts the least recently used mission. The worker then drops that mission's run,
    so its next task (a command, a query or a timer) first replays the whole history. With 300
    open missions, the bench above measured an RSS growth of 96-117 KiB per mission with the
    default 1000 and of 56-65 KiB with a cache of 100. With 10,000 open missions
    (`--memory-missions 10000`) it measured 12.2 and 12.6 KiB per open mission with the default,
    against 24.3 KiB in one run before the passthrough. With a cache of 50, a query took 9 ms on
    a cached open mission and 23 ms on an evicted one. Longer histories take longer to replay.
    The SDK's `Replayer` took 120 to 210 ms for each recorded history of 94 to 306 events in
    tests/replay, including its own start.
    """
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[MissionWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
        max_cached_workflows=max_cached_workflows,
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
            client,
            settings.task_queue,
            gateway,
            make_session_factory(engine),
            executor,
            max_cached_workflows=settings.worker_max_cached_workflows,
        )
        log.info(
            "worker polling task queue %s on %s, caching at most %s missions",
            settings.task_queue,
            settings.temporal_address,
            settings.worker_max_cached_workflows,
        )
        try:
            await worker.run()
        except asyncio.CancelledError:
            log.info("worker stopping")
            raise
        finally:
            engine.dispose()
