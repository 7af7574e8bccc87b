"""The FastAPI application factory and the lifespan that builds its clients once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import Depends, FastAPI

from api.body_limit import BodySizeLimitMiddleware
from api.deps import reject_unknown_query_parameters
from api.docs import install_docs
from api.errors import install_error_handlers
from api.idempotency import IdempotencyMiddleware, IdempotencyStore, InMemoryIdempotencyStore
from api.openapi import install_openapi
from api.rate_limits import (
    AddressRateLimitMiddleware,
    InMemoryRateLimitStore,
    RateLimiter,
    RateLimitStore,
)
from api.routes import health, missions, providers, webhooks
from missions.client import MissionsClient
from missions.db.engine import make_engine, make_session_factory
from missions.observability import install_observability
from missions.payments import build_stripe_client
from missions.settings import Settings, get_settings
from missions.tokens import TokenVerifier

log = logging.getLogger(__name__)

DESCRIPTION = """\
Missions of a local-services marketplace: a client posts a request, providers apply, the
client selects one and pays into escrow, the money is released to the provider when the
work is confirmed, and both leave a review. Each mission is one Temporal workflow.

Every route except the probes and the Stripe webhook needs a bearer JWT naming the user
and role. Every error is an RFC 9457 problem (`application/problem+json`) with a stable
`type` URI and `code`. POST requests accept an `Idempotency-Key` header that makes retries
safe. Requests are rate-limited per user and per client address (429 with `Retry-After`),
and bodies over the configured size are rejected with 413.
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


def create_app(
    settings: Settings | None = None,
    *,
    rate_limit_store: RateLimitStore | None = None,
    idempotency_store: IdempotencyStore | None = None,
) -> FastAPI:
    """Build the API for `settings`, or for the `MISSIONS_*` environment when omitted.

    The stores default to ones in this process; replicas that must share rate limits or
    idempotency keys pass stores backed by a shared database.
    """
    settings = settings or get_settings()
    app = FastAPI(
        title="Missions API",
        version=_package_version(),
        description=DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(reject_unknown_query_parameters)],
    )
    app.state.settings = settings
    verifier = TokenVerifier(settings)
    app.state.token_verifier = verifier
    limiter = RateLimiter(settings.rate_limits, rate_limit_store or InMemoryRateLimitStore())
    app.state.rate_limiter = limiter
    idempotency_store = idempotency_store or InMemoryIdempotencyStore(
        ttl_seconds=settings.idempotency_ttl.total_seconds(),
        max_keys=settings.idempotency_max_keys,
    )

    # Added innermost first: a request meets the address limit, then the body size limit,
    # then the idempotency layer, which may replay a response without running the route.
    app.add_middleware(IdempotencyMiddleware, store=idempotency_store, verifier=verifier)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AddressRateLimitMiddleware, limiter=limiter)

    install_error_handlers(app)
    install_docs(app)
    app.include_router(missions.router)
    app.include_router(providers.router)
    app.include_router(webhooks.router)
    app.include_router(health.router)
    install_openapi(app)
    install_observability(app, app.state.settings)
    return app
