"""API key authentication, as Stripe checks the Authorization header."""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.requests import HTTPConnection

from .config import SandboxConfig
from .errors import StripeAPIError


def authenticate(request: HTTPConnection, config: SandboxConfig) -> str:
    """Return the API key of the request, or raise 401 as Stripe does."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    api_key = ""
    if scheme.lower() == "bearer":
        api_key = credentials.strip()
    elif scheme.lower() == "basic":
        # curl -u sk_test_...: sends the key as the Basic user name.
        try:
            api_key = base64.b64decode(credentials).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            api_key = ""
    if not api_key:
        raise StripeAPIError(
            401,
            "No API key provided. Send it as 'Authorization: Bearer <secret key>'.",
        )
    expected = config.api_key.get_secret_value()
    if not hmac.compare_digest(api_key.encode(), expected.encode()):
        raise StripeAPIError(401, f"Invalid API Key provided: {_mask(api_key)}")
    return api_key


def _mask(api_key: str) -> str:
    prefix = "_".join(api_key.split("_")[:2]) + "_" if api_key.count("_") >= 2 else ""
    return prefix + "*" * max(len(api_key) - len(prefix) - 4, 0) + api_key[-4:]
