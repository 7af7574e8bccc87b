"""Fixtures for API tests that need no worker: the app built by `create_app`, with its
real lifespan, against the suite's migrated database and the Temporal CLI's dev server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from missions.db.engine import make_engine, make_session_factory
from missions.settings import Settings
from tests.api.helpers import BearerFactory

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
