"""Provider profiles: written by the provider, ops or a service, read by any signed-in user."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import stripe
from fastapi import APIRouter, Path
from sqlalchemy.orm import Session

from api.deps import CurrentActor, PaymentsDep, SessionDep, in_transaction
from api.errors import error_responses
from api.schemas import ProviderAccountView, ProviderProfileBody
from missions.contracts import Actor, Role
from missions.db.repositories import (
    ProviderProfile,
    get_provider,
    get_provider_row,
    set_provider_stripe_account,
    upsert_provider_profile,
)
from missions.errors import Forbidden, MissionNotFound, PaymentProviderError
from missions.text import Line

log = logging.getLogger(__name__)

router = APIRouter(prefix="/providers", tags=["providers"])

ProviderId = Annotated[
    Line, Path(min_length=1, max_length=128, description="The provider's user id.")
]
# Stripe receives the id in an HTTP header (the idempotency key of the account creation),
# which carries ASCII only, so a profile that opens a payout account needs an ASCII id.
WritableProviderId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="The provider's user id: 1 to 128 visible ASCII characters.",
    ),
]

# Roles that may write any provider's profile, besides the provider themselves. A service
# writes profiles for the marketplace's own onboarding, with or without `act_as`.
PROFILE_ADMIN_ROLES = frozenset({Role.OPS, Role.SERVICE})


@router.put(
    "/{provider_id}",
    response_model=ProviderAccountView,
    summary="Write a provider's profile and open their payout account",
    description=(
        "Creates or replaces the profile. The first call also creates the provider's Stripe "
        "connected account, which receives their payouts."
    ),
    responses=error_responses(401, 403, 422, 502, 503),
)
async def put_provider(
    provider_id: WritableProviderId,
    body: ProviderProfileBody,
    actor: CurrentActor,
    session: SessionDep,
    payments: PaymentsDep,
) -> ProviderAccountView:
    _check_may_write(actor, provider_id)
    await in_transaction(session, upsert_provider_profile, provider_id, **body.model_dump())

    account = await in_transaction(session, _account_of, provider_id)
    if account.stripe_account_id is None:
        try:
            account_id, payouts_enabled = await asyncio.to_thread(
                payments.create_connected_account, provider_id, body.email
            )
        except stripe.StripeError as error:
            log.error(
                "provider %s: creating the Stripe connected account failed: %s",
                provider_id,
                error.user_message,
            )
            raise PaymentProviderError(
                f"Stripe could not create the payout account of provider {provider_id}: "
                f"{error.user_message}; retry the request",
                provider_id=provider_id,
            ) from error
        await in_transaction(
            session, set_provider_stripe_account, provider_id, account_id, payouts_enabled
        )
        account = await in_transaction(session, _account_of, provider_id)

    log.info("provider %s: profile written by %s %s", provider_id, actor.role.value, actor.user_id)
    return account


@router.get(
    "/{provider_id}",
    response_model=ProviderProfile,
    summary="Read a provider's public profile and rating summary",
    responses=error_responses(401, 404, 422, 503),
)
async def read_provider(
    provider_id: ProviderId, actor: CurrentActor, session: SessionDep
) -> ProviderProfile:
    profile = await in_transaction(session, get_provider, provider_id)
    if profile is None:
        raise MissionNotFound(f"provider {provider_id} not found", provider_id=provider_id)
    return profile


def _check_may_write(actor: Actor, provider_id: str) -> None:
    if actor.role in PROFILE_ADMIN_ROLES:
        return
    if actor.role is Role.PROVIDER and actor.user_id == provider_id:
        return
    raise Forbidden(
        f"{actor.role.value} {actor.user_id!r} may not write the profile of provider "
        f"{provider_id!r}; only that provider, ops or a service may",
        provider_id=provider_id,
    )


def _account_of(session: Session, provider_id: str) -> ProviderAccountView:
    profile = get_provider(session, provider_id)
    row = get_provider_row(session, provider_id)
    if profile is None or row is None:
        raise RuntimeError(f"provider {provider_id} is missing right after its upsert")
    return ProviderAccountView(
        **profile.model_dump(),
        email=row.email,
        stripe_account_id=row.stripe_account_id,
        payouts_enabled=row.payouts_enabled,
    )
