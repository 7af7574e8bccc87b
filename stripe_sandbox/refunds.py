"""Refunds of succeeded, undisputed charges, whole or partial; they always succeed at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .balance import create_balance_transaction, debit_available_on
from .errors import invalid_request, parameter_missing
from .forms import apply_metadata
from .listing import paginate
from .store import snapshot

if TYPE_CHECKING:
    from .context import ApiRequest, SandboxContext

REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def create_refund(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    charge_id = params.string("charge")
    intent_id = params.string("payment_intent")
    amount = params.integer("amount", minimum=1)
    metadata = params.metadata()
    reason = params.choice("reason", REASONS)
    params.finish()

    charge = _refundable_charge(ctx, charge_id, intent_id)
    remaining = charge["amount_captured"] - charge["amount_refunded"]
    if remaining <= 0:
        raise invalid_request(
            f"Charge {charge['id']} has already been refunded in full.",
            code="charge_already_refunded",
            charge=charge["id"],
        )
    amount = remaining if amount is None else amount
    if amount > remaining:
        raise invalid_request(
            f"Refund amount ({amount}) is greater than the unrefunded amount of charge "
            f"{charge['id']} ({remaining}).",
            code="amount_too_large",
            param="amount",
        )

    refund_id = ctx.store.new_id("refund")
    transaction = create_balance_transaction(
        ctx,
        amount=-amount,
        currency=charge["currency"],
        transaction_type="refund",
        source=refund_id,
        available_on=debit_available_on(ctx, charge, amount),
        description=f"REFUND FOR CHARGE ({charge['id']})",
    )
    refund = {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": transaction["id"],
        "charge": charge["id"],
        "created": ctx.now(),
        "currency": charge["currency"],
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": apply_metadata({}, metadata or {}, "metadata"),
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    ctx.store.insert("refund", refund)

    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
    ctx.events.record("refund.created", refund)
    ctx.events.record("charge.refunded", charge, previous_attributes=previous)
    return refund


def _refundable_charge(
    ctx: SandboxContext, charge_id: str | None, intent_id: str | None
) -> dict[str, Any]:
    if charge_id is None and intent_id is None:
        raise parameter_missing("payment_intent")

    intent_charge_id = None
    if intent_id is not None:
        intent = ctx.store.require(
            "payment_intent", intent_id, param="payment_intent", label="payment_intent"
        )
        if intent["status"] != "succeeded":
            raise invalid_request(
                f"PaymentIntent {intent_id} has status {intent['status']} and no "
                "successful charge to refund.",
                code="payment_intent_unexpected_state",
                param="payment_intent",
                payment_intent=snapshot(intent),
            )
        intent_charge_id = intent["latest_charge"]

    if charge_id is not None and intent_charge_id is not None and charge_id != intent_charge_id:
        raise invalid_request(
            f"Charge {charge_id} does not belong to PaymentIntent {intent_id}.",
            param="charge",
        )
    resolved_id = charge_id or intent_charge_id
    assert resolved_id is not None
    charge = ctx.store.require("charge", resolved_id, param="charge", label="charge")
    if charge["status"] != "succeeded":
        raise invalid_request(
            f"Charge {charge['id']} has status {charge['status']} and cannot be refunded.",
            code="charge_not_refundable",
            param="charge",
        )
    if charge["disputed"]:
        # A chargeback has already taken the funds back, so Stripe rejects the refund.
        raise invalid_request(
            f"Charge {charge['id']} has been charged back (disputed) and cannot be "
            "refunded. Handle the dispute instead.",
            code="charge_disputed",
            param="charge",
        )
    return charge


def retrieve_refund(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    request.params.finish()
    return ctx.store.require("refund", request.path_params["refund"], label="refund")


def update_refund(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    metadata = request.params.metadata()
    request.params.finish()
    refund = ctx.store.require("refund", request.path_params["refund"], label="refund")
    if metadata is not None:
        refund["metadata"] = apply_metadata(refund["metadata"], metadata, "metadata")
    return refund


def list_refunds(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    charge_id = params.string("charge")
    intent_id = params.string("payment_intent")

    def matches(refund: dict[str, Any]) -> bool:
        return (charge_id is None or refund["charge"] == charge_id) and (
            intent_id is None or refund["payment_intent"] == intent_id
        )

    page = paginate(ctx.store.all("refund"), params, "/v1/refunds", where=matches)
    params.finish()
    return page
