"""Sandbox-only routes under `/_sandbox/`, which Stripe does not have.

`/_sandbox/faults` reads and changes the fault plan at runtime, with the same API key
as the v1 API:

- `GET` returns the installed plan with its counters (`faults.FaultInjector.report`).
- `POST` takes a JSON `FaultPlan`, such as
  `{"rules": [{"method": "POST", "path": "/v1/transfers", "kind": "http_500", "every": 2}]}`,
  replaces the installed plan, resets the counters and returns the new report.
- `DELETE` removes every rule and returns the report as it was before, so a chaos
  test can print how many faults it saw.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request, Response
from pydantic import ValidationError

from .auth import authenticate
from .config import SandboxConfig
from .errors import StripeAPIError, invalid_request
from .faults import ADMIN_PREFIX, FaultInjector, FaultPlan
from .responses import error_response, json_response
from .store import new_id

logger = logging.getLogger(__name__)

FAULTS_PATH = ADMIN_PREFIX + "faults"


def add_admin_routes(app: FastAPI, config: SandboxConfig, injector: FaultInjector) -> None:
    async def read_faults(request: Request) -> Response:
        request_id = new_id("req", 14)
        try:
            authenticate(request, config)
        except StripeAPIError as error:
            return error_response(error, request_id)
        return json_response(200, json.dumps(injector.report()), request_id, None)

    async def replace_faults(request: Request) -> Response:
        request_id = new_id("req", 14)
        try:
            authenticate(request, config)
            plan = _read_plan(request.headers.get("content-type", ""), await request.body())
        except StripeAPIError as error:
            return error_response(error, request_id)
        injector.install(plan)
        logger.info("Installed a fault plan with %d rules", len(plan.rules))
        return json_response(200, json.dumps(injector.report()), request_id, None)

    async def clear_faults(request: Request) -> Response:
        request_id = new_id("req", 14)
        try:
            authenticate(request, config)
        except StripeAPIError as error:
            return error_response(error, request_id)
        report = injector.report()
        injector.clear()
        logger.info(
            "Cleared the fault plan after %d injected faults: %s",
            report["injected_total"],
            report["injected"],
        )
        return json_response(200, json.dumps(report), request_id, None)

    app.add_api_route(FAULTS_PATH, read_faults, methods=["GET"], name="read_faults")
    app.add_api_route(FAULTS_PATH, replace_faults, methods=["POST"], name="replace_faults")
    app.add_api_route(FAULTS_PATH, clear_faults, methods=["DELETE"], name="clear_faults")


def _read_plan(content_type: str, body: bytes) -> FaultPlan:
    if not content_type.startswith("application/json"):
        raise invalid_request(
            f"Unsupported Content-Type {content_type!r}; send the fault plan as application/json."
        )
    try:
        return FaultPlan.model_validate_json(body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'plan'}: {item['msg']}"
            for item in error.errors(include_url=False)
        )
        raise invalid_request(f"Invalid fault plan: {problems}") from None
