"""Ops resolving a dispute with amounts that the escrow cannot cover, over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from missions.contracts import Role
from tests.adversarial.http_helpers import apply, bearer, post_mission, select
from tests.adversarial.ledger import stripe_books
from tests.e2e.conftest import LiveStack

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def disputed_mission(
    http: httpx.AsyncClient, stack: LiveStack, name: str
) -> tuple[str, dict[str, str]]:
    """Fund a 60.00 EUR mission (63.00 EUR held), dispute it and return its id and ops."""
    client_h = bearer(stack, f"client-{name}", Role.CLIENT)
    provider = f"prov-{name}"
    provider_h = bearer(stack, provider, Role.PROVIDER)
    ops_h = bearer(stack, f"ops-{name}", Role.OPS)
    await http.put(
        f"/providers/{provider}",
        json={"display_name": "Hugo", "presentation": "Menuisier à Nantes."},
        headers=provider_h,
    )
    mission_id = await post_mission(http, client_h)
    application_id = await apply(http, mission_id, provider_h, 6000)
    await select(http, mission_id, client_h, application_id)
    paid = await http.post(
        f"/missions/{mission_id}/payment/confirmation",
        json={"payment_method": "pm_card_visa"},
        headers=client_h,
    )
    assert paid.json()["money"]["captured_minor"] == 6300
    disputed = await http.post(
        f"/missions/{mission_id}/dispute", json={"reason": "Travail inachevé."}, headers=client_h
    )
    assert disputed.json()["state"] == "disputed"
    return mission_id, ops_h


@pytest.mark.parametrize(
    "amounts",
    [
        {"refund_minor": 6300, "release_minor": 1},
        {"refund_minor": 10**30, "release_minor": 0},
        {"refund_minor": 0, "release_minor": 2**63},
    ],
    ids=["one-cent-over", "huge-refund", "huge-release"],
)
async def test_resolution_over_escrow_changes_nothing(
    live_stack: LiveStack, amounts: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        mission_id, ops_h = await disputed_mission(http, live_stack, "over-escrow")

        response = await http.post(
            f"/missions/{mission_id}/dispute/resolution", json=amounts, headers=ops_h
        )
        view = (await http.get(f"/missions/{mission_id}", headers=ops_h)).json()

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
    assert view["state"] == "disputed"
    assert view["money"]["refunded_minor"] == 0
    assert view["money"]["provider_payout_minor"] == 0
    books = stripe_books(live_stack.gateway, mission_id)
    assert (books.refunded_minor, books.transferred_minor) == (0, 0)


async def test_split_resolution_books_balance(live_stack: LiveStack) -> None:
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        mission_id, ops_h = await disputed_mission(http, live_stack, "split")

        response = await http.post(
            f"/missions/{mission_id}/dispute/resolution",
            json={"refund_minor": 3000, "release_minor": 2500},
            headers=ops_h,
        )

    assert response.status_code == 200
    money = response.json()["money"]
    assert response.json()["state"] == "reviewing"
    assert (money["refunded_minor"], money["provider_payout_minor"]) == (3000, 2500)
    assert money["platform_revenue_minor"] == 800
    books = stripe_books(live_stack.gateway, mission_id)
    assert (books.captured_minor, books.refunded_minor, books.transferred_minor) == (
        6300,
        3000,
        2500,
    )
