"""The `missions` command: run the local stack or one of its parts, migrate, or replay the demo.

Commands import their part of the system when they run, so that `missions --help` and the
light commands do not load Temporal, FastAPI and Stripe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from missions.settings import Settings, get_settings

if TYPE_CHECKING:
    from typer._click.core import Context, Parameter

log = logging.getLogger("missions.cli")


def _hide_flag_metavars(params: list[Parameter]) -> list[Parameter]:
    """Clear the type typer's help shows after each flag (`--keep-stack <bool>`).

    A flag takes no value, so a type after it suggests one. Only the help changes,
    because typer shows no metavar for flags in usage lines or errors.
    """
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag:
            param.metavar = ""
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: Context) -> list[Parameter]:
        return _hide_flag_metavars(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx: Context) -> list[Parameter]:
        return _hide_flag_metavars(super().get_params(ctx))


app = typer.Typer(
    cls=_Group,
    help="Durable missions of a local-services marketplace: local stack, parts and demo.",
    no_args_is_help=True,
    add_completion=False,
)

# Requests still running this long after SIGTERM are cancelled, so the API stops within
# the dev stack's grace period even while an update waits on a stuck workflow.
API_SHUTDOWN_TIMEOUT_SECONDS = 5

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Directory for the databases, the Stripe sandbox state and the logs "
        "(default: MISSIONS_DATA_DIR, else .missions).",
    ),
]


@app.callback()
def configure(
    log_level: Annotated[
        str, typer.Option("--log-level", help="Logging level: DEBUG, INFO, WARNING or ERROR.")
    ] = "INFO",
) -> None:
    level = log_level.upper()
    if level not in logging.getLevelNamesMapping():
        raise typer.BadParameter(
            f"unknown level {log_level!r}; use DEBUG, INFO, WARNING or ERROR",
            param_hint="--log-level",
        )
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx and the Stripe SDK log every request at INFO; the demo, the stack's probes and
    # the ledger check make many.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("stripe").setLevel(logging.WARNING)


@app.command(cls=_Command)
def dev(
    data_dir: DataDirOption = None,
    temporal_port: Annotated[int, typer.Option(help="Temporal gRPC port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port.")] = 8233,
    stripe_port: Annotated[int, typer.Option(help="Stripe sandbox port.")] = 12111,
    api_port: Annotated[int, typer.Option(help="HTTP API port.")] = 8000,
    grace_period: Annotated[
        float, typer.Option(help="Seconds each part gets to exit after SIGTERM before SIGKILL.")
    ] = 10.0,
    startup_timeout: Annotated[
        float, typer.Option(help="Seconds each part gets to become ready.")
    ] = 60.0,
) -> None:
    """Run Temporal, the Stripe sandbox, the worker and the API on 127.0.0.1 until Ctrl-C."""
    from missions.devstack import StackConfig, StackPorts, run_dev

    settings = get_settings()
    config = StackConfig(
        data_dir=_data_dir(settings, data_dir),
        ports=StackPorts(
            temporal=temporal_port, temporal_ui=ui_port, stripe=stripe_port, api=api_port
        ),
        grace_period=grace_period,
        startup_timeout=startup_timeout,
    )
    _exit_without_finalizing(run_dev(settings, config, typer.echo))


@app.command(cls=_Command)
def stop(
    data_dir: DataDirOption = None,
    grace_period: Annotated[
        float, typer.Option(help="Seconds each part gets to exit after SIGTERM before SIGKILL.")
    ] = 10.0,
) -> None:
    """Stop the stack that `missions demo --keep-stack` left running."""
    from missions.devstack import stop_detached

    settings = get_settings()
    stop_detached(_data_dir(settings, data_dir), grace_period, typer.echo)


@app.command(cls=_Command)
def worker() -> None:
    """Run the Temporal worker of the missions until SIGINT or SIGTERM."""
    from workers.main import run_worker

    settings = get_settings()
    code = asyncio.run(_run_until_signalled(run_worker(settings), "worker"))
    _exit_without_finalizing(code)


@app.command(cls=_Command)
def api(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default: MISSIONS_API_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to bind (default: MISSIONS_API_PORT).")
    ] = None,
) -> None:
    """Serve the HTTP API with uvicorn until SIGINT or SIGTERM."""
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    code = 0
    try:
        uvicorn.run(
            create_app(settings),
            host=host or settings.api_host,
            port=port or settings.api_port,
            timeout_graceful_shutdown=API_SHUTDOWN_TIMEOUT_SECONDS,
        )
    except SystemExit as exit_request:
        # uvicorn exits this way when the app's startup fails.
        code = exit_request.code if isinstance(exit_request.code, int) else 1
    log.info("API stopped")
    _exit_without_finalizing(code)


@app.command(cls=_Command)
def sandbox(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 12111,
    webhook_url: Annotated[
        str | None,
        typer.Option(help="Endpoint that receives events (default: the API's /webhooks/stripe)."),
    ] = None,
    state_file: Annotated[
        Path | None,
        typer.Option(
            help="JSON file that keeps the sandbox's objects across restarts "
            "(default: stripe-sandbox.json in the data directory)."
        ),
    ] = None,
) -> None:
    """Run the Stripe sandbox with the configured API key and webhook secret."""
    from missions.devstack import sandbox_command, sandbox_secrets

    settings = get_settings()
    state = state_file or settings.data_dir / "stripe-sandbox.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    argv = sandbox_command(
        host=host,
        port=port,
        webhook_url=webhook_url
        or f"http://{settings.api_host}:{settings.api_port}/webhooks/stripe",
        state_file=state,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, {**os.environ, **sandbox_secrets(settings)})


@app.command(cls=_Command)
def migrate() -> None:
    """Apply the database migrations up to the latest revision."""
    from sqlalchemy import make_url

    from missions.db import upgrade_database

    url = get_settings().effective_database_url
    upgrade_database(url)
    typer.echo(f"{make_url(url).render_as_string(hide_password=True)} is at the latest revision")


@app.command(cls=_Command)
def setup(
    wait: Annotated[
        float,
        typer.Option(help="Seconds to wait for Temporal to be reachable and apply the changes."),
    ] = 60.0,
) -> None:
    """Register the Temporal namespace if missing and the missions' search attributes."""
    from datetime import timedelta

    from missions.cluster import run_setup

    code = asyncio.run(run_setup(get_settings(), typer.echo, max_wait=timedelta(seconds=wait)))
    _exit_without_finalizing(code)


