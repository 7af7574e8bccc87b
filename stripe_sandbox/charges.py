"""Charges and the test PaymentMethods that PaymentIntents charge.

Test PaymentMethod ids (see TEST_CARDS) behave like Stripe's test cards of the same
name: paying with one stores a new `pm_...` PaymentMethod whose card fingerprint names
the test card, so paying again with the stored id behaves the same way. A charge keeps
that fingerprint in `payment_method_details`, so `disputes` can tell which charges a
cardholder disputes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import resource_missing
from .listing import paginate
from .store import snapshot

if TYPE_CHECKING:
    from .context import ApiRequest, SandboxContext


@dataclass(frozen=True)
class Decline:
    code: str
    decline_code: str | None
    message: str


@dataclass(frozen=True)
class SandboxCard:
    brand: str
    last4: str
    decline: Decline | None = None
    # The payment succeeds, then the cardholder disputes it as fraudulent.
    disputed: bool = False


# Test PaymentMethod ids, named as in Stripe's testing docs.
TEST_CARDS: dict[str, SandboxCard] = {
    "pm_card_visa": SandboxCard("visa", "4242"),
    "pm_card_mastercard": SandboxCard("mastercard", "4444"),
    "pm_card_amex": SandboxCard("amex", "8431"),
    "pm_card_createDispute": SandboxCard("visa", "0259", disputed=True),
    "pm_card_chargeDeclined": SandboxCard(
        "visa", "0002", Decline("card_declined", "generic_decline", "The card was declined.")
    ),
    "pm_card_chargeDeclinedInsufficientFunds": SandboxCard(
        "visa",
        "9995",
        Decline("card_declined", "insufficient_funds", "The card has insufficient funds."),
    ),
    "pm_card_chargeDeclinedExpiredCard": SandboxCard(
        "visa", "0069", Decline("expired_card", "expired_card", "The card has expired.")
    ),
    "pm_card_chargeDeclinedProcessingError": SandboxCard(
        "visa",
        "0119",
        Decline(
            "processing_error",
            None,
            "An error occurred while processing the card. Try again in a little while.",
        ),
    ),
}


def _fingerprint(name: str) -> str:
    return "sandbox" + name.removeprefix("pm_card_")


# The card fingerprint names the test card, so a stored PaymentMethod keeps its behavior.
_CARDS_BY_FINGERPRINT = {_fingerprint(name): card for name, card in TEST_CARDS.items()}


def card_for(payment_method: dict[str, Any]) -> SandboxCard:
    """Return the test card behind a stored PaymentMethod."""
    return _CARDS_BY_FINGERPRINT[payment_method["card"]["fingerprint"]]


def card_for_charge(charge: dict[str, Any]) -> SandboxCard:
    """Return the test card that paid `charge`."""
    return _CARDS_BY_FINGERPRINT[charge["payment_method_details"]["card"]["fingerprint"]]


def resolve_payment_method(ctx: SandboxContext, payment_method_id: str) -> dict[str, Any]:
    """Return the stored PaymentMethod, creating one for a test PaymentMethod id."""
    stored = ctx.store.get("payment_method", payment_method_id)
    if stored is not None:
        return stored
    card = TEST_CARDS.get(payment_method_id)
    if card is None:
        raise resource_missing("PaymentMethod", payment_method_id, param="payment_method")
    year = time.gmtime(ctx.now()).tm_year
    payment_method = {
        "id": ctx.store.new_id("payment_method"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state")),
            "email": None,
            "name": None,
            "phone": None,
        },
        "card": {
            "brand": card.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "pass",
            },
            "country": "US",
            "display_brand": card.brand,
            "exp_month": 12,
            "exp_year": year + 3,
            "fingerprint": _fingerprint(payment_method_id),
            "funding": "credit",
            "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": None},
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": ctx.now(),
        "customer": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }
    return ctx.store.insert("payment_method", payment_method)


def retrieve_payment_method(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    request.params.finish()
    return ctx.store.require("payment_method", request.path_params["id"], label="PaymentMethod")


def build_charge(
    ctx: SandboxContext,
    intent: dict[str, Any],
    payment_method: dict[str, Any],
    decline: Decline | None,
) -> dict[str, Any]:
    card = payment_method["card"]
    succeeded = decline is None
    if succeeded:
        outcome = {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    else:
        assert decline is not None
        outcome = {
            "network_status": "declined_by_network",
            "reason": decline.decline_code or decline.code,
            "risk_level": "normal",
            "seller_message": "The issuer declined the payment.",
            "type": "issuer_declined",
        }
    return {
        "id": ctx.store.new_id("charge"),
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"] if succeeded else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": snapshot(payment_method["billing_details"]),
        "calculated_statement_descriptor": intent["statement_descriptor"] or "SANDBOX",
        "captured": succeeded,
        "created": ctx.now(),
        "currency": intent["currency"],
        "customer": None,
        "description": intent["description"],
        "destination": None,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": decline.code if decline else None,
        "failure_message": decline.message if decline else None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "on_behalf_of": None,
        "outcome": outcome,
        "paid": succeeded,
        "payment_intent": intent["id"],
        "payment_method": payment_method["id"],
        "payment_method_details": {
            "card": {
                "brand": card["brand"],
                "country": card["country"],
                "exp_month": card["exp_month"],
                "exp_year": card["exp_year"],
                "fingerprint": card["fingerprint"],
                "funding": card["funding"],
                "last4": card["last4"],
                "network": card["brand"],
                "three_d_secure": None,
            },
            "type": "card",
        },
        "receipt_email": intent["receipt_email"],
        "receipt_url": None,
        "refunded": False,
        "review": None,
        "shipping": None,
        "source_transfer": None,
        "statement_descriptor": intent["statement_descriptor"],
        "statement_descriptor_suffix": intent["statement_descriptor_suffix"],
        "status": "succeeded" if succeeded else "failed",
        "transfer_data": None,
        "transfer_group": intent["transfer_group"],
    }


def retrieve_charge(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    request.params.finish()
    return ctx.store.require("charge", request.path_params["charge"], label="charge")


def list_charges(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    intent_id = params.string("payment_intent")
    transfer_group = params.string("transfer_group")

    def matches(charge: dict[str, Any]) -> bool:
        return (intent_id is None or charge["payment_intent"] == intent_id) and (
            transfer_group is None or charge["transfer_group"] == transfer_group
        )

    page = paginate(ctx.store.all("charge"), params, "/v1/charges", where=matches)
    params.finish()
    return page
