"""Checks that a mission's books at the Stripe sandbox match its snapshot and balance."""

from __future__ import annotations

from dataclasses import dataclass

from missions.contracts import MissionSnapshot
from missions.payments import PaymentsGateway


@dataclass(frozen=True)
class StripeBooks:
    """Money that the Stripe sandbox moved for one mission, in minor units."""

    captured_minor: int
    refunded_minor: int
    transferred_minor: int
    charge_count: int
    transfer_count: int


def stripe_books(gateway: PaymentsGateway, mission_id: str) -> StripeBooks:
    """Add up the mission's succeeded charges, refunds and transfers at the sandbox."""
    stripe = gateway._stripe.v1
    intents = stripe.payment_intents.search(
        {"query": f"metadata['mission_id']:'{mission_id}'", "limit": 100}
    ).data
    captured = 0
    refunded = 0
    charge_count = 0
    for intent in intents:
        for charge in stripe.charges.list({"payment_intent": intent.id, "limit": 100}).data:
            if charge.status == "succeeded":
                charge_count += 1
                captured += charge.amount_captured
                refunded += charge.amount_refunded
    transfers = stripe.transfers.list({"transfer_group": mission_id, "limit": 100}).data
    return StripeBooks(
        captured_minor=captured,
        refunded_minor=refunded,
        transferred_minor=sum(t.amount - t.amount_reversed for t in transfers),
        charge_count=charge_count,
        transfer_count=len(transfers),
    )


def assert_books_balance(snapshot: MissionSnapshot, books: StripeBooks) -> None:
    """Assert that an ended mission's snapshot matches Stripe and leaves nothing in escrow."""
    money = snapshot.money
    assert money.captured_minor == books.captured_minor
    assert money.refunded_minor == books.refunded_minor
    assert money.provider_payout_minor == books.transferred_minor
    assert money.captured_minor == (
        money.refunded_minor + money.provider_payout_minor + money.platform_revenue_minor
    )
    # What is neither refunded nor paid out is the platform's revenue, so escrow is empty.
    undistributed = money.captured_minor - money.refunded_minor - money.provider_payout_minor
    assert undistributed == money.platform_revenue_minor
