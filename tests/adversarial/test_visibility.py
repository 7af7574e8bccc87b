"""What each party may read and do on a mission that is not theirs, over HTTP."""

from __future__ import annotations

import httpx
import pytest

from missions.contracts import Role
from tests.adversarial.http_helpers import (
    apply,
    bearer,
    post_mission,
    select,
    wait_for_state,
)
from tests.e2e.conftest import LiveStack

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_declined_applicant_sees_no_winning_price(live_stack: LiveStack) -> None:
    client_h = bearer(live_stack, "client-bids", Role.CLIENT)
    winner_h = bearer(live_stack, "prov-bids-winner", Role.PROVIDER)
    loser_h = bearer(live_stack, "prov-bids-loser", Role.PROVIDER)
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        mission_id = await post_mission(http, client_h)
        winning = await apply(http, mission_id, winner_h, 7000)
        await apply(http, mission_id, loser_h, 9000)
        await select(http, mission_id, client_h, winning)

        view = (await http.get(f"/missions/{mission_id}", headers=loser_h)).json()

    assert [a["price_minor"] for a in view["applications"]] == [9000]
    assert view["quote"] is None
    assert view["payment"] is None


async def test_reopened_mission_hides_lapsed_payment(live_stack: LiveStack) -> None:
    """After a payment lapse any provider may read the open mission again."""
    client_h = bearer(live_stack, "client-lapse-view", Role.CLIENT)
    first_h = bearer(live_stack, "prov-lapse-first", Role.PROVIDER)
    browser_h = bearer(live_stack, "prov-lapse-browser", Role.PROVIDER)
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        mission_id = await post_mission(
            http, client_h, durations={"payment_deadline": 1, "payment_poll_interval": 30}
        )
        application_id = await apply(http, mission_id, first_h, 7000)
        await select(http, mission_id, client_h, application_id)
        await wait_for_state(http, mission_id, client_h, "open")

        view = (await http.get(f"/missions/{mission_id}", headers=browser_h)).json()

    assert view["payment_lapsed"] is True
    assert view["applications"] == []
    assert view["payment"] is None


async def test_unrelated_provider_cannot_read_selected_mission(live_stack: LiveStack) -> None:
    client_h = bearer(live_stack, "client-private", Role.CLIENT)
    provider_h = bearer(live_stack, "prov-private", Role.PROVIDER)
    stranger_h = bearer(live_stack, "prov-private-stranger", Role.PROVIDER)
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        mission_id = await post_mission(http, client_h)
        application_id = await apply(http, mission_id, provider_h, 6000)
        await select(http, mission_id, client_h, application_id)

        read = await http.get(f"/missions/{mission_id}", headers=stranger_h)
        messages = await http.get(f"/missions/{mission_id}/messages", headers=stranger_h)
        notifications = await http.get(f"/missions/{mission_id}/notifications", headers=stranger_h)
        applied = await http.post(
            f"/missions/{mission_id}/applications",
            json={"price_minor": 5000, "message": "Moins cher."},
            headers=stranger_h,
        )

    # Providers may read open missions, so past `open` the rules return invalid_state.
    for response in (read, messages, notifications, applied):
        assert response.status_code == 409
        assert response.json()["code"] == "invalid_state"
        assert "money" not in response.json()


async def test_other_client_cannot_act_on_mission(live_stack: LiveStack) -> None:
    owner_h = bearer(live_stack, "client-owner", Role.CLIENT)
    intruder_h = bearer(live_stack, "client-intruder", Role.CLIENT)
    provider_h = bearer(live_stack, "prov-owner", Role.PROVIDER)
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        mission_id = await post_mission(http, owner_h)
        application_id = await apply(http, mission_id, provider_h, 6000)
        path = f"/missions/{mission_id}"

        selected = await http.post(
            f"{path}/selection", json={"application_id": application_id}, headers=intruder_h
        )
        cancelled = await http.post(f"{path}/cancellation", headers=intruder_h)
        read = await http.get(path, headers=intruder_h)
        message = await http.post(f"{path}/messages", json={"text": "Bonjour"}, headers=intruder_h)
        view = (await http.get(path, headers=owner_h)).json()

    assert [r.status_code for r in (selected, cancelled, read, message)] == [403] * 4
    assert {r.json()["code"] for r in (selected, cancelled, read, message)} == {"forbidden"}
    assert view["state"] == "open"
    assert [a["status"] for a in view["applications"]] == ["live"]
