"""Minting and verifying bearer tokens, including the forgeries a verifier must reject."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from missions.contracts import Actor, Role
from missions.errors import Unauthenticated
from missions.settings import Settings
from missions.tokens import mint_token, verify_token

SECRET = "test-secret-0123456789-0123456789-abcdef"


@pytest.fixture
def settings() -> Settings:
    return Settings(jwt_secret=SECRET, jwt_leeway=timedelta(seconds=5))


def signed(settings: Settings, **overrides: Any) -> str:
    """Sign claims that are valid except for `overrides`; a None value drops the claim."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": "client-1",
        "role": "client",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def rejection(settings: Settings, token: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        verify_token(settings, token)
    return caught.value


def test_round_trip_names_user_and_role(settings: Settings) -> None:
    token = mint_token(settings, "provider-7", Role.PROVIDER)

    verified = verify_token(settings, token)

    assert verified.actor == Actor(user_id="provider-7", role=Role.PROVIDER)
    assert verified.act_as is None
    assert verified.read_only is False
    assert verified.token_id is not None
    assert verified.expires_at - verified.issued_at == timedelta(hours=1)


def test_service_acting_for_user_is_that_user(settings: Settings) -> None:
    client = Actor(user_id="client-3", role=Role.CLIENT)
    token = mint_token(settings, "backend", Role.SERVICE, act_as=client)

    verified = verify_token(settings, token)

    assert verified.subject == Actor(user_id="backend", role=Role.SERVICE)
    assert verified.actor == client
    assert verified.read_only is False


def test_service_without_act_as_is_read_only(settings: Settings) -> None:
    verified = verify_token(settings, mint_token(settings, "backend", "service"))

    assert verified.actor == Actor(user_id="backend", role=Role.SERVICE)
    assert verified.read_only is True


def test_mint_rejects_act_as_on_user_token(settings: Settings) -> None:
    other = Actor(user_id="client-3", role=Role.CLIENT)
    with pytest.raises(ValueError, match="only a service token"):
        mint_token(settings, "provider-1", Role.PROVIDER, act_as=other)


def test_mint_rejects_unknown_role(settings: Settings) -> None:
    with pytest.raises(ValueError):
        mint_token(settings, "someone", "admin")


def test_expired_token(settings: Settings) -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    token = signed(settings, iat=past, nbf=past, exp=past + timedelta(minutes=1))

    error = rejection(settings, token)

    assert error.code == "unauthenticated"
    assert error.status == 401
    assert "expired" in error.message


def test_expiry_within_leeway_is_accepted(settings: Settings) -> None:
    now = datetime.now(UTC)
    token = signed(settings, iat=now - timedelta(minutes=1), exp=now - timedelta(seconds=2))

    assert verify_token(settings, token).actor.user_id == "client-1"


def test_not_yet_valid_token(settings: Settings) -> None:
    future = datetime.now(UTC) + timedelta(minutes=10)
    token = signed(settings, nbf=future, exp=future + timedelta(minutes=5))

    error = rejection(settings, token)

    assert "not yet valid" in error.message


def test_issued_in_future_token(settings: Settings) -> None:
    future = datetime.now(UTC) + timedelta(minutes=10)
    token = signed(settings, iat=future, nbf=None, exp=future + timedelta(minutes=5))

    error = rejection(settings, token)

    assert "not yet valid" in error.message


def test_wrong_audience(settings: Settings) -> None:
    error = rejection(settings, signed(settings, aud="another-api"))

    assert "audience" in error.message
    assert error.details == {"expected": settings.jwt_audience}


def test_wrong_issuer(settings: Settings) -> None:
    error = rejection(settings, signed(settings, iss="someone-else"))

    assert "issuer" in error.message
    assert error.details == {"expected": settings.jwt_issuer}


def test_wrong_key(settings: Settings) -> None:
    forged = Settings(jwt_secret="another-secret-0123456789-0123456789-xyz")

    error = rejection(settings, mint_token(forged, "client-1", Role.CLIENT))

    assert error.message == "token signature is invalid"


def test_alg_none_is_rejected(settings: Settings) -> None:
    token = jwt.encode(
        {
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "sub": "ops-1",
            "role": "ops",
            "iat": datetime.now(UTC),
            "exp": datetime.now(UTC) + timedelta(minutes=5),
        },
        None,
        algorithm="none",
    )

    error = rejection(settings, token)

    assert "'none' is not allowed" in error.message
    assert error.details == {"algorithm": "none"}


def test_other_algorithm_is_rejected(settings: Settings) -> None:
    token = jwt.encode(
        {"sub": "ops-1", "role": "ops", "exp": datetime.now(UTC) + timedelta(minutes=5)},
        # HS512 wants a 64-byte key; the verifier rejects the algorithm before the key.
        "k" * 64,
        algorithm="HS512",
    )

    error = rejection(settings, token)

    assert "'HS512' is not allowed" in error.message


def test_alg_none_header_on_signed_token_is_rejected(settings: Settings) -> None:
    # The claims and signature of a valid token, behind a header that claims no signature.
    valid = mint_token(settings, "ops-1", Role.OPS)
    _, payload, signature = valid.split(".")
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    token = ".".join([header.decode().rstrip("="), payload, signature])

    error = rejection(settings, token)

    assert "'none' is not allowed" in error.message


@pytest.mark.parametrize("claim", ["role", "sub", "exp", "iat", "iss", "aud"])
def test_missing_claim(settings: Settings, claim: str) -> None:
    error = rejection(settings, signed(settings, **{claim: None}))

    assert error.message == f"token is missing the {claim!r} claim"
    assert error.details == {"claim": claim}


def test_unknown_role(settings: Settings) -> None:
    error = rejection(settings, signed(settings, role="admin"))

    assert "invalid 'role' claim" in error.message


def test_act_as_on_user_token_is_rejected(settings: Settings) -> None:
    token = signed(settings, act_as={"sub": "client-2", "role": "client"})

    error = rejection(settings, token)

    assert "only a service token" in error.message


def test_act_as_without_role_is_rejected(settings: Settings) -> None:
    token = signed(settings, sub="backend", role="service", act_as={"sub": "client-2"})

    error = rejection(settings, token)

    assert error.message == "token 'act_as' claim is missing the 'role' claim"


def test_act_as_for_a_service_is_rejected(settings: Settings) -> None:
    token = signed(settings, sub="backend", role="service", act_as={"sub": "b", "role": "service"})

    error = rejection(settings, token)

    assert "not a service" in error.message


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x.y.z"])
def test_malformed_token(settings: Settings, garbage: str) -> None:
    error = rejection(settings, garbage)

    assert error.message.startswith("token is malformed")
