"""Minting and verifying bearer tokens (HS256, and RS256 or ES256 with keys from a JWKS),
including the forgeries a verifier must reject, and the `missions token` command."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from typer.testing import CliRunner

from missions.cli import app as cli_app
from missions.contracts import Actor, Role
from missions.errors import Unauthenticated, Unavailable
from missions.settings import Settings, get_settings
from missions.tokens import TokenVerifier, mint_token, verify_token

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


# Public-key tokens, with keys from a JWKS file or URL.


@dataclass(frozen=True)
class KeyPair:
    kid: str
    algorithm: str
    private_key: Any
    jwk: dict[str, Any]


def rsa_key(kid: str) -> KeyPair:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    return KeyPair(kid, "RS256", private_key, {**jwk, "kid": kid, "alg": "RS256", "use": "sig"})


def ec_key(kid: str) -> KeyPair:
    private_key = ec.generate_private_key(ec.SECP256R1())
    jwk = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    return KeyPair(kid, "ES256", private_key, {**jwk, "kid": kid, "alg": "ES256", "use": "sig"})


def write_jwks(path: Path, *keys: KeyPair) -> Path:
    path.write_text(json.dumps({"keys": [key.jwk for key in keys]}))
    return path


def signed_with(
    settings: Settings, key: KeyPair, *, kid: str | None = "same", **overrides: Any
) -> str:
    """Sign valid claims with `key`, except for `overrides`; a None value drops the claim."""
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
    headers: dict[str, str] = {}
    if kid == "same":
        headers["kid"] = key.kid
    elif kid is not None:
        headers["kid"] = kid
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers=headers)


@pytest.fixture(scope="module")
def rsa_pair() -> KeyPair:
    return rsa_key("rsa-1")


@pytest.fixture(scope="module")
def ec_pair() -> KeyPair:
    return ec_key("ec-1")


@pytest.fixture
def jwks_settings(tmp_path: Path, rsa_pair: KeyPair, ec_pair: KeyPair) -> Settings:
    return Settings(
        jwt_secret=SECRET,
        jwt_algorithms=["RS256", "ES256"],
        jwt_jwks_path=write_jwks(tmp_path / "jwks.json", rsa_pair, ec_pair),
        jwt_leeway=timedelta(seconds=5),
    )


@pytest.mark.parametrize("pair", ["rsa_pair", "ec_pair"])
def test_public_key_token_from_jwks_file(
    jwks_settings: Settings, pair: str, request: pytest.FixtureRequest
) -> None:
    key: KeyPair = request.getfixturevalue(pair)

    verified = verify_token(jwks_settings, signed_with(jwks_settings, key))

    assert verified.actor == Actor(user_id="client-1", role=Role.CLIENT)


def test_public_key_token_without_kid_needs_single_key(tmp_path: Path, rsa_pair: KeyPair) -> None:
    single = Settings(
        jwt_algorithms=["RS256"], jwt_jwks_path=write_jwks(tmp_path / "one.json", rsa_pair)
    )

    verified = verify_token(single, signed_with(single, rsa_pair, kid=None))

    assert verified.actor.user_id == "client-1"


def test_missing_kid_with_several_keys(jwks_settings: Settings, rsa_pair: KeyPair) -> None:
    error = rejection(jwks_settings, signed_with(jwks_settings, rsa_pair, kid=None))

    assert error.message == (
        "token has no 'kid' header and the JWKS contains 2 keys; name the signing key in 'kid'"
    )


def test_unknown_kid(jwks_settings: Settings, rsa_pair: KeyPair) -> None:
    error = rejection(jwks_settings, signed_with(jwks_settings, rsa_pair, kid="rsa-9"))

    assert error.message == "token key id 'rsa-9' is not in the JWKS; sign with a published key"


@pytest.mark.parametrize("make_key", [rsa_key, ec_key], ids=["RS256", "ES256"])
def test_public_key_wrong_key(jwks_settings: Settings, make_key: Any) -> None:
    # Another private key that claims the published key id.
    impostor = make_key("rsa-1" if make_key is rsa_key else "ec-1")

    error = rejection(jwks_settings, signed_with(jwks_settings, impostor))

    assert error.message == "token signature is invalid"


def test_algorithm_differs_from_key(jwks_settings: Settings, ec_pair: KeyPair) -> None:
    # Signed with ES256 but naming the RSA key: the key's algorithm decides, not the header.
    token = signed_with(jwks_settings, ec_pair, kid="rsa-1")

    error = rejection(jwks_settings, token)

    assert error.message.startswith("token algorithm is not allowed")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"exp": datetime.now(UTC) - timedelta(minutes=1)}, "token expired; request a new one"),
        (
            {"nbf": datetime.now(UTC) + timedelta(minutes=10)},
            "token is not yet valid: The token is not yet valid (nbf)",
        ),
        ({"aud": "another-api"}, "token audience is wrong; expected 'missions-api'"),
        ({"iss": "another-issuer"}, "token issuer is wrong; expected 'missions'"),
        ({"sub": None}, "token is missing the 'sub' claim"),
        ({"role": None}, "token is missing the 'role' claim"),
        ({"exp": None}, "token is missing the 'exp' claim"),
    ],
    ids=["expired", "not-yet-valid", "audience", "issuer", "no-sub", "no-role", "no-exp"],
)
@pytest.mark.parametrize("pair", ["rsa_pair", "ec_pair"])
def test_public_key_claim_checks(
    jwks_settings: Settings,
    pair: str,
    overrides: dict[str, Any],
    message: str,
    request: pytest.FixtureRequest,
) -> None:
    key: KeyPair = request.getfixturevalue(pair)

    error = rejection(jwks_settings, signed_with(jwks_settings, key, **overrides))

    assert error.message == message


def test_hs256_rejected_when_only_public_keys_allowed(jwks_settings: Settings) -> None:
    error = rejection(jwks_settings, signed(jwks_settings))

    assert error.message == (
        "token algorithm 'HS256' is not allowed; tokens must be signed with RS256, ES256"
    )
    assert error.details == {"algorithm": "HS256"}


def test_alg_none_rejected_with_public_keys(jwks_settings: Settings) -> None:
    token = jwt.encode({"sub": "ops-1", "role": "ops"}, None, algorithm="none")

    error = rejection(jwks_settings, token)

    assert error.details == {"algorithm": "none"}


def test_lifetime_over_maximum(settings: Settings) -> None:
    now = datetime.now(UTC)
    token = signed(settings, iat=now, exp=now + timedelta(days=2))

    error = rejection(settings, token)

    assert error.message == (
        "token lifetime of 172800 s exceeds the maximum of 86400 s; request a shorter-lived token"
    )


def test_absurd_expiry_is_401(settings: Settings) -> None:
    token = signed(settings, exp=10**12)

    error = rejection(settings, token)

    assert error.details == {"claim": "exp"}


def test_mint_refuses_when_hs256_not_accepted(jwks_settings: Settings) -> None:
    with pytest.raises(ValueError, match="the API accepts only RS256, ES256 tokens"):
        mint_token(jwks_settings, "client-1", Role.CLIENT)


def test_public_key_algorithm_needs_jwks() -> None:
    with pytest.raises(ValueError, match="set MISSIONS_JWT_JWKS_PATH or MISSIONS_JWT_JWKS_URL"):
        Settings(jwt_algorithms=["RS256"])


def test_unknown_algorithm_setting() -> None:
    with pytest.raises(ValueError, match="MISSIONS_JWT_ALGORITHMS has unsupported none"):
        Settings(jwt_algorithms=["none"])


class JwksServer:
    """Serves a JWKS document on a loopback port, counting the fetches."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                body = json.dumps(server.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join(timeout=5)


