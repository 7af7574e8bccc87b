"""The FastAPI application factory and the lifespan that builds its clients once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI

from api.docs import install_docs
from api.errors import install_error_handlers
from api.routes import health, missions, providers, webhooks
from missions.client import MissionsClient
from missions.db.engine import make_engine, make_session_factory
from missions.payments import build_stripe_client
from missions.settings import Settings, get_settings

log = logging.getLogger(__name__)

DESCRIPTION = """\
Missions of a local-services marketplace: a client posts a request, providers apply, the
client selects one and pays into escrow, the money is released to the provider when the
work is confirmed, and both leave a review. Each mission is one Temporal workflow.

Every route except the probes and the Stripe webhook needs a bearer JWT naming the user
and role. Errors share one body: `{"code": ..., "message": ..., "details": {...}}`.
"""

OPENAPI_TAGS = [
    {"name": "missions", "description": "Post missions and send every party's commands."},
    {"name": "messages", "description": "Questions and answers about a mission."},
    {"name": "providers", "description": "Provider profiles, payout accounts and ratings."},
    {"name": "webhooks", "description": "Signed events from Stripe."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


def _package_version() -> str:
    try:
        return version("missions")
    except PackageNotFoundError:
        return "0.0.0"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the Temporal client, the database session factory and the Stripe client."""
    settings: Settings = app.state.settings
    engine = make_engine(settings.effective_database_url)
    app.state.session_factory = make_session_factory(engine)
    app.state.stripe = build_stripe_client(settings)
    try:
        app.state.missions = await MissionsClient.connect(settings)
    except Exception:
        engine.dispose()
        log.exception(
            "API start failed: connecting to Temporal at %s failed", settings.temporal_address
        )
        raise
    log.info(
        "API started: Temporal %s namespace %s, task queue %s",
        settings.temporal_address,
        settings.temporal_namespace,
        settings.task_queue,
    )
    try:
        yield
    finally:
        engine.dispose()
        log.info("API stopped")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for `settings`, or for the `MISSIONS_*` environment when omitted."""
    app = FastAPI(
        title="Missions API",
        version=_package_version(),
        description=DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings or get_settings()
    install_error_handlers(app)
    install_docs(app)
    app.include_router(missions.router)
    app.include_router(providers.router)
    app.include_router(webhooks.router)
    app.include_router(health.router)
    return app
