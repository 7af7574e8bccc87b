"""`GET /metrics` of the API: request counts and latency by route template and status."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.asyncio(loop_scope="session")

MISSION_ID = "mission-00000000-0000-4000-8000-000000000000"


async def scrape(http: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Return every sample of `GET /metrics`, keyed by name and sorted labels."""
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def request_count(samples: dict, method: str, route: str, status: str) -> float | None:
    key = (
        "missions_http_requests_total",
        (("method", method), ("route", route), ("status", status)),
    )
    return samples.get(key)


async def test_request_counted_by_route_and_status(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).status_code == 200
    samples = await scrape(http)
    assert request_count(samples, "GET", "/healthz", "200") == 1.0
    latency_count = (
        "missions_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/healthz")),
    )
    assert samples[latency_count] == 1.0


async def test_path_parameters_stay_templates(http: httpx.AsyncClient) -> None:
    first = await http.get(f"/missions/{MISSION_ID}")
    second = await http.get("/missions/mission-other")
    assert first.status_code == 401
    assert second.status_code == 401
    samples = await scrape(http)
    assert request_count(samples, "GET", "/missions/{mission_id}", "401") == 2.0
    routes = {dict(labels).get("route") for (name, labels) in samples if "http" in name}
    assert MISSION_ID not in routes
    assert "/missions/mission-other" not in routes


async def test_unknown_path_is_unmatched(http: httpx.AsyncClient) -> None:
    assert (await http.get("/no-such-page/123")).status_code == 404
    samples = await scrape(http)
    assert request_count(samples, "GET", "unmatched", "404") == 1.0


async def test_metrics_route_not_in_openapi(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    assert "/metrics" not in schema["paths"]


async def test_read_model_up_after_startup(http: httpx.AsyncClient) -> None:
    samples = await scrape(http)
    assert samples[("missions_read_model_up", ())] == 1.0
    states = {dict(labels)["state"] for (name, labels) in samples if name == "missions_in_state"}
    assert states == {
        "open",
        "awaiting_payment",
        "funded",
        "completion_requested",
        "released",
        "reviewing",
        "closed",
        "disputed",
        "cancelled",
        "expired",
    }


async def test_process_metrics_exported(http: httpx.AsyncClient) -> None:
    samples = await scrape(http)
    names = {name for name, _ in samples}
    assert "process_resident_memory_bytes" in names
    assert "python_info" in names
