"""HTTP helpers of the adversarial tests: bearer headers and a mission driven to a state."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from missions.contracts import Role
from missions.tokens import mint_token
from tests.e2e.conftest import LiveStack

MISSION_BODY: dict[str, Any] = {
    "title": "Réparer une fuite",
    "description": "Fuite sous l'évier de la cuisine.",
    "category": "plomberie",
    "city": "Nantes",
    "postcode": "44000",
}


def bearer(stack: LiveStack, user_id: str, role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(stack.settings, user_id, role)}"}


async def post_mission(http: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> str:
    """Post a mission with `fields` replacing the defaults and return its id."""
    response = await http.post("/missions", json={**MISSION_BODY, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    mission_id: str = response.json()["mission_id"]
    return mission_id


async def apply(
    http: httpx.AsyncClient, mission_id: str, headers: dict[str, str], price_minor: int
) -> str:
    """Apply at `price_minor` and return the application id."""
    response = await http.post(
        f"/missions/{mission_id}/applications",
        json={"price_minor": price_minor, "message": "Disponible demain."},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    application_id: str = response.json()["application_id"]
    return application_id


async def select(
    http: httpx.AsyncClient, mission_id: str, headers: dict[str, str], application_id: str
) -> dict[str, Any]:
    response = await http.post(
        f"/missions/{mission_id}/selection",
        json={"application_id": application_id},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def wait_for_state(
    http: httpx.AsyncClient, mission_id: str, headers: dict[str, str], state: str
) -> dict[str, Any]:
    """Poll the mission over HTTP until it is in `state`, for at most 20 seconds."""
    deadline = time.monotonic() + 20
    while True:
        view: dict[str, Any] = (await http.get(f"/missions/{mission_id}", headers=headers)).json()
        if view["state"] == state:
            return view
        assert time.monotonic() < deadline, f"mission is {view['state']}, expected {state}"
        await asyncio.sleep(0.1)
