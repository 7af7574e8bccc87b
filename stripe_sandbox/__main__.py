"""Command line entry point: `python -m stripe_sandbox --api-key sk_test_... [options]`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from .app import create_app
from .config import SandboxConfig
from .faults import FaultPlan

logger = logging.getLogger("stripe_sandbox")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m stripe_sandbox",
        description="Run a local Stripe-compatible API server for development and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
    parser.add_argument("--port", type=int, default=12111, help="TCP port to listen on.")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("STRIPE_SANDBOX_API_KEY"),
        help="Secret key that clients must send (default: $STRIPE_SANDBOX_API_KEY).",
    )
    parser.add_argument(
        "--webhook-url", help="URL that receives every event as a signed POST; off if unset."
    )
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("STRIPE_SANDBOX_WEBHOOK_SECRET"),
        help="whsec_... secret that signs webhooks (default: $STRIPE_SANDBOX_WEBHOOK_SECRET).",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        help="JSON file to load at start and rewrite after each write; in memory if unset.",
    )
    parser.add_argument(
        "--available-after-seconds",
        type=int,
        default=0,
        help="Seconds before charged funds move from pending to available (default: 0).",
    )
    parser.add_argument(
        "--idempotency-ttl-seconds",
        type=int,
        default=24 * 3600,
        help="Seconds an Idempotency-Key is remembered before the same key creates a new "
        "object (default: 86400, as on Stripe).",
    )
    parser.add_argument(
        "--dispute-after-seconds",
        type=int,
        default=0,
        help="Seconds after a pm_card_createDispute payment before its dispute opens (default: 0).",
    )
    parser.add_argument(
        "--fault-plan",
        type=Path,
        help="JSON file with a fault plan such as "
        '{"rules": [{"path": "/v1/transfers", "kind": "http_500", "every": 3}]}; '
        "none if unset. /_sandbox/faults changes it at runtime.",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="Log level of the sandbox and uvicorn (default: info).",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not args.api_key:
        logger.error("Missing API key: pass --api-key or set STRIPE_SANDBOX_API_KEY")
        return 2
    try:
        faults = FaultPlan()
        if args.fault_plan is not None:
            faults = FaultPlan.model_validate_json(args.fault_plan.read_bytes())
        config = SandboxConfig(
            host=args.host,
            port=args.port,
            api_key=args.api_key,
            webhook_url=args.webhook_url,
            webhook_secret=args.webhook_secret,
            state_file=args.state_file,
            available_after_seconds=args.available_after_seconds,
            idempotency_ttl_seconds=args.idempotency_ttl_seconds,
            dispute_after_seconds=args.dispute_after_seconds,
            faults=faults,
        )
    except OSError as error:
        logger.error("Cannot read the fault plan %s: %s", args.fault_plan, error)
        return 2
    except ValidationError as error:
        # Without the inputs, because pydantic would echo the API key and secret.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'settings'}: {item['msg']}"
            for item in error.errors(include_input=False, include_url=False)
        )
        logger.error("Invalid sandbox settings: %s", problems)
        return 2
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
