"""Disputes (chargebacks) of charges paid with `pm_card_createDispute`.

Such a charge succeeds like any other. `SandboxConfig.dispute_after_seconds` later
(default 0), the cardholder disputes it as fraudulent. The sandbox then stores a
Dispute in status `needs_response`, sets the charge's `disputed`, withdraws the
disputed amount from the platform balance, and emits `charge.dispute.created` and
then `charge.dispute.funds_withdrawn`. No API request causes these events, so their
`request.id` is null, as on Stripe.

`app` opens due disputes before and after every API call, which puts them after the
payment's own events when there is no delay. With a delay, a background task in `app`
also opens them while no call arrives. The check reads the stored charges, so charges
made before a restart still get their dispute.
NOTE: Stripe also debits a dispute fee; sandbox fees are always 0. Disputes stay in
`needs_response`, because evidence, closing and outcomes are not simulated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .balance import create_balance_transaction, debit_available_on
from .charges import card_for_charge
from .listing import paginate
from .store import snapshot

if TYPE_CHECKING:
    from .context import ApiRequest, SandboxContext

# NOTE: Stripe sets the evidence deadline from the card network's rules, often one to
# three weeks out; a week is an estimate.
EVIDENCE_WINDOW_SECONDS = 7 * 24 * 3600

# Evidence fields of a Dispute, all empty until evidence is submitted.
EVIDENCE_FIELDS = (
    "access_activity_log",
    "appeal",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
)


def open_due_disputes(ctx: SandboxContext) -> int:
    """Open the disputes whose delay has passed and return how many opened.

    The caller holds the store lock and saves the store when this returns more than 0.
    """
    opened_before = ctx.now() - ctx.config.dispute_after_seconds
    opened = 0
    for charge in ctx.store.all("charge"):
        if charge["disputed"] or charge["status"] != "succeeded":
            continue
        if charge["created"] > opened_before or not card_for_charge(charge).disputed:
            continue
        _open_dispute(ctx, charge)
        opened += 1
    return opened


def _open_dispute(ctx: SandboxContext, charge: dict[str, Any]) -> dict[str, Any]:
    now = ctx.now()
    amount = charge["amount"]
    dispute_id = ctx.store.new_id("dispute")
    transaction = create_balance_transaction(
        ctx,
        amount=-amount,
        currency=charge["currency"],
        transaction_type="adjustment",
        source=dispute_id,
        available_on=debit_available_on(ctx, charge, amount),
        description=f"Chargeback withdrawal for {charge['id']}",
    )
    card = charge["payment_method_details"]["card"]
    dispute = {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [snapshot(transaction)],
        "charge": charge["id"],
        "created": now,
        "currency": charge["currency"],
        "enhanced_eligibility_types": [],
        "evidence": {**dict.fromkeys(EVIDENCE_FIELDS), "enhanced_evidence": {}},
        "evidence_details": {
            "due_by": now + EVIDENCE_WINDOW_SECONDS,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
            "submission_method": "not_submitted",
        },
        "intended_submission_method": None,
        # The chargeback already took the funds back, so a refund cannot.
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "network_reason_code": None,
        "payment_intent": charge["payment_intent"],
        "payment_method_details": {
            "card": {
                "brand": card["brand"],
                "case_type": "chargeback",
                "network": card["network"],
                "network_reason_code": None,
            },
            "type": "card",
        },
        "reason": "fraudulent",
        "status": "needs_response",
    }
    ctx.store.insert("dispute", dispute)
    charge["disputed"] = True
    ctx.events.record("charge.dispute.created", dispute)
    ctx.events.record("charge.dispute.funds_withdrawn", dispute)
    return dispute


def _current(ctx: SandboxContext, dispute: dict[str, Any]) -> dict[str, Any]:
    """Refresh the embedded balance transactions, whose status changes as funds settle."""
    dispute["balance_transactions"] = [
        snapshot(ctx.store.require("balance_transaction", transaction["id"]))
        for transaction in dispute["balance_transactions"]
    ]
    return dispute


def retrieve_dispute(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    request.params.finish()
    return _current(ctx, ctx.store.require("dispute", request.path_params["dispute"]))


def list_disputes(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    charge_id = params.string("charge")
    intent_id = params.string("payment_intent")

    def matches(dispute: dict[str, Any]) -> bool:
        return (charge_id is None or dispute["charge"] == charge_id) and (
            intent_id is None or dispute["payment_intent"] == intent_id
        )

    page = paginate(ctx.store.all("dispute"), params, "/v1/disputes", where=matches)
    params.finish()
    for dispute in page["data"]:
        _current(ctx, dispute)
    return page