def test_public_key_token_from_jwks_url(rsa_pair: KeyPair, ec_pair: KeyPair) -> None:
    with JwksServer({"keys": [rsa_pair.jwk]}) as server:
        settings = Settings(jwt_algorithms=["RS256", "ES256"], jwt_jwks_url=server.url)
        verifier = TokenVerifier(settings)

        first = verifier.verify(signed_with(settings, rsa_pair))
        second = verifier.verify(signed_with(settings, rsa_pair))
        fetches_before_rotation = server.fetches
        # The issuer publishes a new key; a token naming it makes the verifier fetch again.
        server.document = {"keys": [rsa_pair.jwk, ec_pair.jwk]}
        rotated = verifier.verify(signed_with(settings, ec_pair))

    assert verifier.fetches_keys is True
    assert first.actor == second.actor == rotated.actor
    assert fetches_before_rotation == 1
    assert server.fetches == 2


def test_unreachable_jwks_url_is_unavailable(rsa_pair: KeyPair) -> None:
    with JwksServer({"keys": []}) as server:
        url = server.url
    settings = Settings(jwt_algorithms=["RS256"], jwt_jwks_url=url)

    with pytest.raises(Unavailable) as caught:
        verify_token(settings, signed_with(settings, rsa_pair))

    assert caught.value.status == 503
    assert caught.value.message.startswith(f"fetching the JWKS at {url} failed")


# The `missions token` command.


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """Make `get_settings` read the environment the command is invoked with."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("fresh_settings")
def test_token_command_mints_verifiable_token(settings: Settings) -> None:
    env = {"MISSIONS_JWT_SECRET": SECRET}

    result = CliRunner().invoke(
        cli_app, ["token", "--user", "prov-9", "--role", "provider", "--ttl", "120"], env=env
    )

    assert result.exit_code == 0, result.output
    verified = verify_token(settings, result.output.strip())
    assert verified.actor == Actor(user_id="prov-9", role=Role.PROVIDER)
    assert verified.expires_at - verified.issued_at == timedelta(seconds=120)


@pytest.mark.usefixtures("fresh_settings")
def test_token_command_acting_for_user(settings: Settings) -> None:
    arguments = ["token", "--user", "backend", "--role", "service"]
    arguments += ["--act-as-user", "client-4", "--act-as-role", "client"]

    result = CliRunner().invoke(cli_app, arguments, env={"MISSIONS_JWT_SECRET": SECRET})

    assert result.exit_code == 0, result.output
    verified = verify_token(settings, result.output.strip())
    assert verified.subject == Actor(user_id="backend", role=Role.SERVICE)
    assert verified.actor == Actor(user_id="client-4", role=Role.CLIENT)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--user", "u", "--role", "admin"], "--role 'admin' is not a role"),
        (["--user", "u", "--role", "client", "--ttl", "0"], "token ttl must be positive"),
        (
            ["--user", "u", "--role", "service", "--act-as-user", "c"],
            "give both --act-as-user and --act-as-role, or neither",
        ),
        (
            ["--user", "u", "--role", "client", "--act-as-user", "c", "--act-as-role", "client"],
            "only a service token may carry 'act_as'",
        ),
    ],
    ids=["unknown-role", "zero-ttl", "half-act-as", "act-as-on-client"],
)
@pytest.mark.usefixtures("fresh_settings")
def test_token_command_rejects(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(
        cli_app, ["token", *arguments], env={"MISSIONS_JWT_SECRET": SECRET, "COLUMNS": "200"}
    )

    assert result.exit_code == 2
    assert message in result.output
