"""`missions bench`: start a stack of its own, run every measurement, print and save them."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from missions.bench.baseline_workflow import BaselinePlan
from missions.bench.catchup import measure_catch_up
from missions.bench.cpu import CpuMeter
from missions.bench.drivers import (
    RunResult,
    baseline_run,
    cast_for,
    happy_path_via_client,
    happy_path_via_http,
    http_client,
    run_many,
)
from missions.bench.history import count_history, plan_from_history
from missions.bench.latency import (
    LatencySummary,
    measure_reads,
    measure_updates,
    prepare_seats,
)
from missions.bench.machine import describe_machine
from missions.bench.memory import measure_memory
from missions.bench.report import format_results, history_figures, write_results
from missions.bench.stack import BenchStack, onboard_providers, running_stack
from missions.client import MissionsClient
from missions.demo.http import MissionsApi
from missions.demo.runner import DEFAULT_CASES_PATH, replay_scenario
from missions.demo.scenarios import load_scenario
from missions.demo.tokens import TokenBook
from missions.devstack import (
    StackError,
    find_temporal_cli,
    interrupt_on_stop_signals,
    temporal_command,
)
from missions.settings import Settings

log = logging.getLogger(__name__)

Echo = Callable[[str], None]
WARM_UP_MISSIONS = 5


@dataclass(frozen=True)
class BenchOptions:
    """The sizes of one run; `FULL` and `QUICK` are the two presets."""

    mode: str
    missions: int
    concurrency: int
    rounds: int
    latency_clients: int
    reads_per_client: int
    updates_per_client: int
    memory_missions: int
    catch_up_missions: int
    providers: int = 20
    # Measurements to run, from PHASES; all of them by default.
    phases: tuple[str, ...] = ()

    def runs(self, phase: str) -> bool:
        return not self.phases or phase in self.phases


PHASES = ("throughput", "history", "latency", "catch-up", "memory")

FULL = BenchOptions(
    mode="full",
    missions=500,
    concurrency=100,
    rounds=1,
    latency_clients=50,
    reads_per_client=40,
    updates_per_client=20,
    memory_missions=10_000,
    catch_up_missions=1_000,
)
# Small enough for CI: every measurement runs, on too few missions to compare with targets.
QUICK = BenchOptions(
    mode="quick",
    missions=20,
    concurrency=20,
    rounds=1,
    latency_clients=50,
    reads_per_client=10,
    updates_per_client=4,
    memory_missions=300,
    catch_up_missions=50,
)


class BenchError(Exception):
    """A measurement could not run at all."""


def run_bench_command(
    settings: Settings, options: BenchOptions, results_dir: Path, keep_data: bool, echo: Echo
) -> int:
    """Run the benchmark and return the exit code: 0 when every mission it drove succeeded."""
    started_at = datetime.now(UTC)
    data_dir = Path(tempfile.mkdtemp(prefix="missions-bench-"))
    echo(f"benchmark data and logs in {data_dir}")
    clock = time.perf_counter()
    try:
        with interrupt_on_stop_signals(), running_stack(settings, data_dir, echo) as bench:
            results = asyncio.run(_measure(bench, options, echo))
    except StackError as error:
        echo(f"error: {error}")
        return 1
    except BenchError as error:
        echo(f"error: {error}; the logs are in {data_dir / 'logs'}")
        return 1
    except KeyboardInterrupt:
        echo(f"interrupted; the logs are in {data_dir / 'logs'}")
        return 130

    results["run"] = {
        "mode": options.mode,
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_seconds": round(time.perf_counter() - clock, 1),
        "options": dataclasses.asdict(options),
    }
    temporal_cli = find_temporal_cli()
    database = make_url(settings.effective_database_url).get_backend_name()
    command = temporal_command(temporal_cli, bench.config, settings.temporal_namespace)
    results["machine"] = describe_machine(temporal_cli, persistence_flags(command), database)
    for line in format_results(results):
        echo(line)
    path = write_results(results, results_dir, started_at)
    echo(f"results written to {path}")

    # A command that times out under load is a figure of the run, not a fault. A mission
    # whose money is never released is a fault, and so is a run in which no mission finished.
    problems = results["problems"]
    if results["failures"]:
        echo(f"{results['failures']} mission(s) failed during the benchmark; see the warnings")
    for problem in problems:
        echo(f"error: {problem}; the logs are in {data_dir / 'logs'}")
    if not problems and not keep_data:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 1 if problems else 0


def persistence_flags(command: list[str]) -> list[str]:
    """Return the dev server's persistence flags, which the throughput depends on."""
    flags = []
    for flag, value in itertools.pairwise(command):
        if flag == "--db-filename":
            flags.append(f"{flag} {Path(value).name}")
        elif flag == "--sqlite-pragma":
            flags.append(f"{flag} {value}")
    return flags or ["in memory"]


