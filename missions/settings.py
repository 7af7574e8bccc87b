"""One validated settings object, read from `MISSIONS_*` environment variables."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MISSIONS_", env_nested_delimiter="__")

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path(".missions")
    database_url: str = ""

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "missions"

    stripe_api_key: str = DEV_STRIPE_API_KEY
    # Empty means Stripe's own API; the local stack points this at its sandbox.
    stripe_api_base: str = ""
    stripe_webhook_secret: str = DEV_STRIPE_WEBHOOK_SECRET
    stripe_webhook_tolerance: timedelta = timedelta(minutes=5)

    jwt_secret: str = DEV_JWT_SECRET
    jwt_issuer: str = "missions"
    jwt_audience: str = "missions-api"
    jwt_leeway: timedelta = timedelta(seconds=30)

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

    @property
    def effective_database_url(self) -> str:
        """Return the configured database, or a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'missions.sqlite3').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
