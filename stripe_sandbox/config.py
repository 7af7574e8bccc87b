"""Settings of one sandbox server."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from .faults import FaultPlan

# API version that stripe-python 16.1 pins. Events carry it in `api_version`.
DEFAULT_API_VERSION = "2026-10-28.endive"


class SandboxConfig(BaseModel):
    """Settings of a sandbox server, shared by the CLI, the tests and the dev stack."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(default="127.0.0.1", description="Address that the CLI listens on.")
    port: int = Field(
        default=12111, ge=0, le=65535, description="TCP port that the CLI listens on."
    )
    api_key: SecretStr = Field(description="Secret key that clients must send as Bearer token.")
    webhook_url: str | None = Field(
        default=None, description="Endpoint that receives every event; None disables delivery."
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="Signing secret (whsec_...) for the Stripe-Signature header."
    )
    state_file: Path | None = Field(
        default=None, description="JSON file that stores all objects across restarts."
    )
    available_after_seconds: int = Field(
        default=0,
        ge=0,
        description="Seconds before a charge's funds move from pending to available balance.",
    )
    dispute_after_seconds: int = Field(
        default=0,
        ge=0,
        description="Seconds after a pm_card_createDispute charge before its dispute opens.",
    )
    faults: FaultPlan = Field(
        default_factory=FaultPlan,
        description="Fault rules installed at start; /_sandbox/faults changes them at runtime.",
    )
    default_currency: str = Field(default="usd", pattern=r"^[a-z]{3}$")
    api_version: str = DEFAULT_API_VERSION
    idempotency_ttl_seconds: int = Field(
        default=24 * 3600,
        gt=0,
        description="Seconds an idempotency key is remembered; Stripe documents 24 hours.",
    )
    idempotency_wait_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Maximum wait for a request holding the same idempotency key before a 409.",
    )
    webhook_max_attempts: int = Field(default=5, ge=1)
    webhook_retry_initial_seconds: float = Field(default=1.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=30.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_workers: int = Field(
        default=4,
        ge=1,
        description="Concurrent deliveries, so one slow event does not hold others.",
    )

    @model_validator(mode="after")
    def _check_webhook_settings(self) -> SandboxConfig:
        if not self.api_key.get_secret_value():
            raise ValueError("api_key must not be empty")
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("webhook_secret is required when webhook_url is set")
        if self.webhook_url and not self.webhook_url.startswith(("http://", "https://")):
            raise ValueError(f"webhook_url must be an http(s) URL, got {self.webhook_url!r}")
        return self
