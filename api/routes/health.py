"""Liveness and readiness probes, without authentication."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.service import RPCError, ServiceClient

from api.deps import MissionsDep, SessionFactoryDep
from api.schemas import Health, Readiness

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

# A dependency that hangs fails the probe after this long instead of hanging it.
PROBE_TIMEOUT = timedelta(seconds=2)


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="The database and Temporal are reachable",
    responses={503: {"model": Readiness, "description": "A dependency is unreachable."}},
)
async def readyz(missions: MissionsDep, session_factory: SessionFactoryDep) -> JSONResponse:
    checks = {
        "database": await _check_database(session_factory),
        "temporal": await _check_temporal(missions.temporal.service_client),
    }
    ready = all(result == "ok" for result in checks.values())
    body = Readiness(status="ready" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


async def _check_database(session_factory: sessionmaker[Session]) -> str:
    def select_one() -> None:
        with session_factory() as session:
            session.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(asyncio.to_thread(select_one), PROBE_TIMEOUT.total_seconds())
    except (SQLAlchemyError, TimeoutError) as error:
        log.warning("readiness check of the database failed: %s", error)
        return f"failed: {type(error).__name__}"
    return "ok"


async def _check_temporal(service_client: ServiceClient) -> str:
    try:
        serving = await service_client.check_health(timeout=PROBE_TIMEOUT)
    except RPCError as error:
        log.warning("readiness check of Temporal failed: %s", error.message)
        return f"failed: {error.message}"
    return "ok" if serving else "failed: workflow service is not serving"
