"""Money moves that find what an earlier attempt created, once Stripe forgot its key."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session, sessionmaker

from missions.payments import PaymentsGateway
from tests.support import onboard, provider_actor


def paid_intent(gateway: PaymentsGateway, mission_id: str, amount: int) -> tuple[str, str]:
    intent = gateway.create_payment_intent(
        mission_id=mission_id,
        client_id="client-once",
        amount_minor=amount,
        currency="EUR",
        description="Pose d'une étagère",
        selection_number=1,
    )
    paid = gateway.confirm_payment_intent(
        mission_id=mission_id,
        payment_intent_id=intent.payment_intent_id,
        payment_method="pm_card_visa",
        attempt_number=1,
    )
    assert paid.charge_id is not None
    return paid.payment_intent_id, paid.charge_id


def test_refund_found_after_key_expiry(gateway: PaymentsGateway) -> None:
    mission_id = f"mission-{uuid.uuid4()}"
    intent_id, _charge = paid_intent(gateway, mission_id, 5250)
    # An earlier attempt's refund, made under a key Stripe no longer remembers.
    earlier = gateway._stripe.v1.refunds.create(
        {
            "payment_intent": intent_id,
            "amount": 5250,
            "metadata": {"mission_id": mission_id, "purpose": "cancellation"},
        },
        {"idempotency_key": f"expired-{uuid.uuid4()}"},
    )

    again = gateway.refund(
        mission_id=mission_id,
        payment_intent_id=intent_id,
        amount_minor=5250,
        purpose="cancellation",
    )

    assert again.refund_id == earlier.id
    refunds = gateway._stripe.v1.refunds.list({"payment_intent": intent_id})
    assert [refund.id for refund in refunds.data] == [earlier.id]


def test_transfer_found_after_key_expiry(
    gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    mission_id = f"mission-{uuid.uuid4()}"
    account_id = onboard(gateway, sessions, provider_actor(f"once-{mission_id[-6:]}"))
    _intent, charge_id = paid_intent(gateway, mission_id, 5250)
    earlier = gateway._stripe.v1.transfers.create(
        {
            "amount": 4500,
            "currency": "eur",
            "destination": account_id,
            "source_transaction": charge_id,
            "transfer_group": mission_id,
            "metadata": {"mission_id": mission_id, "purpose": "release"},
        },
        {"idempotency_key": f"expired-{uuid.uuid4()}"},
    )

    again = gateway.transfer(
        mission_id=mission_id,
        destination=account_id,
        amount_minor=4500,
        currency="EUR",
        charge_id=charge_id,
        purpose="release",
    )

    assert again.transfer_id == earlier.id
    transfers = gateway._stripe.v1.transfers.list({"transfer_group": mission_id})
    assert [transfer.id for transfer in transfers.data] == [earlier.id]


def test_other_purpose_is_a_new_refund(gateway: PaymentsGateway) -> None:
    mission_id = f"mission-{uuid.uuid4()}"
    intent_id, _charge = paid_intent(gateway, mission_id, 10000)
    first = gateway.refund(
        mission_id=mission_id, payment_intent_id=intent_id, amount_minor=3000, purpose="dispute"
    )
    second = gateway.refund(
        mission_id=mission_id,
        payment_intent_id=intent_id,
        amount_minor=3000,
        purpose="cancellation",
    )

    assert first.refund_id != second.refund_id
    refunds = gateway._stripe.v1.refunds.list({"payment_intent": intent_id})
    assert sorted(refund.amount for refund in refunds.data) == [3000, 3000]