async def _measure(bench: BenchStack, options: BenchOptions, echo: Echo) -> dict[str, Any]:
    settings = bench.settings
    client = await MissionsClient.connect(settings)
    tokens = TokenBook(settings)
    providers = [f"bench-pro-{number:02d}" for number in range(options.providers)]
    results: dict[str, Any] = {}
    failures = 0
    problems: list[str] = []

    async with http_client(bench.api_url, options.concurrency) as http:
        api = MissionsApi(http)
        await onboard_providers(api, tokens, providers)

        echo(f"warming up with {WARM_UP_MISSIONS} missions")
        warm_up = await run_many(
            "warm-up",
            WARM_UP_MISSIONS,
            WARM_UP_MISSIONS,
            lambda number: happy_path_via_client(client, cast_for(number, providers)),
        )
        if not warm_up.mission_ids:
            raise BenchError("no warm-up mission finished its happy path")
        failures += warm_up.failures
        happy_history = await client.temporal.get_workflow_handle(
            warm_up.mission_ids[0]
        ).fetch_history()

        if options.runs("throughput"):
            echo(f"throughput: {options.missions} missions per run, {options.rounds} round(s)")
            plan = plan_from_history(happy_history)
            results["throughput"] = await _throughput(
                bench, client, api, tokens, providers, options, plan
            )
            failures += results["throughput"]["failures"]
            if results["throughput"]["failures"] >= options.missions * options.rounds * 3:
                problems.append("no mission finished in the throughput runs")
            results["throughput"]["baseline_plan"] = plan.model_dump()

        if options.runs("history"):
            echo("history: replaying the demo scenarios")
            results["history"] = {
                "happy_path": history_figures(count_history(happy_history)),
                "demo_paths": await _demo_histories(bench, client),
            }

        if options.runs("latency"):
            echo(f"latency: {options.latency_clients} clients")
            results["latency"] = await _latency(bench, api, tokens, providers, options)

    if options.runs("catch-up"):
        echo(f"timer catch-up: {options.catch_up_missions} missions")
        catch_up = await measure_catch_up(
            client,
            settings.effective_database_url,
            providers,
            options.catch_up_missions,
            options.concurrency,
        )
        failures += catch_up.setup_failures
        set_up = catch_up.missions - catch_up.setup_failures
        if catch_up.released < set_up:
            problems.append(
                f"{set_up - catch_up.released} of {set_up} missions due at one instant were "
                "not released in time"
            )
        results["catch_up"] = dataclasses.asdict(catch_up)

    if options.runs("memory"):
        echo(f"worker memory: {options.memory_missions} open missions")
        memory = await measure_memory(bench, options.memory_missions, options.concurrency)
        failures += memory.failures
        if memory.failures >= options.memory_missions:
            problems.append("no mission opened in the worker-memory measurement")
        results["memory"] = {
            **dataclasses.asdict(memory),
            "per_mission_bytes": round(memory.per_mission_bytes),
            "per_cached_mission_bytes": round(memory.per_cached_mission_bytes),
        }
    results["failures"] = failures
    results["problems"] = problems
    return results


