"""Every Stripe call the project makes, behind one gateway built around an injected client.

Each call that creates or moves something carries a deterministic idempotency key made of
the mission id, the operation and every parameter that can change, so a retried call
replays Stripe's first answer instead of charging, refunding or paying twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import stripe
from pydantic import BaseModel
from stripe.params import AccountCreateParams

from missions.activity_models import PaymentIntentInfo, RefundInfo, TransferInfo
from missions.errors import PaymentDeclined
from missions.settings import Settings

log = logging.getLogger(__name__)


def build_stripe_client(settings: Settings) -> stripe.StripeClient:
    """Build the one Stripe client of a process; only the address differs for the sandbox."""
    base_addresses: Any = None
    if settings.stripe_api_base:
        base = settings.stripe_api_base.rstrip("/")
        base_addresses = {"api": base, "connect": base, "files": base}
    # The SDK retries network failures itself, reusing the idempotency key of the request.
    return stripe.StripeClient(
        settings.stripe_api_key, base_addresses=base_addresses, max_network_retries=2
    )


def idempotency_key(scope: str, operation: str, *parts: object) -> str:
    """Build a key such as `mission-…:refund:dispute:pi_123:6900`."""
    return ":".join([scope, operation, *(str(part) for part in parts)])


def _purpose(metadata: object) -> str | None:
    """Return the `purpose` this project writes in a Stripe object's metadata."""
    # In stripe 16 the SDK's objects are not dicts, so convert before reading.
    to_dict = getattr(metadata, "to_dict", None)
    if callable(to_dict):
        metadata = to_dict()
    if not isinstance(metadata, Mapping):
        return None
    value = metadata.get("purpose")
    return value if isinstance(value, str) else None


def _intent_info(intent: stripe.PaymentIntent) -> PaymentIntentInfo:
    charge = intent.latest_charge
    charge_id = charge if isinstance(charge, str) or charge is None else charge.id
    return PaymentIntentInfo(
        payment_intent_id=intent.id,
        client_secret=intent.client_secret or "",
        status=intent.status,
        amount_minor=intent.amount,
        currency=intent.currency.upper(),
        charge_id=charge_id,
    )


