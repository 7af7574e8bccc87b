"""The ASGI application: routing, authentication, request decoding and responses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import balance, charges, connect, disputes, events, payments, refunds, transfers
from .admin import add_admin_routes
from .auth import authenticate
from .config import SandboxConfig
from .context import ApiRequest, Clock, Handler, SandboxContext
from .errors import API_ERROR, StripeAPIError, invalid_request
from .events import request_scope
from .expand import expand
from .fault_middleware import FaultMiddleware
from .faults import FaultInjector
from .forms import Params, decode_form
from .idempotency import IdempotencyManager
from .responses import add_headers, error_response, json_response
from .store import new_id

logger = logging.getLogger(__name__)

# Specific paths come before the `{id}` paths that would otherwise match them.
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/v1/balance", balance.retrieve_balance),
    ("GET", "/v1/balance_transactions", balance.list_balance_transactions),
    ("GET", "/v1/balance_transactions/{id}", balance.retrieve_balance_transaction),
    ("POST", "/v1/payment_intents", payments.create_payment_intent),
    ("GET", "/v1/payment_intents", payments.list_payment_intents),
    ("GET", "/v1/payment_intents/search", payments.search_payment_intents),
    ("GET", "/v1/payment_intents/{intent}", payments.retrieve_payment_intent),
    ("POST", "/v1/payment_intents/{intent}", payments.update_payment_intent),
    ("POST", "/v1/payment_intents/{intent}/confirm", payments.confirm_payment_intent),
    ("POST", "/v1/payment_intents/{intent}/cancel", payments.cancel_payment_intent),
    ("GET", "/v1/payment_methods/{id}", charges.retrieve_payment_method),
    ("GET", "/v1/charges", charges.list_charges),
    ("GET", "/v1/charges/{charge}", charges.retrieve_charge),
    ("GET", "/v1/disputes", disputes.list_disputes),
    ("GET", "/v1/disputes/{dispute}", disputes.retrieve_dispute),
    ("POST", "/v1/refunds", refunds.create_refund),
    ("GET", "/v1/refunds", refunds.list_refunds),
    ("GET", "/v1/refunds/{refund}", refunds.retrieve_refund),
    ("POST", "/v1/refunds/{refund}", refunds.update_refund),
    ("POST", "/v1/accounts", connect.create_account),
    ("GET", "/v1/accounts", connect.list_accounts),
    ("GET", "/v1/accounts/{account}", connect.retrieve_account),
    ("POST", "/v1/accounts/{account}", connect.update_account),
    ("POST", "/v1/transfers", transfers.create_transfer),
    ("GET", "/v1/transfers", transfers.list_transfers),
    ("GET", "/v1/transfers/{transfer}", transfers.retrieve_transfer),
    ("POST", "/v1/transfers/{transfer}", transfers.update_transfer),
    ("POST", "/v1/transfers/{id}/reversals", transfers.create_reversal),
    ("GET", "/v1/transfers/{id}/reversals", transfers.list_reversals),
    ("GET", "/v1/transfers/{transfer}/reversals/{id}", transfers.retrieve_reversal),
    ("GET", "/v1/events", events.list_events),
    ("GET", "/v1/events/{id}", events.retrieve_event),
]


def create_app(config: SandboxConfig, clock: Clock | None = None) -> FastAPI:
    """Build the sandbox application; `clock` (Unix seconds) defaults to the wall clock.

    The context is available as `app.state.sandbox`, and the fault injector as
    `app.state.faults`, for tests and tooling.
    """
    ctx = SandboxContext(config, clock)
    idempotency = IdempotencyManager(ctx)
    injector = FaultInjector(config.faults)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logger.info(
            "Stripe sandbox starting: webhooks=%s state_file=%s available_after_seconds=%d "
            "dispute_after_seconds=%d fault_rules=%d",
            config.webhook_url or "off",
            config.state_file or "none",
            config.available_after_seconds,
            config.dispute_after_seconds,
            len(config.faults.rules),
        )
        if ctx.dispatcher is not None:
            pending = ctx.events.pending_deliveries()
            await ctx.dispatcher.start()
            for delivery in pending:
                ctx.dispatcher.enqueue(delivery)
        # Without a delay, disputes open right after the request that paid.
        opener = (
            asyncio.create_task(_open_disputes_periodically(ctx), name="dispute-opener")
            if config.dispute_after_seconds
            else None
        )
        try:
            yield
        finally:
            if opener is not None:
                opener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await opener
            if ctx.dispatcher is not None:
                await ctx.dispatcher.stop()
            ctx.store.save()
            logger.info("Stripe sandbox stopped")

    app = FastAPI(
        title="Stripe sandbox", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.sandbox = ctx
    app.state.faults = injector
    app.add_middleware(FaultMiddleware, injector=injector, config=config)
    add_admin_routes(app, config, injector)

    for method, path, handler in ROUTES:
        app.add_api_route(
            path, _make_endpoint(ctx, idempotency, handler), methods=[method], name=handler.__name__
        )

    @app.exception_handler(StarletteHTTPException)
    async def unknown_route(request: Request, error: StarletteHTTPException) -> Response:
        # Stripe reports unknown URLs and wrong methods alike, with a 404.
        message = (
            f"Unrecognized request URL ({request.method}: {request.url.path}). The sandbox "
            "implements only part of Stripe's API; see the stripe_sandbox package docs."
        )
        return error_response(StripeAPIError(404, message), new_id("req", 14))

    return app


# Seconds between checks for disputes whose delay has passed.
DISPUTE_POLL_SECONDS = 0.2


async def _open_disputes_periodically(ctx: SandboxContext) -> None:
    """Open due disputes while no API call does, so their webhooks go out on time."""
    while True:
        await asyncio.sleep(DISPUTE_POLL_SECONDS)
        try:
            with ctx.store.lock:
                if disputes.open_due_disputes(ctx):
                    ctx.store.save()
        except Exception:
            logger.exception(
                "Opening due disputes failed; retrying in %.1f s", DISPUTE_POLL_SECONDS
            )


def _make_endpoint(ctx: SandboxContext, idempotency: IdempotencyManager, handler: Handler) -> Any:
    async def endpoint(request: Request) -> Response:
        request_id = new_id("req", 14)
        try:
            api_key = authenticate(request, ctx.config)
            if request.headers.get("stripe-account"):
                raise invalid_request(
                    "The sandbox does not support the Stripe-Account header; it acts only "
                    "as the platform account."
                )
            api_request = ApiRequest(
                method=request.method,
                path=request.url.path,
                params=Params(await _decode_params(request)),
                path_params=dict(request.path_params),
                request_id=request_id,
                idempotency_key=request.headers.get("idempotency-key"),
                api_version=request.headers.get("stripe-version") or ctx.config.api_version,
            )
            if request.method == "POST" and api_request.idempotency_key:
                return await _run_idempotent(ctx, idempotency, handler, api_request, api_key)
            status, body = _execute(ctx, handler, api_request)
            return json_response(status, body, request_id, api_request.idempotency_key)
        except StripeAPIError as error:
            logger.info(
                "%s %s -> %d %s: %s (request %s)",
                request.method,
                request.url.path,
                error.status,
                error.code or error.error_type,
                error.message,
                request_id,
            )
            return error_response(error, request_id)
        except Exception:
            logger.exception(
                "Unexpected error in %s %s (request %s)",
                request.method,
                request.url.path,
                request_id,
            )
            failure = StripeAPIError(
                500,
                "The sandbox failed unexpectedly; its log has the traceback.",
                error_type=API_ERROR,
            )
            return error_response(failure, request_id)

    return endpoint


async def _run_idempotent(
    ctx: SandboxContext,
    idempotency: IdempotencyManager,
    handler: Handler,
    request: ApiRequest,
    api_key: str,
) -> Response:
    assert request.idempotency_key is not None
    scope = idempotency.scope(api_key, request.idempotency_key)
    fingerprint = idempotency.fingerprint(request.method, request.path, request.params.data)
    async with idempotency.hold(scope):
        record = idempotency.lookup(scope)
        if record is not None:
            idempotency.check_fingerprint(record, fingerprint, request.idempotency_key)
            logger.info(
                "Replaying %s %s for Idempotency-Key %r (original request %s)",
                request.method,
                request.path,
                request.idempotency_key,
                record["request_id"],
            )
            response = Response(
                record["body"], status_code=record["status"], media_type="application/json"
            )
            add_headers(response, request.request_id, request.idempotency_key)
            response.headers["Idempotent-Replayed"] = "true"
            response.headers["Original-Request"] = record["request_id"]
            return response

        remember = {
            "fingerprint": fingerprint,
            "method": request.method,
            "path": request.path,
            "request_id": request.request_id,
        }
        try:
            status, body = _execute(ctx, handler, request)
        except StripeAPIError as error:
            if error.replayable:
                idempotency.remember(
                    scope, status=error.status, body=json.dumps(error.to_body()), **remember
                )
            raise
        idempotency.remember(scope, status=status, body=body, **remember)
        return json_response(status, body, request.request_id, request.idempotency_key)


def _execute(ctx: SandboxContext, handler: Handler, request: ApiRequest) -> tuple[int, str]:
    """Run `handler` atomically under the store lock and return status and JSON body."""
    writes = request.method != "GET"
    with ctx.store.lock:
        balance.settle(ctx)
        opened = disputes.open_due_disputes(ctx)
        try:
            with request_scope(request.request_id, request.idempotency_key):
                result = handler(ctx, request)
                try:
                    expanded = expand(result, request.params.expand(), ctx.store)
                except StripeAPIError as error:
                    # The write already happened, so a retry must get this response again.
                    error.replayable = writes
                    raise
                return 200, json.dumps(expanded)
        finally:
            # After the response body is built and outside the request's scope, because
            # a dispute is the cardholder's doing, not part of the payment request.
            opened += disputes.open_due_disputes(ctx)
            if writes or opened:
                ctx.store.save()


async def _decode_params(request: Request) -> dict[str, Any]:
    pairs = list(request.query_params.multi_items())
    if request.method == "POST":
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        if body and not content_type.startswith("application/x-www-form-urlencoded"):
            raise invalid_request(
                f"Unsupported Content-Type {content_type!r}; the v1 API takes "
                "application/x-www-form-urlencoded bodies."
            )
        try:
            pairs += parse_qsl(body.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            raise invalid_request("The request body is not valid UTF-8.") from None
    return decode_form(pairs)
