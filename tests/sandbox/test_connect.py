"""Connected accounts, transfers, reversals and the balance through the real stripe SDK."""

from __future__ import annotations

import uuid

import pytest
import stripe

from .conftest import PENDING_DELAY_SECONDS, RunningSandbox


def _express_account(client: stripe.StripeClient, **metadata: str) -> stripe.Account:
    return client.v1.accounts.create(
        {
            "type": "express",
            "country": "FR",
            "email": "provider@example.com",
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {"provider_id": "provider-1", **metadata},
        }
    )


def _paid_charge(client: stripe.StripeClient, amount: int, transfer_group: str) -> str:
    intent = client.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": "eur",
            "transfer_group": transfer_group,
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    assert isinstance(intent.latest_charge, str)
    return intent.latest_charge


def _funds(client: stripe.StripeClient) -> tuple[int, int]:
    """Return the platform's available and pending eur amounts; eur is absent until used."""
    balance = client.v1.balance.retrieve()
    available = next((funds.amount for funds in balance.available if funds.currency == "eur"), 0)
    pending = next((funds.amount for funds in balance.pending if funds.currency == "eur"), 0)
    return available, pending


def test_account_is_usable_at_once(client: stripe.StripeClient) -> None:
    account = _express_account(client)

    assert account.id.startswith("acct_")
    assert account.type == "express"
    assert account.country == "FR"
    assert account.default_currency == "eur"
    assert account.email == "provider@example.com"
    assert account.charges_enabled is True
    assert account.payouts_enabled is True
    assert account.details_submitted is True
    assert account.capabilities is not None
    assert account.capabilities.transfers == "active"
    assert account.requirements is not None
    assert account.requirements.disabled_reason is None
    assert account.metadata is not None
    assert account.metadata.to_dict() == {"provider_id": "provider-1"}
    assert client.v1.accounts.retrieve(account.id).id == account.id


