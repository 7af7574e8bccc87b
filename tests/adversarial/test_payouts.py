"""Payouts that wait for the provider's connected account, over HTTP."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from missions.contracts import Role
from missions.db.repositories import get_provider_payout_account, set_provider_stripe_account
from tests.adversarial.http_helpers import apply, bearer, post_mission, select
from tests.adversarial.ledger import stripe_books
from tests.e2e.conftest import LiveStack

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def wait_until_reviewing(
    http: httpx.AsyncClient, mission_id: str, headers: dict[str, str]
) -> dict[str, Any]:
    """Return the mission once it is reviewing, or as it is after 10 seconds."""
    deadline = time.monotonic() + 10
    while True:
        view: dict[str, Any] = (await http.get(f"/missions/{mission_id}", headers=headers)).json()
        if view["state"] == "reviewing" or time.monotonic() > deadline:
            return view
        await asyncio.sleep(0.2)


async def test_payout_sent_after_late_onboarding(
    live_stack: LiveStack, sessions: sessionmaker[Session]
) -> None:
    provider = "prov-late-onboarding"
    client_h = bearer(live_stack, "client-late-onboarding", Role.CLIENT)
    provider_h = bearer(live_stack, provider, Role.PROVIDER)
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        profile = await http.put(
            f"/providers/{provider}",
            json={"display_name": "Léa", "presentation": "Électricienne à Nantes."},
            headers=provider_h,
        )
        account_id = profile.json()["stripe_account_id"]
        # Stripe returns payouts_enabled=false for a new Express account until its owner
        # finishes onboarding; the sandbox's metadata convention simulates that.
        live_stack.gateway._stripe.v1.accounts.update(
            account_id, {"metadata": {"sandbox_payouts": "disabled"}}
        )
        with sessions.begin() as session:
            set_provider_stripe_account(session, provider, account_id, False)

        mission_id = await post_mission(http, client_h, durations={"payout_retry_interval": 1})
        application_id = await apply(http, mission_id, provider_h, 5000)
        await select(http, mission_id, client_h, application_id)
        paid = await http.post(
            f"/missions/{mission_id}/payment/confirmation",
            json={"payment_method": "pm_card_visa"},
            headers=client_h,
        )
        assert paid.json()["state"] == "funded"
        waiting = await http.post(f"/missions/{mission_id}/confirmation", headers=client_h)
        assert waiting.json()["payout_pending"] is True

        try:
            # Onboarding ends: Stripe updates the account and sends `account.updated`.
            live_stack.gateway._stripe.v1.accounts.update(
                account_id, {"metadata": {"sandbox_payouts": ""}}
            )
            view = await wait_until_reviewing(http, mission_id, client_h)
            with sessions() as session:
                stored_account = get_provider_payout_account(session, provider)
        finally:
            # Lets a payout still waiting go out, so its one-second retries stop.
            with sessions.begin() as session:
                set_provider_stripe_account(session, provider, account_id, True)

    assert stored_account == (account_id, True)
    assert view["state"] == "reviewing"
    assert view["money"]["provider_payout_minor"] == 4500
    assert stripe_books(live_stack.gateway, mission_id).transferred_minor == 4500
