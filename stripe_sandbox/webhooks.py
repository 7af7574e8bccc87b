"""Signed webhook delivery in the background, with bounded retries.

Each event is POSTed as JSON with a `Stripe-Signature: t=<unix>,v1=<hex>` header, where
the hex is HMAC-SHA256 of `"<t>.<body>"` keyed with the webhook secret: the scheme that
`stripe.Webhook.construct_event` verifies. Several workers deliver at once, so events can
arrive out of creation order, as they can from Stripe.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from .config import SandboxConfig

logger = logging.getLogger(__name__)

USER_AGENT = "stripe-sandbox-webhooks/1.0"


def signature_header(payload: str, secret: str, timestamp: int) -> str:
    """Return the Stripe-Signature header value for `payload` signed at `timestamp`."""
    signed = f"{timestamp}.{payload}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class Delivery:
    event_id: str
    event_type: str
    payload: str


# Called once per event with whether any attempt got a 2xx response.
DeliveryCallback = Callable[[str, bool], None]


class WebhookDispatcher:
    """A queue of events and the asyncio workers that deliver them.

    `enqueue` works from any thread and before `start`: deliveries queued early wait in a
    backlog until the workers run in the server's event loop.
    """

    def __init__(self, config: SandboxConfig, on_finished: DeliveryCallback) -> None:
        if config.webhook_url is None or config.webhook_secret is None:
            raise ValueError("WebhookDispatcher needs webhook_url and webhook_secret")
        self._url = config.webhook_url
        self._secret = config.webhook_secret.get_secret_value()
        self._config = config
        self._on_finished = on_finished
        self._backlog: list[Delivery] = []
        self._backlog_lock = threading.Lock()
        self._queue: asyncio.Queue[Delivery] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None

    def enqueue(self, delivery: Delivery) -> None:
        with self._backlog_lock:
            if self._queue is None or self._loop is None:
                self._backlog.append(delivery)
                return
            queue, loop = self._queue, self._loop
        if _running_loop() is loop:
            queue.put_nowait(delivery)
        else:
            loop.call_soon_threadsafe(queue.put_nowait, delivery)

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self._config.webhook_timeout_seconds)
        queue: asyncio.Queue[Delivery] = asyncio.Queue()
        with self._backlog_lock:
            self._loop = asyncio.get_running_loop()
            self._queue = queue
            backlog, self._backlog = self._backlog, []
        for delivery in backlog:
            queue.put_nowait(delivery)
        self._workers = [
            asyncio.create_task(self._work(queue), name=f"webhook-worker-{number}")
            for number in range(self._config.webhook_workers)
        ]
        logger.info(
            "Webhook delivery started: url=%s workers=%d backlog=%d",
            self._url,
            len(self._workers),
            len(backlog),
        )

    async def stop(self) -> None:
        with self._backlog_lock:
            queue, self._queue, self._loop = self._queue, None, None
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        if queue is not None and queue.qsize():
            logger.warning(
                "Webhook delivery stopped with %d events still queued; they keep "
                "pending_webhooks=1 and, with a state file, are sent on the next start",
                queue.qsize(),
            )
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _work(self, queue: asyncio.Queue[Delivery]) -> None:
        while True:
            delivery = await queue.get()
            try:
                delivered = await self._deliver(delivery)
                self._on_finished(delivery.event_id, delivered)
            except Exception:
                logger.exception("Webhook worker failed on event %s", delivery.event_id)
            finally:
                queue.task_done()

    async def _deliver(self, delivery: Delivery) -> bool:
        assert self._client is not None
        attempts = self._config.webhook_max_attempts
        for attempt in range(1, attempts + 1):
            # Signed with the wall clock, never the sandbox clock, because receivers
            # check the timestamp against their own time (300 s tolerance by default).
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": signature_header(delivery.payload, self._secret, timestamp),
                "User-Agent": USER_AGENT,
            }
            try:
                response = await self._client.post(
                    self._url, content=delivery.payload.encode(), headers=headers
                )
            except httpx.HTTPError as error:
                outcome = f"{type(error).__name__}: {error}"
            else:
                if 200 <= response.status_code < 300:
                    logger.info(
                        "Delivered event %s (%s) on attempt %d",
                        delivery.event_id,
                        delivery.event_type,
                        attempt,
                    )
                    return True
                outcome = f"HTTP {response.status_code}"

            if attempt == attempts:
                break
            delay = min(
                self._config.webhook_retry_initial_seconds * 2 ** (attempt - 1),
                self._config.webhook_retry_max_seconds,
            )
            logger.warning(
                "Webhook delivery of event %s (%s) failed on attempt %d of %d (%s); "
                "retrying in %.2f s",
                delivery.event_id,
                delivery.event_type,
                attempt,
                attempts,
                outcome,
                delay,
            )
            await asyncio.sleep(delay)

        logger.error(
            "Gave up delivering event %s (%s) to %s after %d attempts; last outcome: %s",
            delivery.event_id,
            delivery.event_type,
            self._url,
            attempts,
            outcome,
        )
        return False


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