def test_account_without_capabilities_is_rejected(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.accounts.create({"type": "express", "country": "FR"})

    assert raised.value.code == "parameter_missing"
    assert raised.value.param == "capabilities"


def test_transfer_from_pending_charge(pending_client: stripe.StripeClient) -> None:
    group = f"mission-{uuid.uuid4().hex[:12]}"
    account = _express_account(pending_client)
    available_before, pending_before = _funds(pending_client)
    charge_id = _paid_charge(pending_client, 10_000, group)
    assert _funds(pending_client) == (available_before, pending_before + 10_000)

    transfer = pending_client.v1.transfers.create(
        {
            "amount": 8_000,
            "currency": "eur",
            "destination": account.id,
            "source_transaction": charge_id,
            "transfer_group": group,
            "metadata": {"purpose": "release"},
            "description": "Provider payout",
        }
    )

    assert transfer.id.startswith("tr_")
    assert transfer.amount == 8_000
    assert transfer.amount_reversed == 0
    assert transfer.reversed is False
    assert transfer.destination == account.id
    assert transfer.source_transaction == charge_id
    assert transfer.transfer_group == group
    assert transfer.description == "Provider payout"
    assert transfer.metadata.to_dict() == {"purpose": "release"}
    assert _funds(pending_client) == (available_before, pending_before + 2_000)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        pending_client.v1.transfers.create(
            {
                "amount": 2_001,
                "currency": "eur",
                "destination": account.id,
                "source_transaction": charge_id,
            }
        )
    assert raised.value.code == "amount_too_large"
    assert raised.value.param == "amount"


def test_transfer_limit_counts_refunds(pending_client: stripe.StripeClient) -> None:
    account = _express_account(pending_client)
    charge_id = _paid_charge(pending_client, 5_000, "refund-then-transfer")
    pending_client.v1.refunds.create({"charge": charge_id, "amount": 3_000})

    with pytest.raises(stripe.InvalidRequestError) as raised:
        pending_client.v1.transfers.create(
            {
                "amount": 2_001,
                "currency": "eur",
                "destination": account.id,
                "source_transaction": charge_id,
            }
        )
    transfer = pending_client.v1.transfers.create(
        {
            "amount": 2_000,
            "currency": "eur",
            "destination": account.id,
            "source_transaction": charge_id,
        }
    )

    assert raised.value.code == "amount_too_large"
    assert transfer.amount == 2_000


def test_transfer_without_source_needs_available_balance(
    pending_sandbox: RunningSandbox, pending_client: stripe.StripeClient
) -> None:
    assert pending_sandbox.clock is not None
    account = _express_account(pending_client)
    _paid_charge(pending_client, 4_000, "balance-check")
    available, pending = _funds(pending_client)
    amount = max(available, 0) + 1

    with pytest.raises(stripe.InvalidRequestError) as raised:
        pending_client.v1.transfers.create(
            {"amount": amount, "currency": "eur", "destination": account.id}
        )
    assert raised.value.http_status == 400
    assert raised.value.code == "balance_insufficient"

    pending_sandbox.clock.advance(PENDING_DELAY_SECONDS)
    assert _funds(pending_client) == (available + pending, 0)

    transfer = pending_client.v1.transfers.create(
        {"amount": amount, "currency": "eur", "destination": account.id}
    )
    assert transfer.source_transaction is None
    assert _funds(pending_client) == (available + pending - amount, 0)


def test_transfer_to_disabled_account_is_rejected(client: stripe.StripeClient) -> None:
    account = _express_account(client, sandbox_payouts="disabled")
    charge_id = _paid_charge(client, 3_000, "disabled-account")

    assert account.payouts_enabled is False
    assert account.charges_enabled is False
    assert account.capabilities is not None
    assert account.capabilities.transfers == "inactive"
    assert account.requirements is not None
    assert account.requirements.disabled_reason == "requirements.past_due"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.transfers.create(
            {
                "amount": 1_000,
                "currency": "eur",
                "destination": account.id,
                "source_transaction": charge_id,
            }
        )
    assert raised.value.http_status == 400
    assert raised.value.code == "insufficient_capabilities_for_transfer"
    assert raised.value.param == "destination"


def test_account_update_toggles_usability(client: stripe.StripeClient) -> None:
    account = _express_account(client)

    disabled = client.v1.accounts.update(account.id, {"metadata": {"sandbox_payouts": "disabled"}})
    enabled = client.v1.accounts.update(account.id, {"metadata": {"sandbox_payouts": ""}})

    assert disabled.payouts_enabled is False
    assert enabled.payouts_enabled is True
    assert enabled.capabilities is not None
    assert enabled.capabilities.transfers == "active"
    assert enabled.metadata is not None
    assert enabled.metadata.to_dict() == {"provider_id": "provider-1"}
    events = client.v1.events.list({"type": "account.updated", "limit": 3})
    assert [event.data.object["id"] for event in events.data[:2]] == [account.id, account.id]
    assert events.data[0].data.previous_attributes is not None
    assert events.data[0].data.previous_attributes["payouts_enabled"] is False


def test_transfer_to_unknown_account_is_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.transfers.create(
            {"amount": 100, "currency": "eur", "destination": "acct_doesnotexist00"}
        )

    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"
    assert raised.value.param == "destination"


def test_reversal_partial_then_rest(client: stripe.StripeClient) -> None:
    account = _express_account(client)
    charge_id = _paid_charge(client, 6_000, "reversals")
    transfer = client.v1.transfers.create(
        {
            "amount": 5_000,
            "currency": "eur",
            "destination": account.id,
            "source_transaction": charge_id,
        }
    )
    available_before, _ = _funds(client)

    first = client.v1.transfers.reversals.create(
        transfer.id, {"amount": 1_500, "metadata": {"reason": "dispute"}}
    )
    rest = client.v1.transfers.reversals.create(transfer.id)

    assert first.id.startswith("trr_")
    assert first.amount == 1_500
    assert first.transfer == transfer.id
    assert first.metadata is not None
    assert first.metadata.to_dict() == {"reason": "dispute"}
    assert rest.amount == 3_500
    after = client.v1.transfers.retrieve(transfer.id)
    assert after.amount_reversed == 5_000
    assert after.reversed is True
    assert [reversal.id for reversal in after.reversals.data] == [rest.id, first.id]
    listed = client.v1.transfers.reversals.list(transfer.id)
    assert [reversal.id for reversal in listed.data] == [rest.id, first.id]
    assert _funds(client)[0] == available_before + 5_000
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.transfers.reversals.create(transfer.id, {"amount": 1})
    assert raised.value.code == "amount_too_large"


def test_reversed_funds_can_be_transferred_again(client: stripe.StripeClient) -> None:
    first_account = _express_account(client)
    second_account = _express_account(client)
    charge_id = _paid_charge(client, 2_000, "reassign")
    transfer = client.v1.transfers.create(
        {
            "amount": 2_000,
            "currency": "eur",
            "destination": first_account.id,
            "source_transaction": charge_id,
        }
    )

    client.v1.transfers.reversals.create(transfer.id)
    again = client.v1.transfers.create(
        {
            "amount": 2_000,
            "currency": "eur",
            "destination": second_account.id,
            "source_transaction": charge_id,
        }
    )

    assert again.destination == second_account.id


def test_transfers_list_by_transfer_group(client: stripe.StripeClient) -> None:
    group = f"mission-{uuid.uuid4().hex[:12]}"
    account = _express_account(client)
    other_account = _express_account(client)
    charge_id = _paid_charge(client, 9_000, group)
    first = client.v1.transfers.create(
        {
            "amount": 3_000,
            "currency": "eur",
            "destination": account.id,
            "source_transaction": charge_id,
            "transfer_group": group,
        }
    )
    second = client.v1.transfers.create(
        {
            "amount": 2_000,
            "currency": "eur",
            "destination": other_account.id,
            "source_transaction": charge_id,
            "transfer_group": group,
        }
    )
    client.v1.transfers.create(
        {
            "amount": 1_000,
            "currency": "eur",
            "destination": account.id,
            "source_transaction": charge_id,
            "transfer_group": "another-group",
        }
    )

    by_group = client.v1.transfers.list({"transfer_group": group})
    by_destination = client.v1.transfers.list({"transfer_group": group, "destination": account.id})

    assert [transfer.id for transfer in by_group.data] == [second.id, first.id]
    assert by_group.has_more is False
    assert [transfer.id for transfer in by_destination.data] == [first.id]
