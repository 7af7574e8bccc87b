"""Invalid input over HTTP gets a 4xx response that names the invalid field or value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from missions.contracts import Role
from tests.adversarial.http_helpers import apply, bearer, post_mission, select
from tests.e2e.conftest import LiveStack

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_nul_in_application_message_rejected(live_stack: LiveStack) -> None:
    """PostgreSQL cannot store NUL, so the projection of such a mission retries forever."""
    client_h = bearer(live_stack, "client-nul-message", Role.CLIENT)
    provider_h = bearer(live_stack, "prov-nul-message", Role.PROVIDER)
    # Short, because on PostgreSQL the command waits for the projection that never ends.
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=10) as http:
        mission_id = await post_mission(http, client_h)

        response = await http.post(
            f"/missions/{mission_id}/applications",
            json={"price_minor": 5000, "message": "Disponible\x00demain"},
            headers=provider_h,
        )

        assert response.status_code == 422
        assert response.json()["details"]["errors"][0]["field"] == "message"


async def test_nul_in_mission_title_rejected(live_stack: LiveStack) -> None:
    client_h = bearer(live_stack, "client-nul-title", Role.CLIENT)
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        response = await http.post(
            "/missions",
            json={
                "title": "Fuite\x00évier",
                "description": "Fuite sous l'évier.",
                "category": "plomberie",
                "city": "Nantes",
                "postcode": "44000",
            },
            headers=client_h,
        )

        assert response.status_code == 422
        assert response.json()["details"]["errors"][0]["field"] == "title"


@pytest.mark.parametrize("price", [True, "7500"], ids=["boolean", "string"])
async def test_non_integer_price_rejected(live_stack: LiveStack, price: Any) -> None:
    client_h = bearer(live_stack, "client-price-type", Role.CLIENT)
    provider_h = bearer(live_stack, f"prov-price-{type(price).__name__}", Role.PROVIDER)
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        mission_id = await post_mission(http, client_h)

        response = await http.post(
            f"/missions/{mission_id}/applications",
            json={"price_minor": price, "message": "Disponible demain."},
            headers=provider_h,
        )

        assert response.status_code == 422
        assert response.json()["details"]["errors"][0]["field"] == "price_minor"


async def test_price_below_minimum_charge_rejected(live_stack: LiveStack) -> None:
    """Stripe charges at least 0.50 EUR, so selecting a 0.40 EUR bid fails with a 502."""
    client_h = bearer(live_stack, "client-tiny-price", Role.CLIENT)
    provider_h = bearer(live_stack, "prov-tiny-price", Role.PROVIDER)
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        mission_id = await post_mission(http, client_h)

        response = await http.post(
            f"/missions/{mission_id}/applications",
            json={"price_minor": 40, "message": "Petit service."},
            headers=provider_h,
        )

        assert response.status_code == 422
        assert response.json()["details"]["errors"][0]["field"] == "price_minor"


async def test_past_scheduled_date_rejected(live_stack: LiveStack) -> None:
    """A past date would make every cancellation of the funded mission a late one."""
    client_h = bearer(live_stack, "client-past-date", Role.CLIENT)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        response = await http.post(
            "/missions",
            json={
                "title": "Réparer une fuite",
                "description": "Fuite sous l'évier.",
                "category": "plomberie",
                "city": "Nantes",
                "postcode": "44000",
                "scheduled_at": yesterday,
            },
            headers=client_h,
        )

        assert response.status_code == 422
        assert response.json()["code"] == "invalid_input"
        assert response.json()["details"]["field"] == "scheduled_at"


async def test_unknown_payment_method_is_client_error(live_stack: LiveStack) -> None:
    """A payment method id that does not exist is the caller's mistake, not a Stripe outage."""
    client_h = bearer(live_stack, "client-bad-method", Role.CLIENT)
    provider_h = bearer(live_stack, "prov-bad-method", Role.PROVIDER)
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        mission_id = await post_mission(http, client_h)
        application_id = await apply(http, mission_id, provider_h, 5000)
        await select(http, mission_id, client_h, application_id)

        response = await http.post(
            f"/missions/{mission_id}/payment/confirmation",
            json={"payment_method": "pm_does_not_exist"},
            headers=client_h,
        )

        assert response.status_code == 422
        assert "pm_does_not_exist" in response.json()["message"]
        view = (await http.get(f"/missions/{mission_id}", headers=client_h)).json()
        assert view["state"] == "awaiting_payment"


@pytest.mark.parametrize(
    "mission_id",
    ["mission-%00", "mission-%0A", "mission-%E2%80%AE", "mission-" + "x" * 120, "other-id"],
    ids=["nul", "newline", "bidi-override", "long", "no-prefix"],
)
async def test_malformed_mission_id_is_404(live_stack: LiveStack, mission_id: str) -> None:
    client_h = bearer(live_stack, "client-bad-id", Role.CLIENT)
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        read = await http.get(f"/missions/{mission_id}", headers=client_h)
        cancel = await http.post(f"/missions/{mission_id}/cancellation", headers=client_h)

    assert read.status_code == 404
    assert read.json()["code"] == "not_found"
    assert cancel.status_code == 404


async def test_oversized_id_in_path_is_422(live_stack: LiveStack) -> None:
    client_h = bearer(live_stack, "client-long-id", Role.CLIENT)
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        response = await http.get("/missions/mission-" + "x" * 200, headers=client_h)

    assert response.status_code == 422
    assert response.json()["details"]["errors"][0]["field"] == "mission_id"
