"""Bearer tokens (JWT) that name the acting user and role.

A token's `sub` and `role` claims name who sent the request. A `service` token may also
carry an `act_as` claim, `{"sub": ..., "role": ...}`, naming the user it acts for: the API
then checks the request as that user. A service token without `act_as` may only read.

Tokens are signed with HMAC (`MISSIONS_JWT_SECRET`, for local use) or with a private key
whose public half is published in a JWKS file or at a JWKS URL. `MISSIONS_JWT_ALGORITHMS`
lists what the verifier accepts; any other algorithm, `none` included, is rejected.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from jwt.exceptions import InvalidSubjectError
from pydantic import ValidationError

from missions.contracts import Actor, Role
from missions.errors import Unauthenticated, Unavailable
from missions.settings import HMAC_ALGORITHMS, Settings

# `missions token` mints tokens for local use with the shared secret.
MINT_ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "role")
JWKS_FETCH_TIMEOUT_SECONDS = 5


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
    ttl: timedelta | None = None,
    act_as: Actor | None = None,
) -> str:
    """Sign an HS256 token for `user_id` with `role`, valid from now for `ttl`.

    `ttl` defaults to `settings.jwt_default_ttl`. Raises ValueError for a non-positive
    `ttl`, an unknown role, an `act_as` on a token that is not a service's or that names
    another service, or settings whose verifier does not accept HS256.
    """
    subject = Actor(user_id=user_id, role=Role(role))
    lifetime = settings.jwt_default_ttl if ttl is None else ttl
    if lifetime <= timedelta(0):
        raise ValueError(f"token ttl must be positive, got {lifetime}")
    if MINT_ALGORITHM not in settings.jwt_algorithms:
        raise ValueError(
            f"the API accepts only {', '.join(settings.jwt_algorithms)} tokens, so an "
            f"{MINT_ALGORITHM} token would be rejected; add {MINT_ALGORITHM} to "
            "MISSIONS_JWT_ALGORITHMS or mint with the identity provider's key"
        )
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
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    if act_as is not None:
        claims["act_as"] = {"sub": act_as.user_id, "role": act_as.role.value}
    return jwt.encode(claims, settings.jwt_secret, algorithm=MINT_ALGORITHM)


def mint_act_as_token(
    settings: Settings,
    user_id: str,
    role: str,
    *,
    act_as_user: str | None = None,
    act_as_role: str | None = None,
    ttl: timedelta | None = None,
) -> str:
    """Mint a token from command-line values, naming the act-as user by its two parts.

    Raises ValueError with a message naming the option at fault.
    """
    if (act_as_user is None) != (act_as_role is None):
        raise ValueError("give both --act-as-user and --act-as-role, or neither")
    act_as = None
    if act_as_user is not None and act_as_role is not None:
        act_as = _actor_option(act_as_user, act_as_role, "--act-as-role")
    subject = _actor_option(user_id, role, "--role")
    return mint_token(settings, subject.user_id, subject.role, ttl=ttl, act_as=act_as)


def _actor_option(user_id: str, role: str, role_option: str) -> Actor:
    roles = ", ".join(item.value for item in Role)
    if role not in {item.value for item in Role}:
        raise ValueError(f"{role_option} {role!r} is not a role; use one of: {roles}")
    try:
        return Actor(user_id=user_id, role=Role(role))
    except ValidationError as error:
        raise ValueError(f"user id {user_id!r} is invalid; use 1 to 128 characters") from error


class TokenVerifier:
    """Verifies bearer tokens against the settings' algorithms, secret and public keys.

    A server builds one and keeps it, so keys read from a JWKS URL are cached between
    requests for `jwt_jwks_cache`. A JWKS file is read again when its mtime changes.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._algorithms = tuple(settings.jwt_algorithms)
        self._jwks_client: jwt.PyJWKClient | None = None
        if settings.jwt_jwks_url:
            self._jwks_client = jwt.PyJWKClient(
                settings.jwt_jwks_url,
                cache_jwk_set=True,
                lifespan=max(settings.jwt_jwks_cache.total_seconds(), 1),
                timeout=JWKS_FETCH_TIMEOUT_SECONDS,
            )
        self._file_lock = threading.Lock()
        self._file_keys: jwt.PyJWKSet | None = None
        self._file_mtime: float | None = None

    @property
    def fetches_keys(self) -> bool:
        """True when verifying may block on an HTTP fetch of the JWKS URL."""
        return self._jwks_client is not None

    def verify(self, token: str) -> VerifiedToken:
        """Check a token's signature and claims and return who it names.

        Raises Unauthenticated with the reason (malformed, disallowed algorithm, unknown
        key, bad signature, expired, not yet valid, too long-lived, wrong issuer or
        audience, missing or invalid claim), or Unavailable when the JWKS URL cannot be
        fetched.
        """
        settings = self._settings
        algorithm, key_id = self._read_header(token)
        key = settings.jwt_secret if algorithm in HMAC_ALGORITHMS else self._public_key(key_id)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                leeway=settings.jwt_leeway,
                options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
            )
        except jwt.PyJWTError as error:
            raise _unauthenticated(error, settings) from error

        # Compared as numbers first: an `exp` far in the future is no valid datetime.
        lifetime_seconds = int(claims["exp"]) - int(claims["iat"])
        if lifetime_seconds > settings.jwt_max_lifetime.total_seconds():
            raise Unauthenticated(
                f"token lifetime of {lifetime_seconds} s exceeds the maximum of "
                f"{int(settings.jwt_max_lifetime.total_seconds())} s; request a "
                "shorter-lived token",
                claim="exp",
            )
        issued_at = datetime.fromtimestamp(int(claims["iat"]), UTC)
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
        subject = _actor_from_claims(claims, "token")
        act_as = _act_as_from_claims(claims, subject)
        token_id = claims.get("jti")
        return VerifiedToken(
            subject=subject,
            act_as=act_as,
            token_id=token_id if isinstance(token_id, str) else None,
            issued_at=issued_at,
            expires_at=expires_at,
        )

    def _read_header(self, token: str) -> tuple[str, str | None]:
        # PyJWT rejects a disallowed algorithm too, but reading the header first lets the
        # message name the algorithm the token asked for, and picks the key to check with.
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"token is malformed: {error}") from error
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise Unauthenticated(
                f"token algorithm {algorithm!r} is not allowed; tokens must be signed with "
                f"{', '.join(self._algorithms)}",
                algorithm=str(algorithm),
            )
        key_id = header.get("kid")
        return algorithm, key_id if isinstance(key_id, str) else None

    def _public_key(self, key_id: str | None) -> jwt.PyJWK:
        keys = self._jwks_keys()
        if key_id is not None:
            matching = [key for key in keys if key.key_id == key_id]
            if not matching and self._jwks_client is not None:
                # The issuer may have rotated its keys since the cached set was fetched.
                matching = [key for key in self._jwks_keys(refresh=True) if key.key_id == key_id]
            if not matching:
                raise Unauthenticated(
                    f"token key id {key_id!r} is not in the JWKS; sign with a published key",
                    kid=key_id,
                )
            return matching[0]
        if len(keys) != 1:
            raise Unauthenticated(
                f"token has no 'kid' header and the JWKS contains {len(keys)} keys; "
                "name the signing key in 'kid'"
            )
        return keys[0]

    def _jwks_keys(self, *, refresh: bool = False) -> list[jwt.PyJWK]:
        if self._jwks_client is not None:
            try:
                return list(self._jwks_client.get_jwk_set(refresh=refresh).keys)
            except jwt.PyJWKClientConnectionError as error:
                raise Unavailable(
                    f"fetching the JWKS at {self._settings.jwt_jwks_url} failed: {error}; "
                    "retry later"
                ) from error
            except jwt.PyJWTError as error:
                raise Unavailable(
                    f"the JWKS at {self._settings.jwt_jwks_url} is invalid: {error}"
                ) from error
        path = self._settings.jwt_jwks_path
        if path is None:
            raise Unauthenticated("token needs a public key, but no JWKS is configured")
        return list(self._read_jwks_file(path).keys)

    def _read_jwks_file(self, path: Path) -> jwt.PyJWKSet:
        with self._file_lock:
            try:
                mtime = path.stat().st_mtime
                if self._file_keys is None or mtime != self._file_mtime:
                    self._file_keys = jwt.PyJWKSet.from_dict(json.loads(path.read_text()))
                    self._file_mtime = mtime
            except (OSError, ValueError, jwt.PyJWTError) as error:
                raise Unavailable(f"reading the JWKS file {path} failed: {error}") from error
            return self._file_keys


def verify_token(settings: Settings, token: str) -> VerifiedToken:
    """Verify one token with a fresh `TokenVerifier`; servers keep one verifier instead."""
    return TokenVerifier(settings).verify(token)


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
    if isinstance(error, jwt.InvalidKeyError):
        return Unauthenticated(f"token cannot be checked with the configured key: {error}")
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
