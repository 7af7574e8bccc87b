"""The benchmark's own stack: every part on free loopback ports in a fresh directory.

It is the same stack `missions dev` runs, so the figures describe the local stack, plus
extra worker processes the benchmark starts and stops itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from missions.contracts import Role
from missions.demo.http import MissionsApi
from missions.demo.tokens import TokenBook
from missions.devstack import (
    LOOPBACK,
    DevStack,
    StackConfig,
    StackPorts,
    child_environment,
    missions_command,
    stack_database_url,
)
from missions.settings import Settings

log = logging.getLogger(__name__)

# Seconds a worker the benchmark started gets to stop after SIGTERM before it is killed.
WORKER_STOP_SECONDS = 10.0


def free_port() -> int:
    """Return a free loopback port outside the kernel's ephemeral range.

    The dev server binds its HTTP and metrics ports to ports the kernel picks from the
    ephemeral range, so a port picked from there could be taken before its part starts.
    """
    low, high = _ephemeral_range()
    candidates = [port for port in range(20000, 32768) if not low <= port <= high]
    for port in random.sample(candidates, 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port found between 20000 and 32767")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    except (OSError, ValueError):
        return (32768, 60999)
    return (int(low), int(high))


@dataclass
class WorkerProcess:
    """A worker process the benchmark started, with its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_file: IO[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def rss_bytes(self) -> int:
        """Return the resident set size of the process, read from /proc."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS line in /proc/{self.pid}/status")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(WORKER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning(
                    "%s did not stop within %s s; killing it", self.name, WORKER_STOP_SECONDS
                )
                self.process.kill()
                self.process.wait()
        self.log_file.close()


class BenchStack:
    """A running stack plus the settings that point this process at it."""

    def __init__(self, stack: DevStack, settings: Settings) -> None:
        self.stack = stack
        self.settings = settings
        self._workers: list[WorkerProcess] = []

    @property
    def config(self) -> StackConfig:
        return self.stack.config

    @property
    def api_url(self) -> str:
        return self.config.api_url

    def start_worker(self, name: str, task_queue: str, argv: list[str]) -> WorkerProcess:
        """Start a worker process on `task_queue` with the stack's environment."""
        env = child_environment(self.settings, self.config, os.environ)
        env["MISSIONS_TASK_QUEUE"] = task_queue
        log_path = self.config.logs_dir / f"{name}.log"
        log_file = log_path.open("ab")
        process = subprocess.Popen(
            argv, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        worker = WorkerProcess(name, process, log_file)
        self._workers.append(worker)
        log.info(
            "started %s (pid %s, task queue %s, log %s)", name, worker.pid, task_queue, log_path
        )
        return worker

    def start_mission_worker(self, task_queue: str) -> WorkerProcess:
        return self.start_worker(f"worker-{task_queue}", task_queue, missions_command("worker"))

    def start_baseline_worker(self, task_queue: str) -> WorkerProcess:
        argv = [sys.executable, "-m", "missions.bench.baseline_worker"]
        return self.start_worker(f"baseline-{task_queue}", task_queue, argv)

    def pids(self) -> dict[str, int]:
        """Return the pid of each process of the stack, the extra workers and this one."""
        pids = self.stack.child_pids()
        pids.update({worker.name: worker.pid for worker in self._workers if worker.alive})
        pids["bench"] = os.getpid()
        return pids

    def stop_workers(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers.clear()


def bench_settings(settings: Settings, config: StackConfig) -> Settings:
    """Return `settings` pointed at the stack in `config`, as its children see them."""
    return settings.model_copy(
        update={
            "data_dir": config.data_dir,
            "database_url": stack_database_url(settings, config.data_dir),
            "temporal_address": config.temporal_address,
            "stripe_api_base": f"http://{LOOPBACK}:{config.ports.stripe}",
            "allow_duration_override": True,
        }
    )


@contextmanager
def running_stack(
    settings: Settings, data_dir: Path, progress: Callable[[str], None]
) -> Iterator[BenchStack]:
    """Start a stack in `data_dir` on free ports, yield it, and stop it and its workers."""
    picked: set[int] = set()
    while len(picked) < 4:
        picked.add(free_port())
    temporal, temporal_ui, stripe, api = sorted(picked)
    ports = StackPorts(temporal=temporal, temporal_ui=temporal_ui, stripe=stripe, api=api)
    # The sandbox replaces Stripe here, so its cost should not grow with the run. With a
    # state file, it rewrote 33 MB of JSON after each write once 2,000 payments existed.
    config = StackConfig(data_dir=data_dir.resolve(), ports=ports, sandbox_state_file=False)
    # Every benchmark client calls from 127.0.0.1, so the API's per-address limit would
    # throttle the load itself; the API process inherits this environment.
    os.environ["MISSIONS_RATE_LIMITS__ENABLED"] = "false"
    stack = DevStack(settings, config)
    stack.start(progress)
    bench = BenchStack(stack, bench_settings(settings, config))
    try:
        yield bench
    finally:
        bench.stop_workers()
        stack.stop()


async def onboard_providers(api: MissionsApi, tokens: TokenBook, provider_ids: list[str]) -> None:
    """Give each provider a profile and a connected account that accepts payouts."""

    async def onboard(provider_id: str) -> None:
        body = {"display_name": provider_id, "presentation": "Artisan du banc d'essai."}
        await api.put_provider(tokens.get(provider_id, Role.PROVIDER), provider_id, body)

    await asyncio.gather(*(onboard(provider_id) for provider_id in provider_ids))
