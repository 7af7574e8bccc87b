"""Balance transactions and the platform balance derived from them.

Every movement of platform money is a balance transaction with an `available_on` time:
charges add funds that stay pending for `available_after_seconds`, while refunds,
disputes, transfers and transfer reversals move funds at once. The balance sums the
transactions per currency and splits them by whether `available_on` has passed. Fees
are always 0.

A transfer with `source_transaction` takes its funds from that charge, so its debit
shares the charge's `available_on` and reduces the pending balance while the charge is
pending, not the available one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .listing import paginate

if TYPE_CHECKING:
    from .context import ApiRequest, SandboxContext

# Stripe's reporting category for each balance transaction type used here. Stripe
# records a dispute's withdrawal as an `adjustment` in the `dispute` category.
_REPORTING_CATEGORIES = {
    "adjustment": "dispute",
    "charge": "charge",
    "refund": "refund",
    "transfer": "transfer",
    "transfer_refund": "transfer_reversal",
}


def create_balance_transaction(
    ctx: SandboxContext,
    *,
    amount: int,
    currency: str,
    transaction_type: str,
    source: str,
    available_on: int | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """Store a balance transaction; `amount` is signed, negative for money leaving."""
    now = ctx.now()
    available_on = now if available_on is None else available_on
    transaction = {
        "id": ctx.store.new_id("balance_transaction"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available_on,
        "created": now,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": 0,
        "fee_details": [],
        "net": amount,
        "reporting_category": _REPORTING_CATEGORIES[transaction_type],
        "source": source,
        "status": "available" if available_on <= now else "pending",
        "type": transaction_type,
    }
    return ctx.store.insert("balance_transaction", transaction)


def debit_available_on(ctx: SandboxContext, charge: dict[str, Any], amount: int) -> int:
    """Return when a debit of `amount` against `charge` (a refund or dispute) settles.

    The available balance pays when it covers the amount. Otherwise the debit takes the
    charge's own funds and settles with them, pending or not.
    NOTE: Stripe instead keeps such a refund `pending` (pending_reason `charge_pending`
    or `insufficient_funds`) or debits the bank account; sandbox refunds always succeed.
    How Stripe debits a dispute that the available balance does not cover is not
    modeled: the sandbox takes the charge's funds, as for a refund.
    """
    now = ctx.now()
    if available_amount(ctx, charge["currency"]) >= amount:
        return now
    charge_transaction = ctx.store.require("balance_transaction", charge["balance_transaction"])
    return max(now, charge_transaction["available_on"])


def settle(ctx: SandboxContext) -> None:
    """Mark transactions whose `available_on` has passed as available.

    Runs at the start of every request, so stored statuses are current whenever a
    response reads them.
    """
    now = ctx.now()
    for transaction in ctx.store.all("balance_transaction"):
        if transaction["status"] == "pending" and transaction["available_on"] <= now:
            transaction["status"] = "available"


def available_amount(ctx: SandboxContext, currency: str) -> int:
    now = ctx.now()
    return sum(
        transaction["net"]
        for transaction in ctx.store.all("balance_transaction")
        if transaction["currency"] == currency and transaction["available_on"] <= now
    )


def balance_object(ctx: SandboxContext) -> dict[str, Any]:
    now = ctx.now()
    available: dict[str, int] = {ctx.config.default_currency: 0}
    pending: dict[str, int] = {ctx.config.default_currency: 0}
    for transaction in ctx.store.all("balance_transaction"):
        currency = transaction["currency"]
        available.setdefault(currency, 0)
        pending.setdefault(currency, 0)
        bucket = available if transaction["available_on"] <= now else pending
        bucket[currency] += transaction["net"]
    return {
        "object": "balance",
        "available": _funds(available),
        "connect_reserved": [{"amount": 0, "currency": currency} for currency in sorted(available)],
        "livemode": False,
        "pending": _funds(pending),
    }


def _funds(amounts: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"amount": amount, "currency": currency, "source_types": {"card": amount}}
        for currency, amount in sorted(amounts.items())
    ]


def retrieve_balance(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    request.params.finish()
    return balance_object(ctx)


def retrieve_balance_transaction(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    request.params.finish()
    return ctx.store.require(
        "balance_transaction", request.path_params["id"], label="balance transaction"
    )


def list_balance_transactions(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    transaction_type = params.string("type")
    source = params.string("source")
    currency = params.currency("currency")

    def matches(transaction: dict[str, Any]) -> bool:
        return (
            (transaction_type is None or transaction["type"] == transaction_type)
            and (source is None or transaction["source"] == source)
            and (currency is None or transaction["currency"] == currency)
        )

    page = paginate(
        ctx.store.all("balance_transaction"), params, "/v1/balance_transactions", where=matches
    )
    params.finish()
    return page
