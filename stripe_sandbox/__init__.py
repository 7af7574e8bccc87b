"""A local Stripe-compatible HTTP server for development and tests.

Point the real SDK at it with
`stripe.StripeClient(api_key, base_addresses={"api": "http://127.0.0.1:PORT"})`.
It implements part of the v1 API: PaymentIntents (create, retrieve, update, confirm,
cancel, list, search), Charges (retrieve, list), Disputes (retrieve, list),
PaymentMethods (retrieve), Refunds, connected Accounts, Transfers and reversals,
Balance and balance transactions, and Events. Every POST honours `Idempotency-Key`,
and each event is signed and POSTed to the configured webhook URL. Unknown parameters
and URLs are rejected, so code cannot rely on something the sandbox silently ignores.

Sandbox-only conventions:

- Test PaymentMethods `pm_card_visa`, `pm_card_mastercard` and `pm_card_amex` succeed.
  `pm_card_chargeDeclined` is declined with `card_declined`/`generic_decline`, and
  `pm_card_chargeDeclinedInsufficientFunds` with `card_declined`/`insufficient_funds`.
  `pm_card_chargeDeclinedExpiredCard` fails with `expired_card`, and
  `pm_card_chargeDeclinedProcessingError` with `processing_error`.
- `pm_card_createDispute` succeeds, then its charge is disputed as fraudulent after
  `SandboxConfig.dispute_after_seconds` (default 0): a `needs_response` Dispute, the
  disputed amount withdrawn from the balance, and `charge.dispute.created`; see
  `disputes`.
- An account created or updated with metadata `sandbox_payouts=disabled` cannot receive
  transfers (400 `insufficient_capabilities_for_transfer`); see `connect`.
- Charges stay pending for `SandboxConfig.available_after_seconds` (default 0), then
  become available. Fees are 0, and refunds of undisputed charges always succeed at
  once.
- For chaos tests, `SandboxConfig.faults` and the admin route `/_sandbox/faults` make
  chosen requests fail. A fault is a 500, a 429, a reset connection, or a reset after
  the request committed; see `faults` and `admin`. The route takes the same API key.
- Cards are the only payment method type. As on Stripe from API version 2026-09-30,
  PaymentIntents reject `payment_method_types`; use `allowed_payment_method_types` or
  automatic payment methods. Requests with an older Stripe-Version header may still
  send it.

Run it with `python -m stripe_sandbox --api-key sk_test_... [--port 12111]`, or in-process
with `uvicorn.Server(uvicorn.Config(create_app(config), ...))`.
"""

from .app import create_app
from .config import SandboxConfig
from .faults import FaultKind, FaultPlan, FaultRule

__all__ = ["FaultKind", "FaultPlan", "FaultRule", "SandboxConfig", "create_app"]
