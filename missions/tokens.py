"""Bearer tokens (JWT, HS256) that name the acting user and role.

A token's `sub` and `role` claims name who sent the request. A `service` token may also
carry an `act_as` claim, `{"sub": ..., "role": ...}`, naming the user it acts for: the API
then checks the request as that user. A service token without `act_as` may only read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from jwt.exceptions import InvalidSubjectError
from pydantic import ValidationError

from missions.contracts import Actor, Role
from missions.errors import Unauthenticated
from missions.settings import Settings

ALGORITHM = "HS256"
# The decoder accepts only this list, so `alg: none` and public-key algorithms (which an
# attacker could pair with the shared secret read as a public key) are rejected.
ALLOWED_ALGORITHMS = (ALGORITHM,)
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "role")


@dataclass(frozen=True)
class VerifiedToken:
    """The claims of a token whose signature, issuer, audience and lifetime were checked."""

    subject: Actor
    act_as: Actor | None
    token_id: str | None
    issued_at: datetime
    expires_at: datetime

    @property
    def actor(self) -> Actor:
        """The user the request is checked as: `act_as` for a service acting for a user."""
        return self.act_as or self.subject

    @property
    def read_only(self) -> bool:
        """True for a service token that acts for no user."""
        return self.subject.role is Role.SERVICE and self.act_as is None


def mint_token(
    settings: Settings,
    user_id: str,
    role: Role | str,
    *,
    ttl: timedelta = timedelta(hours=1),
    act_as: Actor | None = None,
) -> str:
    """Sign a token for `user_id` with `role`, valid from now for `ttl`.

    Raises ValueError for a non-positive `ttl`, an unknown role, or an `act_as` on a token
    that is not a service's or that names another service.
    """
    subject = Actor(user_id=user_id, role=Role(role))
    if ttl <= timedelta(0):
        raise ValueError(f"token ttl must be positive, got {ttl}")
    if act_as is not None:
        _check_act_as(subject, act_as, error=ValueError)

    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": subject.user_id,
        "role": subject.role.value,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    if act_as is not None:
        claims["act_as"] = {"sub": act_as.user_id, "role": act_as.role.value}
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def verify_token(settings: Settings, token: str) -> VerifiedToken:
    """Check a token's signature and claims and return who it names.

    Raises Unauthenticated with the reason (malformed, disallowed algorithm, bad signature,
    expired, not yet valid, wrong issuer or audience, missing or invalid claim).
    """
    _check_algorithm(token)
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=list(ALLOWED_ALGORITHMS),
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway,
            options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
        )
    except jwt.PyJWTError as error:
        raise _unauthenticated(error, settings) from error

    subject = _actor_from_claims(claims, "token")
    act_as = _act_as_from_claims(claims, subject)
    token_id = claims.get("jti")
    return VerifiedToken(
        subject=subject,
        act_as=act_as,
        token_id=token_id if isinstance(token_id, str) else None,
        issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
    )


def _check_algorithm(token: str) -> None:
    # PyJWT rejects a disallowed algorithm too, but reading the header first lets the
    # message name the algorithm the token asked for.
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"token is malformed: {error}") from error
    algorithm = header.get("alg")
    if algorithm not in ALLOWED_ALGORITHMS:
        raise Unauthenticated(
            f"token algorithm {algorithm!r} is not allowed; tokens must be signed with "
            f"{', '.join(ALLOWED_ALGORITHMS)}",
            algorithm=str(algorithm),
        )


def _unauthenticated(error: jwt.PyJWTError, settings: Settings) -> Unauthenticated:
    # The subclasses are tested before their bases: InvalidSignatureError is a DecodeError.
    if isinstance(error, jwt.ExpiredSignatureError):
        return Unauthenticated("token expired; request a new one")
    if isinstance(error, jwt.ImmatureSignatureError):
        return Unauthenticated(f"token is not yet valid: {error}")
    if isinstance(error, jwt.InvalidAudienceError):
        return Unauthenticated(
            f"token audience is wrong; expected {settings.jwt_audience!r}",
            expected=settings.jwt_audience,
        )
    if isinstance(error, jwt.InvalidIssuerError):
        return Unauthenticated(
            f"token issuer is wrong; expected {settings.jwt_issuer!r}",
            expected=settings.jwt_issuer,
        )
    if isinstance(error, jwt.MissingRequiredClaimError):
        return Unauthenticated(f"token is missing the {error.claim!r} claim", claim=error.claim)
    if isinstance(error, jwt.InvalidSignatureError):
        return Unauthenticated("token signature is invalid")
    if isinstance(error, jwt.InvalidAlgorithmError):
        return Unauthenticated(f"token algorithm is not allowed: {error}")
    if isinstance(error, jwt.InvalidIssuedAtError):
        return Unauthenticated(f"token 'iat' claim is invalid: {error}", claim="iat")
    if isinstance(error, InvalidSubjectError):
        return Unauthenticated(f"token 'sub' claim is invalid: {error}", claim="sub")
    if isinstance(error, jwt.DecodeError):
        return Unauthenticated(f"token is malformed: {error}")
    return Unauthenticated(f"token is invalid: {error}")


def _actor_from_claims(claims: dict[str, Any], where: str) -> Actor:
    role = claims.get("role")
    if role is None:
        raise Unauthenticated(f"{where} is missing the 'role' claim", claim="role")
    try:
        return Actor(user_id=claims.get("sub"), role=role)
    except ValidationError as error:
        field = str(error.errors()[0]["loc"][0]) if error.errors() else "sub"
        claim = "sub" if field == "user_id" else field
        expected = ", ".join(r.value for r in Role) if claim == "role" else "1-128 characters"
        raise Unauthenticated(
            f"{where} has an invalid {claim!r} claim; expected {expected}", claim=claim
        ) from error


def _act_as_from_claims(claims: dict[str, Any], subject: Actor) -> Actor | None:
    raw = claims.get("act_as")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise Unauthenticated(
            "token 'act_as' claim must be an object with 'sub' and 'role'", claim="act_as"
        )
    act_as = _actor_from_claims(raw, "token 'act_as' claim")
    _check_act_as(subject, act_as, error=Unauthenticated)
    return act_as


def _check_act_as(
    subject: Actor, act_as: Actor, *, error: type[ValueError] | type[Unauthenticated]
) -> None:
    if subject.role is not Role.SERVICE:
        raise error(
            f"only a service token may carry 'act_as'; this token's role is {subject.role.value}"
        )
    if act_as.role is Role.SERVICE:
        raise error("a service token may act for a client, provider or ops user, not a service")
