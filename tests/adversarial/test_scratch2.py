from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, UTC

import pytest

from missions.contracts import *
from missions.errors import *
from tests.support import *

pytestmark = pytest.mark.asyncio(loop_scope="session")


def transfers(gateway, mission_id):
    return [(t.amount, t.metadata.to_dict().get("purpose")) for t in gateway._stripe.v1.transfers.list({"transfer_group": mission_id}).data]


async def test_conc_confirm_payment(missions_client, gateway, sessions):
    customer, provider = client_actor("c-pay"), provider_actor("c-pay")
    mission_id, (app_id,) = await post_and_apply(missions_client, customer, [(provider, 5000)])
    s = await missions_client.select_application(mission_id, ApplicationRef(actor=customer, application_id=app_id))
    data = ConfirmPaymentInput(actor=customer, payment_method="pm_card_visa")
    res = await asyncio.gather(*[missions_client.confirm_payment(mission_id, data) for _ in range(5)], return_exceptions=True)
    print([type(r).__name__ if isinstance(r, Exception) else r.state for r in res])
    charges = gateway._stripe.v1.charges.list({"payment_intent": s.payment.payment_intent_id}).data
    print("charges", [(c.amount, c.status) for c in charges])
    snap = await missions_client.snapshot(mission_id)
    print(snap.money)


async def test_conc_confirm_completion(missions_client, gateway, sessions):
    customer, provider = client_actor("c-rel"), provider_actor("c-rel")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 5000)
    res = await asyncio.gather(
        missions_client.confirm_completion(mission_id, ActorInput(actor=customer)),
        missions_client.confirm_completion(mission_id, ActorInput(actor=OPS)),
        missions_client.cancel(mission_id, CancelInput(actor=customer)),
        missions_client.cancel(mission_id, CancelInput(actor=provider)),
        return_exceptions=True)
    print([repr(r)[:120] if isinstance(r, Exception) else r.state for r in res])
    print(transfers(gateway, mission_id))
    snap = await missions_client.snapshot(mission_id)
    print(snap.state, snap.money)


async def test_conc_cancel_first(missions_client, gateway, sessions):
    customer, provider = client_actor("c-can"), provider_actor("c-can")
    onboard(gateway, sessions, provider)
    mission_id = await funded_mission(missions_client, customer, provider, 5000)
    res = await asyncio.gather(
        missions_client.cancel(mission_id, CancelInput(actor=provider)),
        missions_client.cancel(mission_id, CancelInput(actor=customer)),
        missions_client.confirm_completion(mission_id, ActorInput(actor=customer)),
        return_exceptions=True)
    print([repr(r)[:120] if isinstance(r, Exception) else r.state for r in res])
    print(transfers(gateway, mission_id))
    snap = await missions_client.snapshot(mission_id)
    print(snap.state, snap.money)
    refunds = gateway._stripe.v1.refunds.list({"payment_intent": snap.payment.payment_intent_id}).data
    print("refunds", [r.amount for r in refunds])


async def test_leak(missions_client, gateway, sessions):
    customer, a, b = client_actor("leak"), provider_actor("leak-a"), provider_actor("leak-b")
    mission_id, (app_a, app_b) = await post_and_apply(missions_client, customer, [(a, 7000), (b, 9000)])
    await missions_client.select_application(mission_id, ApplicationRef(actor=customer, application_id=app_a))
    view = await missions_client.get(b, mission_id)
    print("B sees", view.quote, view.provider_id, view.payment.amount_minor)