@app.command(cls=_Command)
def token(
    user: Annotated[str, typer.Option("--user", help="User id, the token's 'sub' claim.")],
    role: Annotated[str, typer.Option("--role", help="Role: client, provider, ops or service.")],
    act_as_user: Annotated[
        str | None,
        typer.Option("--act-as-user", help="For a service token: the user it acts for."),
    ] = None,
    act_as_role: Annotated[
        str | None,
        typer.Option("--act-as-role", help="For a service token: that user's role."),
    ] = None,
    ttl: Annotated[
        int | None,
        typer.Option(
            "--ttl", help="Lifetime in seconds (default: MISSIONS_JWT_DEFAULT_TTL, one hour)."
        ),
    ] = None,
) -> None:
    """Print a bearer token signed with MISSIONS_JWT_SECRET (HS256), for local use."""
    from datetime import timedelta

    from missions.tokens import mint_act_as_token

    try:
        typer.echo(
            mint_act_as_token(
                get_settings(),
                user,
                role,
                act_as_user=act_as_user,
                act_as_role=act_as_role,
                ttl=None if ttl is None else timedelta(seconds=ttl),
            )
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error


@app.command(cls=_Command)
def demo(
    cases: Annotated[
        Path | None,
        typer.Option(help="Cases file, one mission per JSON line (default: the project's own)."),
    ] = None,
    providers: Annotated[
        Path | None,
        typer.Option(
            help="Providers file, a JSON list of {id, presentation} "
            "(default: a providers*.json beside the cases file)."
        ),
    ] = None,
    api_url: Annotated[
        str,
        typer.Option(
            "--api", help="Base URL of the API. A local stack is started if none responds there."
        ),
    ] = "http://127.0.0.1:8000",
    keep_stack: Annotated[
        bool,
        typer.Option("--keep-stack", help="Leave a stack the demo started running afterwards."),
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Replay the scripted missions through the HTTP API and check how each one ends."""
    from missions.demo.command import run_demo_command
    from missions.demo.runner import DEFAULT_CASES_PATH

    settings = get_settings()
    code = run_demo_command(
        cases_path=cases or DEFAULT_CASES_PATH,
        providers_path=providers,
        api_url=api_url,
        settings=settings,
        data_dir=_data_dir(settings, data_dir),
        keep_stack=keep_stack,
        echo=typer.echo,
    )
    _exit_without_finalizing(code)


@app.command(cls=_Command)
def bench(
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="Run every measurement on a few missions, in about two minutes."
        ),
    ] = False,
    missions: Annotated[
        int | None,
        typer.Option(help="Missions per throughput run (default: 500, or 20 with --quick).", min=1),
    ] = None,
    rounds: Annotated[
        int | None,
        typer.Option(
            help="Throughput rounds, each running the baseline, the client and the HTTP API "
            "in turn; the medians are reported (default: 1).",
            min=1,
        ),
    ] = None,
    memory_missions: Annotated[
        int | None,
        typer.Option(
            help="Open missions for the worker-memory measurement (default: 10000, or 300).",
            min=1,
        ),
    ] = None,
    catch_up_missions: Annotated[
        int | None,
        typer.Option(
            help="Missions due at one instant for the timer catch-up (default: 1000, or 50).",
            min=1,
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Run only this measurement: throughput, history, latency, catch-up or "
            "memory. Repeat the option for several.",
        ),
    ] = None,
    results_dir: Annotated[
        Path,
        typer.Option("--results-dir", help="Directory the results file is written to."),
    ] = Path("bench/results"),
    keep_data: Annotated[
        bool,
        typer.Option("--keep-data", help="Keep the stack's data and logs after a run."),
    ] = False,
) -> None:
    """Measure throughput, history size, API latency, worker memory and timer catch-up."""
    from dataclasses import replace

    from missions.bench.command import FULL, PHASES, QUICK, run_bench_command

    unknown = sorted(set(only or ()) - set(PHASES))
    if unknown:
        raise typer.BadParameter(
            f"unknown measurement {', '.join(unknown)}; choose from {', '.join(PHASES)}",
            param_hint="--only",
        )
    preset = QUICK if quick else FULL
    options = replace(
        preset,
        phases=tuple(only or ()),
        missions=missions or preset.missions,
        rounds=rounds or preset.rounds,
        memory_missions=memory_missions or preset.memory_missions,
        catch_up_missions=catch_up_missions or preset.catch_up_missions,
    )
    code = run_bench_command(get_settings(), options, results_dir, keep_data, typer.echo)
    _exit_without_finalizing(code)


def main() -> None:
    app()


def _data_dir(settings: Settings, option: Path | None) -> Path:
    return (option or settings.data_dir).resolve()


async def _run_until_signalled(work: Coroutine[Any, Any, None], name: str) -> int:
    """Run `work` until it ends or SIGINT or SIGTERM cancels it; return the exit code."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        log.info("%s stopped", name)
        return 0
    except Exception:
        log.exception("%s failed", name)
        return 1
    log.info("%s finished", name)
    return 0


def _exit_without_finalizing(code: int) -> NoReturn:
    """Flush the output and logs, then end the process with `code` at once.

    temporalio 1.35 can segfault while the interpreter shuts down after all work finished,
    because threads of its native core outlive the interpreter. `os._exit` skips that
    shutdown, so the crash cannot replace the exit status.
    """
    log.info("exiting with code %s", code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


ledger_app = typer.Typer(cls=_Group, help="Check the double-entry ledger of the missions.")
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("check", cls=_Command)
def ledger_check(
    skip_stripe: Annotated[
        bool, typer.Option("--skip-stripe", help="Compare with the read model only.")
    ] = False,
) -> None:
    """Verify every mission's ledger; print the missions that fail and exit 1 if any do."""
    from missions.db import make_engine, make_session_factory
    from missions.ledger_check import check_all
    from missions.payments import build_stripe_client

    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    stripe_client = None if skip_stripe else build_stripe_client(settings)
    results = check_all(make_session_factory(engine), stripe_client)
    engine.dispose()
    failed = [result for result in results if not result.ok]
    for result in failed:
        typer.echo(f"{result.mission_id}: {'; '.join(result.problems)}")
    typer.echo(f"{len(results)} missions checked, {len(failed)} with discrepancies")
    raise typer.Exit(1 if failed else 0)


# Registered last: the ops commands import this module's exit helper when they run.
from missions.ops.cli import ops_app  # noqa: E402

for registered in ops_app.registered_commands:
    registered.cls = registered.cls or _Command
app.add_typer(ops_app, name="ops", cls=_Group)


if __name__ == "__main__":
    main()
