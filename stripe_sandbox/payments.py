"""PaymentIntents.

Capture is always automatic: a confirmed PaymentIntent either succeeds at once with a
succeeded Charge, or is declined with a failed Charge and returns to
`requires_payment_method`. Which card behaves how is defined in `charges`.

Payment method types follow the request's API version (the Stripe-Version header,
else `SandboxConfig.api_version`). From 2026-07-29.dahlia, `allowed_payment_method_types`
is accepted. From 2026-09-30.endive (stripe-python 16.1 pins 2026-10-28.endive), writing
`payment_method_types` fails with `payment_method_types_no_longer_supported`, as on Stripe.
Cards are the only payment method type simulated, so the computed
`payment_method_types` of an intent is `["card"]` or empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .balance import create_balance_transaction
from .charges import build_charge, card_for, resolve_payment_method
from .errors import (
    CARD_ERROR,
    StripeAPIError,
    invalid_request,
    parameter_invalid,
    unexpected_state,
)
from .forms import Params, apply_metadata
from .listing import paginate
from .search import FieldType, search
from .store import random_token, snapshot

if TYPE_CHECKING:
    from .context import ApiRequest, SandboxContext


# Stripe's minimum charge amounts in the smallest currency unit; others need at least 1.
MINIMUM_AMOUNTS = {"usd": 50, "eur": 50, "gbp": 30, "cad": 50, "aud": 50, "chf": 50, "jpy": 50}
MAXIMUM_AMOUNT = 99_999_999

# Dates of the API versions that changed how payment method types are written.
ALLOWED_TYPES_SINCE = "2026-07-29"
TYPES_WRITE_REMOVED_SINCE = "2026-09-30"
SIMULATED_TYPES = ("card",)

CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = (*CONFIRMABLE, "requires_capture", "processing")
SEARCH_FIELDS: dict[str, FieldType] = {
    "amount": "number",
    "created": "number",
    "currency": "string",
    "customer": "string",
    "status": "string",
}


def _read_amount(params: Params, currency: str | None, *, required: bool) -> int | None:
    amount = params.integer("amount", required=required, minimum=1)
    if amount is None:
        return None
    minimum = MINIMUM_AMOUNTS.get(currency or "", 1)
    if amount < minimum:
        raise parameter_invalid(
            "amount",
            f"Amount must be at least {minimum} in the smallest unit of {currency}.",
            code="amount_too_small",
        )
    if amount > MAXIMUM_AMOUNT:
        raise parameter_invalid(
            "amount",
            f"Amount must be at most {MAXIMUM_AMOUNT} in the smallest unit of {currency}.",
            code="amount_too_large",
        )
    return amount


@dataclass(frozen=True)
class MethodTypes:
    """The payment method type fields of a PaymentIntent, as stored."""

    payment_method_types: list[str]
    automatic_payment_methods: dict[str, Any] | None
    allowed_payment_method_types: list[str] | None
    excluded_payment_method_types: list[str] | None

    def fields(self) -> dict[str, Any]:
        return {
            "allowed_payment_method_types": self.allowed_payment_method_types,
            "automatic_payment_methods": self.automatic_payment_methods,
            "excluded_payment_method_types": self.excluded_payment_method_types,
            "payment_method_types": self.payment_method_types,
        }


def _read_method_types(params: Params, api_version: str, *, creating: bool) -> MethodTypes | None:
    """Read the payment method type parameters; None when an update sets none of them.

    Creation without any of them turns automatic payment methods on, as recent API
    versions do. `automatic_payment_methods` can only be set at creation.
    """
    version = api_version[:10]
    if params.has("payment_method_types") and version >= TYPES_WRITE_REMOVED_SINCE:
        raise invalid_request(
            f"payment_method_types cannot be set on API version {api_version}. Pass "
            "allowed_payment_method_types, or leave it out to use automatic payment methods.",
            code="payment_method_types_no_longer_supported",
            param="payment_method_types",
        )
    types = params.string_list("payment_method_types")
    allowed = (
        params.string_list("allowed_payment_method_types")
        if version >= ALLOWED_TYPES_SINCE
        else None
    )
    excluded = params.string_list("excluded_payment_method_types")
    automatic_params = params.nested("automatic_payment_methods") if creating else None
    automatic = _read_automatic(automatic_params) if automatic_params else None

    given = [
        name
        for name, value in (
            ("allowed_payment_method_types", allowed),
            ("payment_method_types", types),
            ("excluded_payment_method_types", excluded),
            ("automatic_payment_methods", automatic),
        )
        if value is not None
    ]
    exclusive = ("allowed_payment_method_types", "payment_method_types")
    if len(given) > 1 and any(name in exclusive for name in given):
        raise invalid_request(
            f"Pass only one of {', '.join(given)}.",
            code="parameters_exclusive",
            param=given[1],
        )
    if not given and not creating:
        return None

    if types is not None:
        if not types:
            raise parameter_invalid(
                "payment_method_types", "payment_method_types must not be empty."
            )
        return MethodTypes(types, None, None, None)
    if allowed is not None:
        # Stripe silently drops allowed types that cannot be used.
        usable = [name for name in allowed if name in SIMULATED_TYPES]
        return MethodTypes(usable, None, allowed, None)
    usable = [name for name in SIMULATED_TYPES if name not in (excluded or [])]
    return MethodTypes(usable, automatic or {"enabled": True}, None, excluded)


def _read_automatic(automatic: Params) -> dict[str, Any]:
    enabled = automatic.boolean("enabled")
    if enabled is None:
        raise parameter_invalid(
            "automatic_payment_methods[enabled]",
            "Missing required param: automatic_payment_methods[enabled].",
            code="parameter_missing",
        )
    allow_redirects = automatic.choice("allow_redirects", ("always", "never"))
    automatic.finish()
    settings: dict[str, Any] = {"enabled": enabled}
    if allow_redirects:
        settings["allow_redirects"] = allow_redirects
    return settings


def create_payment_intent(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    currency = params.currency("currency", required=True)
    amount = _read_amount(params, currency, required=True)
    metadata = params.metadata()
    method_types = _read_method_types(params, request.api_version, creating=True)
    assert method_types is not None
    capture_method = params.choice("capture_method", ("automatic", "automatic_async", "manual"))
    if capture_method == "manual":
        # NOTE: manual capture (requires_capture and /capture) is not implemented.
        raise parameter_invalid("capture_method", "The sandbox supports only automatic capture.")
    payment_method_id = params.string("payment_method")
    confirm = params.boolean("confirm") or False
    params.string("return_url")
    params.boolean("off_session")
    description = params.optional_string("description")
    transfer_group = params.optional_string("transfer_group")
    receipt_email = params.optional_string("receipt_email")
    statement_descriptor = params.optional_string("statement_descriptor", max_length=22)
    descriptor_suffix = params.optional_string("statement_descriptor_suffix", max_length=22)
    params.finish()

    # Stripe checks the payment method before it creates anything.
    if confirm and not payment_method_id:
        raise invalid_request(
            "confirm=true needs payment_method, for example 'pm_card_visa'.",
            code="parameter_missing",
            param="payment_method",
        )
    if payment_method_id:
        _check_card_allowed(method_types.payment_method_types, None)
    payment_method = resolve_payment_method(ctx, payment_method_id) if payment_method_id else None
    assert amount is not None
    assert currency is not None
    intent_id = ctx.store.new_id("payment_intent")
    intent: dict[str, Any] = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": capture_method or "automatic",
        "client_secret": f"{intent_id}_secret_{random_token(25)}",
        "confirmation_method": "automatic",
        "created": ctx.now(),
        "currency": currency,
        "customer": None,
        "description": description,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": apply_metadata({}, metadata or {}, "metadata"),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": payment_method["id"] if payment_method else None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "processing": None,
        "receipt_email": receipt_email,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": statement_descriptor,
        "statement_descriptor_suffix": descriptor_suffix,
        "status": "requires_confirmation" if payment_method else "requires_payment_method",
        "transfer_data": None,
        "transfer_group": transfer_group,
        **method_types.fields(),
    }
    ctx.store.insert("payment_intent", intent)
    ctx.events.record("payment_intent.created", intent)
    if confirm and payment_method is not None:
        _attempt_payment(ctx, intent, payment_method)
    return intent


def confirm_payment_intent(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    payment_method_id = params.string("payment_method")
    method_types = _read_method_types(params, request.api_version, creating=False)
    params.string("return_url")
    params.boolean("off_session")
    receipt_email = params.optional_string("receipt_email")
    params.finish()

    intent = _require_intent(ctx, request.path_params["intent"])
    if intent["status"] not in CONFIRMABLE:
        raise unexpected_state(snapshot(intent), "confirmed")
    types = method_types.payment_method_types if method_types else intent["payment_method_types"]
    _check_card_allowed(types, intent)
    if payment_method_id:
        payment_method = resolve_payment_method(ctx, payment_method_id)
    elif intent["payment_method"]:
        payment_method = ctx.store.require("payment_method", intent["payment_method"])
    else:
        raise _missing_payment_method(intent)

    # Every check passed, so the intent may change now.
    if method_types is not None:
        intent.update(method_types.fields())
    if receipt_email:
        intent["receipt_email"] = receipt_email
    _attempt_payment(ctx, intent, payment_method)
    return intent


def _check_card_allowed(types: list[str], intent: dict[str, Any] | None) -> None:
    """Raise unless `types` allows cards, the only payment method type simulated."""
    if "card" in types:
        return
    extra = {"payment_intent": snapshot(intent)} if intent else {}
    raise invalid_request(
        f"The payment method is a card, but payment_method_types is {types}.",
        code="payment_intent_incompatible_payment_method",
        param="payment_method",
        **extra,
    )


def _missing_payment_method(intent: dict[str, Any]) -> StripeAPIError:
    return invalid_request(
        f"PaymentIntent {intent['id']} has no payment method to confirm with. Pass "
        "payment_method, for example 'pm_card_visa'.",
        code="payment_intent_unexpected_state",
        param="payment_method",
        payment_intent=snapshot(intent),
    )


def _attempt_payment(
    ctx: SandboxContext, intent: dict[str, Any], payment_method: dict[str, Any]
) -> None:
    """Charge `payment_method` for `intent`; raise a replayable 402 on a decline."""
    card = card_for(payment_method)
    charge = build_charge(ctx, intent, payment_method, card.decline)
    ctx.store.insert("charge", charge)
    intent["latest_charge"] = charge["id"]

    if card.decline is None:
        transaction = create_balance_transaction(
            ctx,
            amount=charge["amount"],
            currency=charge["currency"],
            transaction_type="charge",
            source=charge["id"],
            available_on=ctx.now() + ctx.config.available_after_seconds,
            description=intent["description"],
        )
        charge["balance_transaction"] = transaction["id"]
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            payment_method=payment_method["id"],
            last_payment_error=None,
        )
        ctx.events.record("charge.succeeded", charge)
        ctx.events.record("payment_intent.succeeded", intent)
        return

    decline = card.decline
    error_fields: dict[str, Any] = {
        "charge": charge["id"],
        "code": decline.code,
        "message": decline.message,
        "payment_method": snapshot(payment_method),
        "type": CARD_ERROR,
    }
    if decline.decline_code:
        error_fields["decline_code"] = decline.decline_code
    # Stripe detaches a declined payment method so the customer must supply another.
    intent.update(
        status="requires_payment_method", payment_method=None, last_payment_error=error_fields
    )
    ctx.events.record("charge.failed", charge)
    ctx.events.record("payment_intent.payment_failed", intent)
    extra = {
        key: value for key, value in error_fields.items() if key not in ("code", "message", "type")
    }
    raise StripeAPIError(
        402,
        decline.message,
        error_type=CARD_ERROR,
        code=decline.code,
        replayable=True,
        payment_intent=snapshot(intent),
        **extra,
    )


def _require_intent(ctx: SandboxContext, intent_id: str) -> dict[str, Any]:
    return ctx.store.require("payment_intent", intent_id, label="payment_intent")


def retrieve_payment_intent(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    request.params.string("client_secret")
    request.params.finish()
    return _require_intent(ctx, request.path_params["intent"])


def update_payment_intent(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    intent = _require_intent(ctx, request.path_params["intent"])
    currency = params.currency("currency")
    amount = _read_amount(params, currency or intent["currency"], required=False)
    metadata = params.metadata()
    payment_method_id = params.string("payment_method")
    method_types = _read_method_types(params, request.api_version, creating=False)
    changes: dict[str, Any] = {}
    for key in ("description", "receipt_email", "transfer_group"):
        if params.has(key):
            changes[key] = params.optional_string(key)
    for key in ("statement_descriptor", "statement_descriptor_suffix"):
        if params.has(key):
            changes[key] = params.optional_string(key, max_length=22)
    params.finish()

    # Metadata and descriptions may change in any status, the payment itself may not.
    changes_payment = any(
        value is not None for value in (amount, currency, payment_method_id, method_types)
    )
    if changes_payment and intent["status"] not in CONFIRMABLE:
        raise unexpected_state(snapshot(intent), "updated")
    if method_types is not None:
        changes.update(method_types.fields())
    if payment_method_id:
        changes["payment_method"] = resolve_payment_method(ctx, payment_method_id)["id"]
        if intent["status"] == "requires_payment_method":
            changes["status"] = "requires_confirmation"
    if amount is not None:
        changes["amount"] = amount
    if currency is not None:
        changes["currency"] = currency
    if metadata is not None:
        changes["metadata"] = apply_metadata(intent["metadata"], metadata, "metadata")
    intent.update(changes)
    return intent


def cancel_payment_intent(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    reason = params.choice(
        "cancellation_reason", ("abandoned", "duplicate", "fraudulent", "requested_by_customer")
    )
    params.finish()
    intent = _require_intent(ctx, request.path_params["intent"])
    if intent["status"] not in CANCELABLE:
        raise unexpected_state(snapshot(intent), "canceled")
    intent.update(status="canceled", canceled_at=ctx.now(), cancellation_reason=reason)
    ctx.events.record("payment_intent.canceled", intent)
    return intent


def list_payment_intents(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    page = paginate(ctx.store.all("payment_intent"), request.params, "/v1/payment_intents")
    request.params.finish()
    return page


def search_payment_intents(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    result = search(
        ctx.store.all("payment_intent"),
        request.params,
        "/v1/payment_intents/search",
        SEARCH_FIELDS,
    )
    request.params.finish()
    return result