async def _throughput(
    bench: BenchStack,
    client: MissionsClient,
    api: MissionsApi,
    tokens: TokenBook,
    providers: list[str],
    options: BenchOptions,
    plan: BaselinePlan,
) -> dict[str, Any]:
    """Alternate baseline, Temporal-client and HTTP runs; return their medians and ratios."""
    task_queue = f"bench-baseline-{uuid.uuid4().hex[:8]}"
    bench.start_baseline_worker(task_queue)
    run_id = uuid.uuid4().hex[:8]

    def baseline(round_number: int) -> Callable[[int], Awaitable[str]]:
        return lambda number: baseline_run(
            client.temporal, task_queue, plan, f"baseline-{run_id}-{round_number}-{number}"
        )

    # The baseline worker's first workflows load its modules; they are not counted.
    await run_many("baseline warm-up", WARM_UP_MISSIONS, WARM_UP_MISSIONS, baseline(-1))

    drivers: dict[str, Callable[[int], Callable[[int], Awaitable[str]]]] = {
        "baseline": baseline,
        "client": lambda _round: (
            lambda number: happy_path_via_client(client, cast_for(number, providers))
        ),
        "http": lambda _round: (
            lambda number: happy_path_via_http(api, tokens, cast_for(number, providers))
        ),
    }
    rounds: list[dict[str, RunResult]] = []
    for round_number in range(options.rounds):
        runs = {}
        for name, driver in drivers.items():
            meter = CpuMeter(bench.pids())
            meter.start()
            run = await run_many(name, options.missions, options.concurrency, driver(round_number))
            run.cpu_seconds = meter.stop()
            runs[name] = run
        for name, run in runs.items():
            log.info("throughput round %s: %s %.2f missions/s", round_number, name, run.per_second)
        rounds.append(runs)

    def median(name: str) -> float:
        return statistics.median(runs[name].per_second for runs in rounds)

    baseline_rate = median("baseline")
    return {
        "missions": options.missions,
        "concurrency": options.concurrency,
        "rounds": [
            {
                name: {
                    "per_second": round(run.per_second, 3),
                    "seconds": round(run.seconds, 2),
                    "failures": run.failures,
                    "cpu_seconds": run.cpu_seconds,
                    "cpu_ms_per_mission": _per_item_ms(run.cpu_seconds, run.missions),
                }
                for name, run in runs.items()
            }
            for runs in rounds
        ],
        "baseline_per_second": baseline_rate,
        "client_per_second": median("client"),
        "http_per_second": median("http"),
        "client_ratio": median("client") / baseline_rate if baseline_rate else 0.0,
        "http_ratio": median("http") / baseline_rate if baseline_rate else 0.0,
        "failures": sum(run.failures for runs in rounds for run in runs.values()),
    }


async def _latency(
    bench: BenchStack,
    api: MissionsApi,
    tokens: TokenBook,
    providers: list[str],
    options: BenchOptions,
) -> dict[str, Any]:
    """Measure reads and updates with every client at once, then updates by one client."""
    seats = await prepare_seats(api, tokens, providers, options.latency_clients)
    figures: dict[str, Any] = {"clients": options.latency_clients}
    measurements: dict[str, Callable[[], Awaitable[LatencySummary]]] = {
        "reads": lambda: measure_reads(api, tokens, seats, options.reads_per_client),
        "updates": lambda: measure_updates(api, tokens, seats, options.updates_per_client),
        # One client alone shows the latency without queueing behind the others.
        "updates_one_client": lambda: measure_updates(
            api, tokens, seats[:1], options.updates_per_client * 2
        ),
    }
    for name, measure in measurements.items():
        meter = CpuMeter(bench.pids())
        meter.start()
        summary = await measure()
        cpu = meter.stop()
        figures[name] = {
            **dataclasses.asdict(summary),
            "cpu_seconds": cpu,
            "cpu_ms_per_request": _per_item_ms(cpu, summary.requests),
        }
    return figures


def _per_item_ms(cpu_seconds: dict[str, float], items: int) -> dict[str, float]:
    return {name: round(seconds * 1000 / max(items, 1), 1) for name, seconds in cpu_seconds.items()}


async def _demo_histories(bench: BenchStack, client: MissionsClient) -> list[dict[str, Any]]:
    """Replay the project's demo scenarios and count each mission's history."""
    report = await replay_scenario(
        load_scenario(DEFAULT_CASES_PATH, None), bench.api_url, bench.settings
    )
    paths = []
    for outcome in sorted(report.outcomes, key=lambda outcome: outcome.ref):
        if outcome.mission_id is None:
            continue
        handle = client.temporal.get_workflow_handle(outcome.mission_id)
        count = count_history(await handle.fetch_history())
        state = (outcome.view or {}).get("state", "unknown")
        paths.append({"ref": outcome.ref, "state": state, **history_figures(count)})
    return paths