class PaymentsGateway:
    """Stripe operations of missions and providers, with their idempotency keys."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self._stripe = client

    def create_payment_intent(
        self,
        *,
        mission_id: str,
        client_id: str,
        amount_minor: int,
        currency: str,
        description: str,
        selection_number: int,
    ) -> PaymentIntentInfo:
        key = idempotency_key(
            mission_id, "payment_intent", selection_number, amount_minor, currency
        )
        intent = self._stripe.v1.payment_intents.create(
            {
                "amount": amount_minor,
                "currency": currency.lower(),
                "description": description[:200],
                # Confirmed without a redirect: the client's front end (or a test
                # PaymentMethod in the sandbox) confirms on the same page.
                "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
                "transfer_group": mission_id,
                "metadata": {
                    "mission_id": mission_id,
                    "client_id": client_id,
                    "selection_number": str(selection_number),
                },
            },
            {"idempotency_key": key},
        )
        log.info("mission %s: created PaymentIntent %s", mission_id, intent.id)
        return _intent_info(intent)

    def confirm_payment_intent(
        self, *, mission_id: str, payment_intent_id: str, payment_method: str, attempt_number: int
    ) -> PaymentIntentInfo:
        """Confirm server-side with a PaymentMethod; raise PaymentDeclined on a decline."""
        key = idempotency_key(
            mission_id, "confirm", payment_intent_id, attempt_number, payment_method
        )
        try:
            intent = self._stripe.v1.payment_intents.confirm(
                payment_intent_id, {"payment_method": payment_method}, {"idempotency_key": key}
            )
        except stripe.CardError as error:
            decline_code = getattr(error.error, "decline_code", None) if error.error else None
            raise PaymentDeclined(
                f"card declined for mission {mission_id}: {error.user_message or error.code}",
                stripe_code=error.code or "card_declined",
                decline_code=decline_code or "generic_decline",
            ) from error
        return _intent_info(intent)

    def retrieve_payment_intent(self, *, payment_intent_id: str) -> PaymentIntentInfo:
        return _intent_info(self._stripe.v1.payment_intents.retrieve(payment_intent_id))

    def cancel_payment_intent(
        self, *, mission_id: str, payment_intent_id: str
    ) -> PaymentIntentInfo:
        """Cancel an unpaid PaymentIntent and return its final state.

        A PaymentIntent that succeeded in the meantime cannot be cancelled. Its state is
        returned instead, so the caller learns that the mission was paid after all.
        """
        key = idempotency_key(mission_id, "cancel", payment_intent_id)
        try:
            intent = self._stripe.v1.payment_intents.cancel(
                payment_intent_id, None, {"idempotency_key": key}
            )
        except stripe.InvalidRequestError as error:
            if error.code != "payment_intent_unexpected_state":
                raise
            intent = self._stripe.v1.payment_intents.retrieve(payment_intent_id)
            log.info(
                "mission %s: PaymentIntent %s not cancelled, it is %s",
                mission_id,
                payment_intent_id,
                intent.status,
            )
        return _intent_info(intent)

    def refund(
        self, *, mission_id: str, payment_intent_id: str, amount_minor: int, purpose: str
    ) -> RefundInfo:
        key = idempotency_key(mission_id, "refund", purpose, payment_intent_id, amount_minor)
        existing = self._find_refund(payment_intent_id, purpose, amount_minor)
        if existing is not None:
            log.info(
                "mission %s: refund %s (%s) already exists as %s",
                mission_id,
                amount_minor,
                purpose,
                existing.id,
            )
            return RefundInfo(
                refund_id=existing.id, amount_minor=existing.amount, status=existing.status or ""
            )
        refund = self._stripe.v1.refunds.create(
            {
                "payment_intent": payment_intent_id,
                "amount": amount_minor,
                "metadata": {"mission_id": mission_id, "purpose": purpose},
            },
            {"idempotency_key": key},
        )
        log.info("mission %s: refunded %s (%s) as %s", mission_id, amount_minor, purpose, refund.id)
        return RefundInfo(
            refund_id=refund.id, amount_minor=refund.amount, status=refund.status or ""
        )

    def transfer(
        self,
        *,
        mission_id: str,
        destination: str,
        amount_minor: int,
        currency: str,
        charge_id: str,
        purpose: str,
    ) -> TransferInfo:
        """Pay a provider's connected account out of the mission's charge."""
        # The destination stays out of the key on purpose: if a provider changes account
        # between retries, Stripe returns an idempotency error instead of paying twice.
        key = idempotency_key(mission_id, "transfer", purpose, amount_minor)
        existing = self._find_transfer(mission_id, purpose, amount_minor)
        if existing is not None:
            log.info(
                "mission %s: transfer %s (%s) already exists as %s",
                mission_id,
                amount_minor,
                purpose,
                existing.id,
            )
            return TransferInfo(
                transfer_id=existing.id, amount_minor=existing.amount, destination=destination
            )
        transfer = self._stripe.v1.transfers.create(
            {
                "amount": amount_minor,
                "currency": currency.lower(),
                "destination": destination,
                "source_transaction": charge_id,
                "transfer_group": mission_id,
                "metadata": {"mission_id": mission_id, "purpose": purpose},
            },
            {"idempotency_key": key},
        )
        log.info(
            "mission %s: transferred %s to %s (%s) as %s",
            mission_id,
            amount_minor,
            destination,
            purpose,
            transfer.id,
        )
        return TransferInfo(
            transfer_id=transfer.id, amount_minor=transfer.amount, destination=destination
        )

    # Stripe keeps idempotency keys for at least 24 hours only. A retry after that would
    # create a second object, so money moves first look for the one an earlier attempt made.

    def _find_refund(
        self, payment_intent_id: str, purpose: str, amount_minor: int
    ) -> stripe.Refund | None:
        refunds = self._stripe.v1.refunds.list({"payment_intent": payment_intent_id, "limit": 100})
        for refund in refunds.auto_paging_iter():
            if _purpose(refund.metadata) == purpose and refund.amount == amount_minor:
                return refund
        return None

    def _find_transfer(
        self, mission_id: str, purpose: str, amount_minor: int
    ) -> stripe.Transfer | None:
        transfers = self._stripe.v1.transfers.list({"transfer_group": mission_id, "limit": 100})
        for transfer in transfers.auto_paging_iter():
            if _purpose(transfer.metadata) == purpose and transfer.amount == amount_minor:
                return transfer
        return None

    def mission_of_payment_intent(self, payment_intent_id: str) -> str | None:
        """Return the mission id written in a PaymentIntent's metadata, if any."""
        intent = self._stripe.v1.payment_intents.retrieve(payment_intent_id)
        metadata = intent.metadata.to_dict() if intent.metadata else {}
        mission_id = metadata.get("mission_id")
        return mission_id if isinstance(mission_id, str) and mission_id else None

    def payouts_enabled(self, account_id: str) -> bool:
        """Return whether the connected account can receive transfers now."""
        account = self._stripe.v1.accounts.retrieve(account_id)
        return bool(account.payouts_enabled)

    def create_connected_account(self, provider_id: str, email: str | None) -> tuple[str, bool]:
        """Create the provider's Express account and return its id and payout readiness."""
        params: AccountCreateParams = {
            "type": "express",
            "country": "FR",
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"provider_id": provider_id},
        }
        if email:
            params["email"] = email
        account = self._stripe.v1.accounts.create(
            params, {"idempotency_key": idempotency_key(f"provider:{provider_id}", "account")}
        )
        log.info("provider %s: created connected account %s", provider_id, account.id)
        return account.id, bool(account.payouts_enabled)


class StripeTotals(BaseModel):
    """Totals that Stripe reports for one mission, in minor units."""

    captured_minor: int = 0
    refunded_minor: int = 0
    transferred_minor: int = 0


def mission_totals(client: stripe.StripeClient, mission_id: str) -> StripeTotals:
    """Add up the mission's PaymentIntents, refunds and net transfers as Stripe records them.

    PaymentIntents are found by their `mission_id` metadata and transfers by their
    `transfer_group`, so objects the ledger does not know about are counted too.
    """
    totals = StripeTotals()
    intents = client.v1.payment_intents.search(
        {"query": f"metadata['mission_id']:'{mission_id}'", "limit": 100}
    )
    for intent in intents.auto_paging_iter():
        totals.captured_minor += intent.amount_received or 0
        refunds = client.v1.refunds.list({"payment_intent": intent.id, "limit": 100})
        for refund in refunds.auto_paging_iter():
            if refund.status in ("succeeded", "pending"):
                totals.refunded_minor += refund.amount
    transfers = client.v1.transfers.list({"transfer_group": mission_id, "limit": 100})
    for transfer in transfers.auto_paging_iter():
        totals.transferred_minor += transfer.amount - (transfer.amount_reversed or 0)
    return totals
