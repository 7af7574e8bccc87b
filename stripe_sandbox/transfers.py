"""Transfers to connected accounts and their reversals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .balance import available_amount, create_balance_transaction
from .connect import is_usable
from .errors import invalid_request, resource_missing
from .forms import apply_metadata
from .listing import paginate
from .store import new_id

if TYPE_CHECKING:
    from .context import ApiRequest, SandboxContext

# Number of reversals embedded in a transfer's `reversals` list, as on Stripe.
EMBEDDED_REVERSALS = 10


def transferable_amount(ctx: SandboxContext, charge: dict[str, Any]) -> int:
    """Return what a new transfer may still take from `charge` as its source_transaction.

    Captured amount minus refunds minus earlier transfers from it. A reversal gives
    its amount back.
    NOTE: Stripe does not document whether reversed funds count again; this is a guess.
    """
    transferred = sum(
        transfer["amount"] - transfer["amount_reversed"]
        for transfer in ctx.store.all("transfer")
        if transfer["source_transaction"] == charge["id"]
    )
    return charge["amount_captured"] - charge["amount_refunded"] - transferred


def _destination(ctx: SandboxContext, destination_id: str) -> dict[str, Any]:
    account = ctx.store.get("account", destination_id)
    if account is None:
        raise resource_missing("destination", destination_id, param="destination")
    if not is_usable(account):
        raise invalid_request(
            f"The destination account {destination_id} needs an active 'transfers' "
            "capability to receive transfers.",
            code="insufficient_capabilities_for_transfer",
            param="destination",
        )
    return account


def _source_charge(
    ctx: SandboxContext, charge_id: str, amount: int, currency: str
) -> dict[str, Any]:
    charge = ctx.store.get("charge", charge_id)
    if charge is None:
        raise resource_missing("charge", charge_id, param="source_transaction")
    if charge["status"] != "succeeded":
        raise invalid_request(
            f"Charge {charge_id} has status {charge['status']} and cannot fund a transfer.",
            param="source_transaction",
        )
    if charge["currency"] != currency:
        raise invalid_request(
            f"The transfer currency ({currency}) must match the currency of "
            f"source_transaction {charge_id} ({charge['currency']}).",
            param="currency",
        )
    left = transferable_amount(ctx, charge)
    if amount > left:
        # NOTE: the code Stripe returns here is undocumented; amount_too_large is a guess.
        raise invalid_request(
            f"Transfer amount ({amount}) exceeds what is left of source_transaction "
            f"{charge_id} ({left}) after refunds and earlier transfers.",
            code="amount_too_large",
            param="amount",
        )
    return charge


def create_transfer(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    amount = params.integer("amount", required=True, minimum=1)
    currency = params.currency("currency", required=True)
    destination_id = params.string("destination", required=True)
    source_transaction = params.string("source_transaction")
    transfer_group = params.optional_string("transfer_group")
    description = params.optional_string("description")
    metadata = params.metadata()
    params.choice("source_type", ("card",))
    params.finish()
    assert amount is not None
    assert currency is not None
    assert destination_id is not None

    _destination(ctx, destination_id)
    transfer_id = ctx.store.new_id("transfer")
    if source_transaction:
        charge = _source_charge(ctx, source_transaction, amount, currency)
        charge_transaction = ctx.store.require("balance_transaction", charge["balance_transaction"])
        # Funds come out of the charge, pending or not, so the debit settles with it.
        available_on = max(ctx.now(), charge_transaction["available_on"])
    else:
        available = available_amount(ctx, currency)
        if amount > available:
            raise invalid_request(
                f"The available {currency} balance ({available}) does not cover this "
                f"transfer ({amount}). Wait until pending funds become available, or pass "
                "source_transaction to transfer from a specific charge.",
                code="balance_insufficient",
            )
        available_on = ctx.now()

    transaction = create_balance_transaction(
        ctx,
        amount=-amount,
        currency=currency,
        transaction_type="transfer",
        source=transfer_id,
        available_on=available_on,
        description=description,
    )
    transfer = {
        "id": transfer_id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": transaction["id"],
        "created": ctx.now(),
        "currency": currency,
        "description": description,
        "destination": destination_id,
        "destination_payment": new_id("py"),
        "livemode": False,
        "metadata": apply_metadata({}, metadata or {}, "metadata"),
        "reversals": _reversal_list(transfer_id, []),
        "reversed": False,
        "source_transaction": source_transaction,
        "source_type": "card",
        "transfer_group": transfer_group,
    }
    ctx.store.insert("transfer", transfer)
    ctx.events.record("transfer.created", transfer)
    return transfer


def _reversal_list(transfer_id: str, reversals: list[dict[str, Any]]) -> dict[str, Any]:
    newest_first = list(reversed(reversals))
    return {
        "object": "list",
        "data": newest_first[:EMBEDDED_REVERSALS],
        "has_more": len(newest_first) > EMBEDDED_REVERSALS,
        "total_count": len(newest_first),
        "url": f"/v1/transfers/{transfer_id}/reversals",
    }


def _require_transfer(ctx: SandboxContext, transfer_id: str) -> dict[str, Any]:
    return ctx.store.require("transfer", transfer_id, label="transfer")


def retrieve_transfer(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    request.params.finish()
    return _require_transfer(ctx, request.path_params["transfer"])


def update_transfer(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    transfer = _require_transfer(ctx, request.path_params["transfer"])
    metadata = params.metadata()
    previous: dict[str, Any] = {}
    if params.has("description"):
        previous["description"] = transfer["description"]
        transfer["description"] = params.optional_string("description")
    params.finish()
    if metadata is not None:
        previous["metadata"] = transfer["metadata"]
        transfer["metadata"] = apply_metadata(transfer["metadata"], metadata, "metadata")
    if previous:
        ctx.events.record("transfer.updated", transfer, previous_attributes=previous)
    return transfer


def list_transfers(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    destination = params.string("destination")
    transfer_group = params.string("transfer_group")

    def matches(transfer: dict[str, Any]) -> bool:
        return (destination is None or transfer["destination"] == destination) and (
            transfer_group is None or transfer["transfer_group"] == transfer_group
        )

    page = paginate(ctx.store.all("transfer"), params, "/v1/transfers", where=matches)
    params.finish()
    return page


def create_reversal(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    amount = params.integer("amount", minimum=1)
    metadata = params.metadata()
    description = params.optional_string("description")
    params.boolean("refund_application_fee")
    params.finish()

    transfer = _require_transfer(ctx, request.path_params["id"])
    remaining = transfer["amount"] - transfer["amount_reversed"]
    if remaining <= 0:
        raise invalid_request(
            f"Transfer {transfer['id']} has already been reversed in full.",
            code="amount_too_large",
            param="amount",
        )
    amount = remaining if amount is None else amount
    if amount > remaining:
        raise invalid_request(
            f"Reversal amount ({amount}) is greater than the unreversed amount of transfer "
            f"{transfer['id']} ({remaining}).",
            code="amount_too_large",
            param="amount",
        )

    reversal_id = ctx.store.new_id("transfer_reversal")
    transfer_transaction = ctx.store.require("balance_transaction", transfer["balance_transaction"])
    # The credit settles with the transfer's debit, so reversing a transfer funded by a
    # pending charge gives back pending funds, not available ones.
    transaction = create_balance_transaction(
        ctx,
        amount=amount,
        currency=transfer["currency"],
        transaction_type="transfer_refund",
        source=reversal_id,
        available_on=max(ctx.now(), transfer_transaction["available_on"]),
        description=description,
    )
    reversal = {
        "id": reversal_id,
        "object": "transfer_reversal",
        "amount": amount,
        "balance_transaction": transaction["id"],
        "created": ctx.now(),
        "currency": transfer["currency"],
        "destination_payment_refund": new_id("pyr"),
        "metadata": apply_metadata({}, metadata or {}, "metadata"),
        "source_refund": None,
        "transfer": transfer["id"],
    }
    ctx.store.insert("transfer_reversal", reversal)

    previous = {"amount_reversed": transfer["amount_reversed"], "reversed": transfer["reversed"]}
    transfer["amount_reversed"] += amount
    transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
    transfer["reversals"] = _reversal_list(transfer["id"], _reversals_of(ctx, transfer["id"]))
    ctx.events.record("transfer.reversed", transfer, previous_attributes=previous)
    return reversal


def _reversals_of(ctx: SandboxContext, transfer_id: str) -> list[dict[str, Any]]:
    return [
        reversal
        for reversal in ctx.store.all("transfer_reversal")
        if reversal["transfer"] == transfer_id
    ]


def list_reversals(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    transfer = _require_transfer(ctx, request.path_params["id"])
    page = paginate(
        ctx.store.all("transfer_reversal"),
        request.params,
        f"/v1/transfers/{transfer['id']}/reversals",
        where=lambda reversal: reversal["transfer"] == transfer["id"],
    )
    request.params.finish()
    return page


def retrieve_reversal(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    request.params.finish()
    transfer = _require_transfer(ctx, request.path_params["transfer"])
    reversal = ctx.store.require(
        "transfer_reversal", request.path_params["id"], label="transfer reversal"
    )
    if reversal["transfer"] != transfer["id"]:
        raise resource_missing("transfer reversal", reversal["id"])
    return reversal
