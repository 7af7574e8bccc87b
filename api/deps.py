"""`Annotated` dependencies: settings, the clients built in `lifespan`, and the caller."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Annotated, Concatenate, ParamSpec, TypeVar

import stripe
from fastapi import Depends, Header, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from api.idempotency import KEY_PATTERN
from api.rate_limits import RateLimiter
from missions.client import MissionsClient
from missions.contracts import Actor
from missions.errors import Unauthenticated
from missions.payments import PaymentsGateway
from missions.settings import Settings
from missions.tokens import TokenVerifier, VerifiedToken

# auto_error is off so a missing header is reported in the API's own error shape.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description=(
        "A JWT naming the user (`sub`) and role (`role`: client, provider, ops or service), "
        "signed with one of the configured algorithms (HS256 by default; RS256 or ES256 "
        "with keys from a JWKS). A service token may carry `act_as: {sub, role}` to act "
        "for a user."
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
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> VerifiedToken:
    """Verify the bearer token and count the request against its user's rate limit.

    Raises Unauthenticated when the token is missing or invalid, and RateLimited when its
    user sent too many requests.
    """
    if credentials is None:
        raise Unauthenticated("missing bearer token; send 'Authorization: Bearer <token>'")
    verifier: TokenVerifier = request.app.state.token_verifier
    if verifier.fetches_keys:
        # A JWKS fetch blocks on the network, which must not stall the event loop.
        token = await asyncio.to_thread(verifier.verify, credentials.credentials)
    else:
        token = verifier.verify(credentials.credentials)
    limiter: RateLimiter = request.app.state.rate_limiter
    await limiter.check_user(token.actor)
    return token


TokenDep = Annotated[VerifiedToken, Depends(get_token)]


async def get_current_actor(token: TokenDep) -> Actor:
    """Return the user the request is checked as: the token's user, or whom it acts for."""
    return token.actor


CurrentActor = Annotated[Actor, Depends(get_current_actor)]


async def get_session_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description=(
            "Any unique string of 1 to 255 visible ASCII characters, such as a UUID. A retry "
            "with the same key and body gets the first response again; another body with "
            "the same key is a 422 `idempotency_key_reused`."
        ),
    ),
]


async def idempotency_key(key: IdempotencyKeyHeader = None) -> str | None:
    """Return the request's `Idempotency-Key`, which `IdempotencyMiddleware` acts on."""
    return key


IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_key)]


async def reject_unknown_query_parameters(request: Request) -> None:
    """Raise a validation error naming each query parameter the route does not declare.

    A misspelled filter, such as `?stat=open`, would otherwise be ignored and return the
    unfiltered list.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = _query_parameter_names(route.dependant)
    unknown = sorted(set(request.query_params) - declared)
    if not unknown:
        return
    accepted = ", ".join(sorted(declared)) or "none"
    raise RequestValidationError(
        [
            {
                "type": "extra_forbidden",
                "loc": ("query", name),
                "msg": f"unknown query parameter {name!r}; remove it (accepted: {accepted})",
                "input": request.query_params.get(name),
            }
            for name in unknown
        ]
    )


def _query_parameter_names(dependant: Dependant) -> set[str]:
    names = {parameter.alias for parameter in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_parameter_names(dependency)
    return names
