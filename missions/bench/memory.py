"""Worker memory per open mission: a fresh worker process, then many missions left waiting.

The missions stay open, each waiting on its selection deadline's timer. The worker keeps at
most `MISSIONS_WORKER_MAX_CACHED_WORKFLOWS` of them in memory and replays an evicted one
from its history when it next has work.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass

from missions.bench.drivers import CLIENTS, REQUEST, run_many
from missions.bench.stack import BenchStack, WorkerProcess
from missions.client import MissionsClient
from missions.contracts import Actor, Role

log = logging.getLogger(__name__)

WARM_UP_MISSIONS = 20
# The resident size counts as settled once it moved less than this between two samples.
SETTLED_FRACTION = 0.01
SETTLE_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class MemoryResult:
    missions: int
    failures: int
    rss_before_bytes: int
    rss_after_bytes: int
    start_seconds: float
    workflow_cache_size: int

    @property
    def per_mission_bytes(self) -> float:
        return (self.rss_after_bytes - self.rss_before_bytes) / max(self.missions, 1)

    @property
    def per_cached_mission_bytes(self) -> float:
        """Growth divided by the missions the worker can hold in its cache at once."""
        cached = min(self.missions, self.workflow_cache_size)
        return (self.rss_after_bytes - self.rss_before_bytes) / max(cached, 1)


async def measure_memory(bench: BenchStack, missions: int, concurrency: int) -> MemoryResult:
    """Open `missions` missions on a worker of their own and measure its growth."""
    task_queue = f"bench-memory-{uuid.uuid4().hex[:8]}"
    worker = bench.start_mission_worker(task_queue)
    settings = bench.settings.model_copy(update={"task_queue": task_queue})
    client = await MissionsClient.connect(settings)

    async def open_mission(number: int) -> str:
        actor = Actor(user_id=f"memory-client-{number % CLIENTS}", role=Role.CLIENT)
        snapshot = await client.create_mission(actor, REQUEST)
        return snapshot.mission_id

    # The first missions load the worker's modules and connections; they are not counted.
    await run_many("memory warm-up", WARM_UP_MISSIONS, concurrency, open_mission)
    before = await _settled_rss(worker)
    run = await run_many("memory", missions, concurrency, open_mission)
    after = await _settled_rss(worker)
    log.info(
        "memory: %s missions on worker pid %s: RSS %s -> %s bytes",
        missions,
        worker.pid,
        before,
        after,
    )
    worker.stop()
    cache_size = settings.worker_max_cached_workflows
    return MemoryResult(missions, run.failures, before, after, run.seconds, cache_size)


async def _settled_rss(worker: WorkerProcess) -> int:
    """Sample the worker's RSS each second until it stops moving, or until the timeout."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    previous = worker.rss_bytes()
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        current = worker.rss_bytes()
        if abs(current - previous) <= previous * SETTLED_FRACTION:
            return current
        previous = current
    return previous
