"""The Temporal SDK runtime: its Prometheus endpoint and the connection that uses it."""

from __future__ import annotations

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from missions.client import connect_temporal
from missions.observability import temporal_metrics_address, temporal_runtime
from missions.settings import LogFormat, Settings
from tests.conftest import free_port


def test_no_custom_runtime_by_default() -> None:
    assert temporal_runtime(Settings()) is None


def test_metrics_address_formats() -> None:
    assert temporal_metrics_address(Settings()) is None
    any_ipv4 = Settings(temporal_metrics_host="0.0.0.0", temporal_metrics_port=9464)
    any_ipv6 = Settings(temporal_metrics_host="::", temporal_metrics_port=9464)
    assert temporal_metrics_address(any_ipv4) == "0.0.0.0:9464"
    assert temporal_metrics_address(any_ipv6) == "[::]:9464"


@pytest.mark.asyncio(loop_scope="session")
async def test_sdk_metrics_served_on_configured_port(dev_temporal: WorkflowEnvironment) -> None:
    port = free_port()
    settings = Settings(
        temporal_address=dev_temporal.client.service_client.config.target_host,
        temporal_namespace=dev_temporal.client.namespace,
        temporal_metrics_port=port,
    )
    runtime = temporal_runtime(settings)
    assert runtime is not None
    assert temporal_runtime(settings) is runtime

    client = await connect_temporal(settings)
    assert await client.service_client.check_health()
    async for _ in client.list_workflows(page_size=1):
        break

    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    request_lines = [
        line
        for line in response.text.splitlines()
        if line.startswith("temporal_request{") and 'operation="ListWorkflowExecutions"' in line
    ]
    assert len(request_lines) == 1
    assert f'namespace="{dev_temporal.client.namespace}"' in request_lines[0]
    assert request_lines[0].endswith(" 1")


def test_json_logs_get_their_own_runtime() -> None:
    runtime = temporal_runtime(Settings(log_format=LogFormat.JSON))
    assert runtime is not None
    assert temporal_runtime(Settings(log_format=LogFormat.JSON)) is runtime
