"""Schemathesis fuzzing of every operation in the app's own OpenAPI document.

Each operation gets `EXAMPLES` requests that fit its schema and `EXAMPLES` that do not,
sent in-process (ASGI) to the real app over the worker and the Stripe sandbox, with a valid
bearer token of a random role. Every response must be no 5xx, use a documented status and
content type, match the documented schema, and reject the requests that break the schema.
About half of the valid requests aim at a real open mission instead of a random id.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from missions.contracts import Actor, Role
from missions.settings import Settings
from tests.api.conftest import LiveApi

# Examples per operation and generation mode; 2 modes x 21 operations x 12 stays near 60 s
# on the 2-core CI machine.
EXAMPLES = 50
CLIENT = "client-fuzz"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _operation_labels() -> list[str]:
    document = create_app(Settings()).openapi()
    return sorted(
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    )


def _tokens(live: LiveApi) -> dict[str, str]:
    bearer = live.bearer
    service_for_client = Actor(user_id=CLIENT, role=Role.CLIENT)
    headers = {
        "client": bearer(CLIENT, Role.CLIENT),
        "provider": bearer("prov-fuzz", Role.PROVIDER),
        "ops": bearer("ops-fuzz", Role.OPS),
        "service": bearer("svc-fuzz", Role.SERVICE),
        "service_for_client": bearer("svc-fuzz", Role.SERVICE, act_as=service_for_client),
    }
    return {role: header["Authorization"] for role, header in headers.items()}


async def _open_mission(live: LiveApi) -> str:
    body = {
        "title": "Réparer un volet",
        "description": "Volet roulant bloqué.",
        "category": "bricolage",
        "city": "Lille",
        "postcode": "59000",
    }
    response = await live.http.post(
        "/missions", json=body, headers=live.bearer(CLIENT, Role.CLIENT)
    )
    assert response.status_code == 201, response.text
    mission_id: str = response.json()["mission_id"]
    return mission_id


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Turn the `requests` arguments that schemathesis builds into `httpx` ones."""
    converted: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": kwargs.get("headers"),
        "params": kwargs.get("params"),
    }
    if "json" in kwargs:
        converted["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, str | bytes):
        converted["content"] = data
    elif data is not None:
        converted["data"] = data
    return converted


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("label", _operation_labels())
async def test_operation_fuzz(live: LiveApi, label: str) -> None:
    schema = schemathesis.openapi.from_dict(live.app.openapi())
    operation = schema.find_operation_by_label(label)
    assert operation is not None
    tokens = _tokens(live)
    mission_id = await _open_mission(live)
    loop = asyncio.get_running_loop()

    def send(kwargs: dict[str, Any]) -> httpx.Response:
        # The app runs on the test's event loop, which is free while this thread waits.
        request = live.http.request(**_httpx_kwargs(kwargs))
        return asyncio.run_coroutine_threadsafe(request, loop).result(timeout=120)

    def fuzz(mode: GenerationMode) -> None:
        checks = [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CHECKS

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=operation.as_strategy(generation_mode=mode),
            role=st.sampled_from(sorted(tokens)),
            real_mission=st.booleans(),
        )
        def check(case: Any, role: str, real_mission: bool) -> None:
            # Only a valid request may aim at the real mission: an invalid one must keep
            # the invalid part that it was generated with.
            positive = mode is GenerationMode.POSITIVE
            if positive and real_mission and "mission_id" in (case.path_parameters or {}):
                case.path_parameters["mission_id"] = mission_id
            headers = {"Authorization": tokens[role]}
            kwargs = case.as_transport_kwargs(base_url="http://missions.test", headers=headers)
            response = send(kwargs)
            case.validate_response(response, checks=checks, headers=kwargs.get("headers"))

        check()

    await asyncio.to_thread(fuzz, GenerationMode.POSITIVE)
    method, path = label.split(" ", 1)
    documented = live.app.openapi()["paths"][path][method.lower()]
    # An operation without parameters or body has no invalid request to generate.
    if documented.get("parameters") or "requestBody" in documented:
        await asyncio.to_thread(fuzz, GenerationMode.NEGATIVE)
