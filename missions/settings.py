"""One validated settings object, read from `MISSIONS_*` environment variables."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from missions.contracts import Durations
from missions.money import CancellationPolicy, FeePolicy

# Development defaults that must never reach production: the settings reject them there.
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789"
DEV_STRIPE_API_KEY = "sk_test_missions_local_sandbox"
DEV_STRIPE_WEBHOOK_SECRET = "whsec_missions_local_sandbox"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


# Algorithms the API can verify: HMAC with `jwt_secret`, or a public key from a JWKS.
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
PUBLIC_KEY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class RateLimit(BaseModel):
    """A token bucket: `burst` requests at once, refilled at `requests_per_second`."""

    model_config = ConfigDict(frozen=True)

    requests_per_second: float = Field(gt=0, allow_inf_nan=False)
    burst: int = Field(ge=1)


class RateLimits(BaseModel):
    """Request rates allowed per verified user and per client address."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = True
    per_user: RateLimit = RateLimit(requests_per_second=20, burst=200)
    per_address: RateLimit = RateLimit(requests_per_second=100, burst=1000)


class LogFormat(StrEnum):
    TEXT = "text"
    # One JSON object per line, for log collectors.
    JSON = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MISSIONS_", env_nested_delimiter="__")

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path(".missions")
    database_url: str = ""

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "missions"

    # Temporal Cloud or a self-hosted cluster behind TLS. TLS is on when `temporal_tls` is
    # true or any of the three paths is set; an empty path means unset.
    temporal_tls: bool = False
    temporal_tls_client_cert: Path | None = None
    temporal_tls_client_key: Path | None = None
    # CA bundle that signed the server's certificate; the system roots when unset.
    temporal_tls_server_ca: Path | None = None
    # Host name to verify on the server's certificate when it differs from the address.
    temporal_tls_server_name: str = ""
    # Temporal Cloud API key, sent as a bearer token; needs TLS.
    temporal_api_key: SecretStr | None = None
    # History retention of the namespace that `missions setup` registers when it is missing.
    temporal_namespace_retention: timedelta = timedelta(days=30)

    # Logs: `text` for people, `json` for one JSON object per line.
    log_format: LogFormat = LogFormat.TEXT
    # Prometheus endpoint of the Temporal SDK in the worker and API processes; port 0 is off.
    temporal_metrics_host: str = "127.0.0.1"
    temporal_metrics_port: int = Field(default=0, ge=0, le=65535)
    # Max open missions the worker keeps in memory, and 0 turns the cache off. An evicted
    # mission replays its history on its next task (figures at `build_worker` in workers/main.py).
    worker_max_cached_workflows: int = Field(default=1000, ge=0)
    # The API's read-model metrics query the database at most once per interval.
    read_model_metrics_interval: timedelta = timedelta(seconds=30)

    stripe_api_key: str = DEV_STRIPE_API_KEY
    # Empty means Stripe's own API; the local stack points this at its sandbox.
    stripe_api_base: str = ""
    stripe_webhook_secret: str = DEV_STRIPE_WEBHOOK_SECRET
    stripe_webhook_tolerance: timedelta = timedelta(minutes=5)

    jwt_secret: str = DEV_JWT_SECRET
    jwt_issuer: str = "missions"
    jwt_audience: str = "missions-api"
    jwt_leeway: timedelta = timedelta(seconds=30)
    # HS* algorithms verify with `jwt_secret`; the others need a JWKS file or URL.
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["HS256"], min_length=1)
    jwt_jwks_path: Path | None = None
    jwt_jwks_url: str = ""
    # How long keys fetched from `jwt_jwks_url` are reused before they are fetched again.
    jwt_jwks_cache: timedelta = timedelta(minutes=5)
    # Lifetime of the tokens that `missions token` mints.
    jwt_default_ttl: timedelta = timedelta(hours=1)
    # Tokens whose `exp` is further than this after their `iat` are rejected.
    jwt_max_lifetime: timedelta = timedelta(hours=24)

    # Request bodies larger than this are rejected with 413 before they are parsed.
    max_body_bytes: int = Field(default=64 * 1024, ge=1)
    rate_limits: RateLimits = RateLimits()
    # Responses kept for replay to a request with the same `Idempotency-Key`.
    idempotency_ttl: timedelta = timedelta(hours=24)
    idempotency_max_keys: int = Field(default=10_000, ge=1)

    api_host: str = "127.0.0.1"
    api_port: int = 8000

    durations: Durations = Durations()
    fee_policy: FeePolicy = FeePolicy()
    cancellation_policy: CancellationPolicy = CancellationPolicy()
    # Lets a mission's creator shorten its deadlines; the demo relies on it.
    allow_duration_override: bool = Field(default=False)

    @model_validator(mode="after")
    def _reject_dev_secrets_in_production(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            placeholders = {
                "MISSIONS_JWT_SECRET": self.jwt_secret == DEV_JWT_SECRET,
                "MISSIONS_STRIPE_API_KEY": self.stripe_api_key == DEV_STRIPE_API_KEY,
                "MISSIONS_STRIPE_WEBHOOK_SECRET": (
                    self.stripe_webhook_secret == DEV_STRIPE_WEBHOOK_SECRET
                ),
            }
            unset = [name for name, is_placeholder in placeholders.items() if is_placeholder]
            if unset:
                raise ValueError(
                    f"{', '.join(unset)} still hold the development default; "
                    "set real secrets before running with MISSIONS_ENVIRONMENT=production"
                )
            if self.allow_duration_override:
                raise ValueError("MISSIONS_ALLOW_DURATION_OVERRIDE must be false in production")
        return self

    @model_validator(mode="after")
    def _check_token_settings(self) -> Settings:
        supported = HMAC_ALGORITHMS | PUBLIC_KEY_ALGORITHMS
        unknown = [name for name in self.jwt_algorithms if name not in supported]
        if unknown:
            raise ValueError(
                f"MISSIONS_JWT_ALGORITHMS has unsupported {', '.join(unknown)}; "
                f"use some of: {', '.join(sorted(supported))}"
            )
        public_key = [name for name in self.jwt_algorithms if name in PUBLIC_KEY_ALGORITHMS]
        if public_key and self.jwt_jwks_path is None and not self.jwt_jwks_url:
            raise ValueError(
                f"MISSIONS_JWT_ALGORITHMS lists {', '.join(public_key)}, which need public "
                "keys; set MISSIONS_JWT_JWKS_PATH or MISSIONS_JWT_JWKS_URL"
            )
        if self.jwt_jwks_url and not self.jwt_jwks_url.startswith(("https://", "http://")):
            raise ValueError(f"MISSIONS_JWT_JWKS_URL {self.jwt_jwks_url!r} is not an http(s) URL")
        return self

    @field_validator(
        "temporal_tls_client_cert",
        "temporal_tls_client_key",
        "temporal_tls_server_ca",
        "temporal_api_key",
        mode="before",
    )
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _check_temporal_connection(self) -> Settings:
        cert, key = self.temporal_tls_client_cert, self.temporal_tls_client_key
        if (cert is None) != (key is None):
            raise ValueError(
                "MISSIONS_TEMPORAL_TLS_CLIENT_CERT and MISSIONS_TEMPORAL_TLS_CLIENT_KEY must be "
                "set together; set both for mTLS or neither"
            )
        if self.temporal_api_key is not None and not self.temporal_tls_enabled:
            raise ValueError(
                "MISSIONS_TEMPORAL_API_KEY is set but TLS is off; set MISSIONS_TEMPORAL_TLS=true "
                "so that the key is never sent in clear text"
            )
        return self

    @property
    def temporal_tls_enabled(self) -> bool:
        """Return whether the Temporal connection uses TLS."""
        return self.temporal_tls or any(
            path is not None
            for path in (
                self.temporal_tls_client_cert,
                self.temporal_tls_client_key,
                self.temporal_tls_server_ca,
            )
        )

    @property
    def effective_database_url(self) -> str:
        """Return the configured database, or a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'missions.sqlite3').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
