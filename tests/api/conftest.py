"""Fixtures of the API tests: the app built by `create_app`, with its real lifespan, against
the suite's migrated database and the Temporal CLI's dev server.

`app` and `http` run no worker, for tests of the HTTP layer alone. `live` adds a worker and
the Stripe sandbox, for tests that drive missions through their states.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.read_model import ReadModelActivities
from api.app import create_app
from missions.activity_models import ProjectionInput
from missions.contracts import MissionState
from missions.db.engine import make_engine, make_session_factory
from missions.payments import PaymentsGateway, build_stripe_client
from missions.settings import RateLimits, Settings
from tests.api.helpers import BearerFactory
from workers.main import activities_for
from workflows.mission import MissionWorkflow

JWT_SECRET = "api-test-secret-0123456789-0123456789-0123456789"
WEBHOOK_SECRET = "whsec_api_test_secret"


@pytest.fixture(scope="session")
def api_settings(database_url: str, dev_temporal: WorkflowEnvironment) -> Settings:
    """Settings for the app under test, on the suite's migrated database."""
    return Settings(
        database_url=database_url,
        temporal_address=dev_temporal.client.service_client.config.target_host,
        temporal_namespace=dev_temporal.client.namespace,
        task_queue=f"missions-api-test-{uuid.uuid4().hex[:8]}",
        jwt_secret=JWT_SECRET,
        stripe_webhook_secret=WEBHOOK_SECRET,
    )


@pytest.fixture(scope="session")
def api_sessions(api_settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(api_settings.effective_database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest_asyncio.fixture
async def app(api_settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with its lifespan entered, as uvicorn would run it."""
    application = create_app(api_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://missions.test") as client:
        yield client


@pytest.fixture
def bearer(api_settings: Settings) -> BearerFactory:
    return BearerFactory(api_settings)


class ProjectionGate:
    """Holds a mission in `released`, which it otherwise leaves at once for `reviewing`.

    The workflow projects the `released` snapshot before it opens the review window; the
    gate blocks that projection for the missions it holds, so tests can act on the
    mission meanwhile. Every other projection runs the real activity.
    """

    # A hold past the activity's 20 s timeout only makes Temporal retry the projection,
    # which the gate holds again, so the mission stays `released` until the test lets go.
    MAX_HOLD_SECONDS = 60.0

    def __init__(self, read_model: ReadModelActivities) -> None:
        self._read_model = read_model
        self._held: dict[str, threading.Event] = {}
        self._reached: dict[str, threading.Event] = {}

    def hold(self, mission_id: str) -> threading.Event:
        """Hold the mission at `released`; return the event set once it got there."""
        self._held[mission_id] = threading.Event()
        self._reached[mission_id] = threading.Event()
        return self._reached[mission_id]

    def release(self, mission_id: str) -> None:
        self._held[mission_id].set()

    @activity.defn(name="project_mission")
    def project_mission(self, data: ProjectionInput) -> None:
        mission_id = data.snapshot.mission_id
        if mission_id in self._held and data.snapshot.state is MissionState.RELEASED:
            self._reached[mission_id].set()
            self._held[mission_id].wait(self.MAX_HOLD_SECONDS)
        self._read_model.project_mission(data)


@dataclass(frozen=True)
class LiveApi:
    settings: Settings
    app: FastAPI
    http: httpx.AsyncClient
    bearer: BearerFactory
    gate: ProjectionGate


@pytest_asyncio.fixture(scope="session")
async def live(
    database_url: str, dev_temporal: WorkflowEnvironment, sandbox_url: str
) -> AsyncIterator[LiveApi]:
    """The app in-process over a worker on the dev server and the Stripe sandbox.

    Rate limits are off, because the authorization tests send hundreds of requests.
    """
    settings = Settings(
        database_url=database_url,
        temporal_address=dev_temporal.client.service_client.config.target_host,
        temporal_namespace=dev_temporal.client.namespace,
        task_queue=f"missions-api-live-{uuid.uuid4().hex[:8]}",
        stripe_api_base=sandbox_url,
        jwt_secret=JWT_SECRET,
        allow_duration_override=True,
        rate_limits=RateLimits(enabled=False),
    )
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    gateway = PaymentsGateway(build_stripe_client(settings))
    gate = ProjectionGate(ReadModelActivities(sessions))
    activities = [
        gate.project_mission if getattr(item, "__name__", "") == "project_mission" else item
        for item in activities_for(gateway, sessions)
    ]
    application = create_app(settings)
    with ThreadPoolExecutor(max_workers=32) as executor:
        worker = Worker(
            dev_temporal.client,
            task_queue=settings.task_queue,
            workflows=[MissionWorkflow],
            activities=activities,
            activity_executor=executor,
        )
        async with worker, application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://missions.test", timeout=60
            ) as http:
                yield LiveApi(settings, application, http, BearerFactory(settings), gate)
    engine.dispose()
