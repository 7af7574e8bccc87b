"""Connected accounts (`/v1/accounts`).

Sandbox accounts need no onboarding: every requested capability is `active` at once,
and `charges_enabled`, `payouts_enabled` and `details_submitted` are true.

Sandbox-only convention: metadata `sandbox_payouts=disabled`, at creation or in an
update, makes the account unusable. Its capabilities turn `inactive`, both enabled flags
turn false, `requirements.disabled_reason` becomes `requirements.past_due`, and
transfers to it fail with 400 `insufficient_capabilities_for_transfer`, as Stripe
does for an account whose `transfers` capability is not active. Removing the key or
setting another value makes the account usable again. Both changes emit
`account.updated`, and so does every creation, standing in for the update that Stripe
sends once onboarding activates the capabilities.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .errors import parameter_invalid, parameter_missing
from .forms import Params, apply_metadata
from .listing import paginate
from .store import snapshot

if TYPE_CHECKING:
    from .context import ApiRequest, SandboxContext

DISABLE_METADATA_KEY = "sandbox_payouts"
DISABLE_METADATA_VALUE = "disabled"

ACCOUNT_TYPES = ("custom", "express", "standard")
BUSINESS_TYPES = ("company", "government_entity", "individual", "non_profit")
BUSINESS_PROFILE_FIELDS = ("mcc", "name", "product_description", "support_email", "url")
_EURO_COUNTRIES = {
    "AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU",
    "LV", "MT", "NL", "PT", "SI", "SK",
}  # fmt: skip
_CURRENCY_BY_COUNTRY = {"AU": "aud", "CA": "cad", "CH": "chf", "GB": "gbp", "JP": "jpy"}


def is_usable(account: dict[str, Any]) -> bool:
    """Return whether the account can receive transfers."""
    return account["capabilities"].get("transfers") == "active"


def _default_currency(country: str, fallback: str) -> str:
    if country in _EURO_COUNTRIES:
        return "eur"
    return _CURRENCY_BY_COUNTRY.get(country, "usd" if country == "US" else fallback)


def _read_capabilities(params: Params) -> dict[str, bool] | None:
    capabilities = params.nested("capabilities")
    if capabilities is None:
        return None
    requested: dict[str, bool] = {}
    for name in list(capabilities.data):
        entry = capabilities.nested(name)
        assert entry is not None
        value = entry.boolean("requested")
        if value is None:
            raise parameter_missing(f"capabilities[{name}][requested]")
        entry.finish()
        requested[name] = value
    return requested


def _read_business_profile(params: Params) -> dict[str, str | None] | None:
    profile = params.nested("business_profile")
    if profile is None:
        return None
    values = {field: profile.optional_string(field) for field in BUSINESS_PROFILE_FIELDS}
    profile.finish()
    return {field: value for field, value in values.items() if profile.has(field)}


def _apply_usability(account: dict[str, Any], requested: list[str]) -> None:
    """Set capability statuses and enabled flags from the sandbox metadata convention."""
    disabled = account["metadata"].get(DISABLE_METADATA_KEY) == DISABLE_METADATA_VALUE
    status = "inactive" if disabled else "active"
    account["capabilities"] = dict.fromkeys(requested, status)
    account["charges_enabled"] = not disabled
    account["payouts_enabled"] = not disabled
    due = ["external_account"] if disabled else []
    account["requirements"] = {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": list(due),
        "disabled_reason": "requirements.past_due" if disabled else None,
        "errors": [],
        "eventually_due": list(due),
        "past_due": list(due),
        "pending_verification": [],
    }


def create_account(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    account_type = params.choice("type", ACCOUNT_TYPES) or "standard"
    country = (params.string("country") or "US").upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise parameter_invalid("country", f"Invalid country: {country}. Use an ISO code.")
    email = params.optional_string("email")
    business_type = params.choice("business_type", BUSINESS_TYPES)
    capabilities = _read_capabilities(params)
    business_profile = _read_business_profile(params) or {}
    default_currency = params.currency("default_currency")
    metadata = params.metadata()
    params.finish()

    requested = [name for name, wanted in (capabilities or {}).items() if wanted]
    if account_type != "standard" and not requested:
        raise parameter_missing("capabilities")
    if account_type == "standard" and capabilities is None:
        requested = ["card_payments", "transfers"]

    account: dict[str, Any] = {
        "id": ctx.store.new_id("account"),
        "object": "account",
        "business_profile": {
            field: business_profile.get(field) for field in BUSINESS_PROFILE_FIELDS
        },
        "business_type": business_type,
        "capabilities": {},
        "charges_enabled": True,
        "controller": {"is_controller": True, "type": "application"},
        "country": country,
        "created": ctx.now(),
        "default_currency": default_currency
        or _default_currency(country, ctx.config.default_currency),
        "details_submitted": True,
        "email": email,
        "external_accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": "",
        },
        "future_requirements": {
            "alternatives": [],
            "current_deadline": None,
            "currently_due": [],
            "disabled_reason": None,
            "errors": [],
            "eventually_due": [],
            "past_due": [],
            "pending_verification": [],
        },
        "livemode": False,
        "metadata": apply_metadata({}, metadata or {}, "metadata"),
        "payouts_enabled": True,
        "requirements": {},
        "type": account_type,
    }
    account["external_accounts"]["url"] = f"/v1/accounts/{account['id']}/external_accounts"
    _apply_usability(account, requested)
    ctx.store.insert("account", account)
    ctx.events.record("account.updated", account)
    return account


def retrieve_account(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    request.params.finish()
    return ctx.store.require("account", request.path_params["account"], label="account")


def update_account(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    account = ctx.store.require("account", request.path_params["account"], label="account")
    email = params.optional_string("email") if params.has("email") else account["email"]
    business_type = params.choice("business_type", BUSINESS_TYPES)
    capabilities = _read_capabilities(params)
    business_profile = _read_business_profile(params)
    metadata = params.metadata()
    params.finish()

    before = snapshot(account)
    account["email"] = email
    if business_type:
        account["business_type"] = business_type
    if business_profile:
        account["business_profile"].update(business_profile)
    if metadata is not None:
        account["metadata"] = apply_metadata(account["metadata"], metadata, "metadata")
    requested = [name for name in account["capabilities"] if (capabilities or {}).get(name, True)]
    requested += [
        name for name, wanted in (capabilities or {}).items() if wanted and name not in requested
    ]
    _apply_usability(account, requested)

    previous = {key: before[key] for key in account if before.get(key) != account[key]}
    if previous:
        ctx.events.record("account.updated", account, previous_attributes=previous)
    return account


def list_accounts(ctx: SandboxContext, request: ApiRequest) -> dict[str, Any]:
    page = paginate(ctx.store.all("account"), request.params, "/v1/accounts")
    request.params.finish()
    return page
