"""`Annotated` dependencies: settings, the clients built in `lifespan`, and the caller."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Annotated, Concatenate, ParamSpec, TypeVar

import stripe
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from missions.client import MissionsClient
from missions.contracts import Actor
from missions.errors import Unauthenticated
from missions.payments import PaymentsGateway
from missions.settings import Settings
from missions.tokens import VerifiedToken, verify_token

# auto_error is off so a missing header is reported in the API's own error shape.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description=(
        "A JWT signed with HS256 naming the user (`sub`) and role (`role`: client, provider, "
        "ops or service). A service token may carry `act_as: {sub, role}` to act for a user."
    ),
)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_missions_client(request: Request) -> MissionsClient:
    client: MissionsClient = request.app.state.missions
    return client


async def get_payments(request: Request) -> PaymentsGateway:
    stripe_client: stripe.StripeClient = request.app.state.stripe
    return PaymentsGateway(stripe_client)


def get_session(request: Request) -> Iterator[Session]:
    """Yield one database session for the request and close it afterwards."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        yield session


P = ParamSpec("P")
T = TypeVar("T")


async def in_transaction(
    session: Session, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run `work(session, ...)` in one transaction on a worker thread.

    The database drivers block, so running them on the event loop would stall every other
    request. The transaction commits when `work` returns and rolls back when it raises.
    """

    def run() -> T:
        with session.begin():
            return work(session, *args, **kwargs)

    return await asyncio.to_thread(run)


SettingsDep = Annotated[Settings, Depends(get_settings)]
MissionsDep = Annotated[MissionsClient, Depends(get_missions_client)]
PaymentsDep = Annotated[PaymentsGateway, Depends(get_payments)]
SessionDep = Annotated[Session, Depends(get_session)]


async def get_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> VerifiedToken:
    """Verify the bearer token; raise Unauthenticated when it is missing or invalid."""
    if credentials is None:
        raise Unauthenticated("missing bearer token; send 'Authorization: Bearer <token>'")
    return verify_token(settings, credentials.credentials)


TokenDep = Annotated[VerifiedToken, Depends(get_token)]


async def get_current_actor(token: TokenDep) -> Actor:
    """Return the user the request is checked as: the token's user, or whom it acts for."""
    return token.actor


CurrentActor = Annotated[Actor, Depends(get_current_actor)]


async def get_session_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]
