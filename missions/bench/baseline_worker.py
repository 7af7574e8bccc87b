"""A worker for `BaselineWorkflow`, run as its own process like the mission worker.

Run by `missions bench` as `python -m missions.bench.baseline_worker`, with the same
`MISSIONS_*` environment as the stack's worker. Its activity runs on a thread pool of the
mission worker's size, so both workloads pay the same scheduling costs.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from temporalio import activity
from temporalio.worker import Worker

from missions.bench.baseline_workflow import NOOP_ACTIVITY, BaselineWorkflow
from missions.client import connect_temporal
from missions.settings import get_settings
from workers.main import ACTIVITY_THREADS

log = logging.getLogger("missions.bench.baseline_worker")


@activity.defn(name=NOOP_ACTIVITY)
def baseline_noop() -> None:
    """Do nothing: the baseline measures the engine, not the activity."""


async def run_baseline_worker() -> None:
    settings = get_settings()
    client = await connect_temporal(settings)
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        worker = Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[BaselineWorkflow],
            activities=[baseline_noop],
            activity_executor=executor,
            max_concurrent_activities=ACTIVITY_THREADS,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        log.info("baseline worker polling task queue %s", settings.task_queue)
        async with worker:
            await stop.wait()
        log.info("baseline worker stopped")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(run_baseline_worker())
