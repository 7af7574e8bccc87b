"""Metrics and structured logs: the Temporal SDK runtime, the API's HTTP and domain metrics,
and the JSON log format.

Three Prometheus sources exist, so that each number comes from where it is true:

- the Temporal SDK runtime of the worker and of the API's client serves its own endpoint
  (`temporal_*` metrics) on `MISSIONS_TEMPORAL_METRICS_PORT`;
- the API counts its requests by route template and status (`missions_http_*`);
- the API reads domain numbers from the read model (`missions_*`), because workflow code
  must stay deterministic and cannot update process metrics. Those numbers cover every
  mission, whichever process or replica handled it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client import generate_latest as render_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
)

from missions.contracts import MissionState
from missions.db.models import MissionRow, NotificationRow
from missions.settings import LogFormat, Settings

log = logging.getLogger(__name__)

# --- Temporal SDK runtime ------------------------------------------------------------------

# One runtime per process and configuration: each one starts its own native thread pool and,
# with Prometheus, binds its port, so a second one on the same port would fail.
_runtimes: dict[tuple[str | None, bool], Runtime] = {}
_runtimes_lock = threading.Lock()
TEMPORAL_CORE_LOGGER = "temporalio.core"


def temporal_runtime(settings: Settings) -> Runtime | None:
    """Return the Temporal runtime for the settings, or None for the SDK's default runtime.

    A custom runtime serves the SDK's Prometheus metrics when `temporal_metrics_port` is set,
    and forwards the SDK core's own logs to Python logging when logs are JSON, so that they
    come out in the same format.
    """
    bind_address = temporal_metrics_address(settings)
    forward_logs = settings.log_format is LogFormat.JSON
    if bind_address is None and not forward_logs:
        return None
    key = (bind_address, forward_logs)
    with _runtimes_lock:
        runtime = _runtimes.get(key)
        if runtime is None:
            logging_config = LoggingConfig.default
            if forward_logs:
                logging_config = LoggingConfig(
                    filter=LoggingConfig.default.filter,
                    forwarding=LogForwardingConfig(logger=logging.getLogger(TEMPORAL_CORE_LOGGER)),
                )
            metrics = PrometheusConfig(bind_address=bind_address) if bind_address else None
            runtime = Runtime(telemetry=TelemetryConfig(logging=logging_config, metrics=metrics))
            _runtimes[key] = runtime
            if bind_address:
                log.info("Temporal SDK metrics served on http://%s/metrics", bind_address)
        return runtime


def temporal_metrics_address(settings: Settings) -> str | None:
    """Return `host:port` of the SDK's Prometheus endpoint, or None when it is off."""
    if not settings.temporal_metrics_port:
        return None
    host = settings.temporal_metrics_host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{settings.temporal_metrics_port}"


# --- JSON logs -----------------------------------------------------------------------------

# printf-style placeholders, so that the argument after "mission " can be found by position.
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")
_MISSION_ID = re.compile(
    r"\bmission-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
)
REDACTED = "[redacted]"
# Shorter values are too likely to occur in ordinary text to be replaced safely.
MIN_SECRET_LENGTH = 8
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def mission_id_of(record: logging.LogRecord) -> str | None:
    """Find the mission a log record is about, or return None.

    The sources, in order: a `mission_id` passed in `extra`, then the argument that fills the
    placeholder after "mission " in the format string, as in the project's
    `"mission %s: ..."` messages. Then the workflow id that Temporal's workflow and activity
    loggers attach, and last a mission id anywhere in the message.
    """
    explicit = getattr(record, "mission_id", None)
    if isinstance(explicit, str) and explicit:
        return explicit
    from_args = _mission_id_from_args(record)
    if from_args is not None:
        return from_args
    for attribute in ("temporal_workflow", "temporal_activity"):
        details = getattr(record, attribute, None)
        if isinstance(details, Mapping):
            workflow_id = details.get("workflow_id")
            if isinstance(workflow_id, str) and workflow_id.startswith("mission-"):
                return workflow_id
    found = _MISSION_ID.search(record.getMessage())
    return found.group(0) if found else None


def _mission_id_from_args(record: logging.LogRecord) -> str | None:
    if not isinstance(record.msg, str) or not isinstance(record.args, tuple):
        return None
    position = 0
    for placeholder in _PLACEHOLDER.finditer(record.msg):
        if placeholder.group(0) == "%%":
            continue
        if record.msg[: placeholder.start()].endswith("mission "):
            if position < len(record.args) and isinstance(record.args[position], str):
                return str(record.args[position])
            return None
        position += 1
    return None


class JsonFormatter(logging.Formatter):
    """Format each record as one JSON object: time, level, logger, message, and `mission_id`,
    `workflow_id`, `activity_type` and `exception` when they apply.

    Only these fields are written, never arbitrary `extra` values, and every configured
    secret is replaced by "[redacted]" in the message and the exception text.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted(
            {secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH},
            key=len,
            reverse=True,
        )

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self._redact(record.getMessage()),
        }
        mission_id = mission_id_of(record)
        if mission_id is not None:
            entry["mission_id"] = mission_id
        for attribute in ("temporal_workflow", "temporal_activity"):
            details = getattr(record, attribute, None)
            if isinstance(details, Mapping):
                for name in ("workflow_id", "run_id", "workflow_type", "activity_type"):
                    value = details.get(name)
                    if isinstance(value, str):
                        entry.setdefault(name, value)
        if record.exc_info:
            entry["exception"] = self._redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = self._redact(record.exc_text)
        return json.dumps(entry, ensure_ascii=False, default=str)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def secret_values(settings: Settings) -> list[str]:
    """List the configured secrets that must never appear in a log line."""
    values = [settings.jwt_secret, settings.stripe_api_key, settings.stripe_webhook_secret]
    if settings.temporal_api_key is not None:
        values.append(settings.temporal_api_key.get_secret_value())
    try:
        password = make_url(settings.effective_database_url).password
    except ArgumentError:
        password = None
    if password:
        values.append(str(password))
    return [value for value in values if value]


def configure_logging(settings: Settings) -> None:
    """Switch the root logger and uvicorn's loggers to JSON when `log_format` is json.

    Idempotent. It changes the formatter of the existing handlers, so the levels and
    destinations chosen elsewhere (the CLI's `--log-level`, uvicorn's config) stay.

    NOTE: uvicorn logs its first two lines ("Started server process", "Waiting for
    application startup") before the application starts, in its own text format, unless
    `uvicorn.run` gets `log_config=None`.
    """
    if settings.log_format is not LogFormat.JSON:
        return
    formatter = JsonFormatter(secret_values(settings))
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(formatter)
    for name in UVICORN_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter)


# --- API request metrics -------------------------------------------------------------------

UNMATCHED_ROUTE = "unmatched"
# Seconds; most requests take one Temporal update or query.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class HttpMetrics:
    """Request counter and latency histogram of one API application."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "missions_http_requests",
            "HTTP requests answered by the API, by method, route template and status code.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "missions_http_request_duration_seconds",
            "Time from receiving an HTTP request to sending the end of its response.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method=method, route=route, status=str(status)).inc()
        self.latency.labels(method=method, route=route).observe(seconds)


def route_template(scope: Scope) -> str:
    """Return the path template of the route that handled the request, such as
    `/missions/{mission_id}`, so that ids do not become label values.
    """
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


class MetricsMiddleware:
    """ASGI middleware that records every HTTP request in `HttpMetrics`.

    It also calls `on_startup` when the server starts the application, which is after
    uvicorn configured its own loggers, so that JSON logging can cover them too.
    """

    def __init__(self, app: ASGIApp, metrics: HttpMetrics, on_startup: Callable[[], None]) -> None:
        self.app = app
        self.metrics = metrics
        self.on_startup = on_startup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._watch_startup(receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        # An exception that escapes the application becomes a 500 further out.
        status = 500

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe(scope["method"], route_template(scope), status, elapsed)

    def _watch_startup(self, receive: Receive) -> Receive:
        async def receive_and_watch() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.on_startup()
            return message

        return receive_and_watch


# --- Domain metrics from the read model ----------------------------------------------------

# Notification templates that mark a transition into a state. The workflow sends each of them
# to the mission's client exactly once per transition, so the client's rows count the
# transitions. Rows are unique per mission and key, so a retried projection counts once.
# NOTE: a chargeback on a mission that is already disputed notifies the client of the dispute
# again, so it counts one more transition into `disputed`.
TRANSITION_TEMPLATES: dict[str, MissionState] = {
    "mission_posted": MissionState.OPEN,
    "mission_reopened": MissionState.OPEN,
    "payment_requested": MissionState.AWAITING_PAYMENT,
    "mission_funded": MissionState.FUNDED,
    "completion_requested": MissionState.COMPLETION_REQUESTED,
    "funds_released": MissionState.RELEASED,
    "auto_released": MissionState.RELEASED,
    "review_window_opened": MissionState.REVIEWING,
    "mission_closed": MissionState.CLOSED,
    "dispute_opened": MissionState.DISPUTED,
    "mission_cancelled": MissionState.CANCELLED,
    "mission_expired": MissionState.EXPIRED,
}
# Money columns of the `missions` table, in minor units, by the `kind` label they get.
MONEY_COLUMNS = {
    "captured": MissionRow.captured_minor,
    "refunded": MissionRow.refunded_minor,
    "provider_payout": MissionRow.provider_payout_minor,
    "platform_revenue": MissionRow.platform_revenue_minor,
}


@dataclass(frozen=True)
class ReadModelCounts:
    in_state: dict[MissionState, int]
    transitions: dict[MissionState, int]
    # (kind, currency) -> sum in minor units over all missions.
    money_minor: dict[tuple[str, str], int]
    needing_attention: int
    payouts_pending: int


def read_model_counts(session: Session) -> ReadModelCounts:
    """Count missions by state, transitions and money from the read model's tables."""
    in_state = dict.fromkeys(MissionState, 0)
    for state, count in session.execute(
        select(MissionRow.state, func.count()).group_by(MissionRow.state)
    ):
        in_state[MissionState(state)] = int(count)

    transitions = dict.fromkeys(MissionState, 0)
    for template, count in session.execute(
        select(NotificationRow.template, func.count())
        .where(
            NotificationRow.recipient_role == "client",
            NotificationRow.template.in_(TRANSITION_TEMPLATES),
        )
        .group_by(NotificationRow.template)
    ):
        transitions[TRANSITION_TEMPLATES[template]] += int(count)

    money_minor: dict[tuple[str, str], int] = {}
    sums = [func.coalesce(func.sum(column), 0) for column in MONEY_COLUMNS.values()]
    for currency, *amounts in session.execute(
        select(MissionRow.currency, *sums).group_by(MissionRow.currency)
    ):
        for kind, amount in zip(MONEY_COLUMNS, amounts, strict=True):
            money_minor[(kind, currency)] = int(amount)

    needing_attention = session.scalar(
        select(func.count()).select_from(MissionRow).where(MissionRow.needs_attention)
    )
    payouts_pending = session.scalar(
        select(func.count()).select_from(MissionRow).where(MissionRow.payout_pending)
    )
    return ReadModelCounts(
        in_state=in_state,
        transitions=transitions,
        money_minor=money_minor,
        needing_attention=int(needing_attention or 0),
        payouts_pending=int(payouts_pending or 0),
    )


@dataclass
class _CachedCounts:
    counts: ReadModelCounts | None = None
    read_at: float | None = None
    failing: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class ReadModelCollector(Collector):
    """Prometheus collector of `read_model_counts`, read at most once per `interval`.

    The database is read during a scrape, at most once per interval, so the cost does not
    grow with the number of scrapers. When the read fails, only `missions_read_model_up 0`
    is exported, rather than stale numbers.
    """

    def __init__(
        self,
        sessions: Callable[[], sessionmaker[Session] | None],
        interval: timedelta,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._interval = interval.total_seconds()
        self._clock = clock
        self._cache = _CachedCounts()

    def describe(self) -> Iterable[Metric]:
        # Empty, so that registering the collector does not query the database.
        return []

    def collect(self) -> Iterable[Metric]:
        counts = self._current_counts()
        up = GaugeMetricFamily(
            "missions_read_model_up", "1 if the last read of the read model succeeded, else 0."
        )
        up.add_metric([], 1 if counts is not None else 0)
        yield up
        if counts is None:
            return
        yield from _families(counts)

    def _current_counts(self) -> ReadModelCounts | None:
        cache = self._cache
        with cache.lock:
            now = self._clock()
            if cache.read_at is not None and now - cache.read_at < self._interval:
                return None if cache.failing else cache.counts
            cache.read_at = now
            factory = self._sessions()
            if factory is None:
                # The API has not finished starting; there is nothing to read yet.
                cache.read_at = None
                return None
            try:
                with factory() as session:
                    cache.counts = read_model_counts(session)
            except SQLAlchemyError as error:
                if not cache.failing:
                    log.warning("reading the read model for metrics failed: %s", error)
                cache.failing = True
                return None
            if cache.failing:
                log.info("reading the read model for metrics works again")
            cache.failing = False
            return cache.counts


def _families(counts: ReadModelCounts) -> Iterable[Metric]:
    in_state = GaugeMetricFamily(
        "missions_in_state", "Missions currently in each state.", labels=["state"]
    )
    for state, count in counts.in_state.items():
        in_state.add_metric([state.value], count)
    yield in_state

    transitions = CounterMetricFamily(
        "missions_transitions",
        "Transitions of missions into each state, counted from the notification outbox.",
        labels=["state"],
    )
    for state, count in counts.transitions.items():
        transitions.add_metric([state.value], count)
    yield transitions

    money = GaugeMetricFamily(
        "missions_money_minor",
        "Money of all missions by kind, in minor units of the currency (cents for EUR).",
        labels=["kind", "currency"],
    )
    for (kind, currency), amount in sorted(counts.money_minor.items()):
        money.add_metric([kind, currency], amount)
    yield money

    attention = GaugeMetricFamily(
        "missions_needing_attention", "Missions flagged for ops (NeedsAttention)."
    )
    attention.add_metric([], counts.needing_attention)
    yield attention

    pending = GaugeMetricFamily(
        "missions_payouts_pending", "Missions whose payout waits for the provider's account."
    )
    pending.add_metric([], counts.payouts_pending)
    yield pending


# --- Wiring into the API -------------------------------------------------------------------

METRICS_PATH = "/metrics"


def install_observability(app: FastAPI, settings: Settings) -> CollectorRegistry:
    """Add JSON logging, request metrics, read-model metrics and `GET /metrics` to a FastAPI
    application, and return the application's own metrics registry.

    Each application gets its own registry, so that several can live in one process. The
    read-model metrics use `app.state.session_factory`, which the lifespan creates.
    """
    configure_logging(settings)
    registry = CollectorRegistry()
    # The standard process_* and python_* metrics: CPU, memory, open files, GC.
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    metrics = HttpMetrics(registry)
    registry.register(
        ReadModelCollector(
            lambda: getattr(app.state, "session_factory", None),
            settings.read_model_metrics_interval,
        )
    )
    app.add_middleware(
        MetricsMiddleware, metrics=metrics, on_startup=lambda: configure_logging(settings)
    )

    async def serve_metrics(request: Request) -> Response:
        # Rendering may read the database, so it runs on a worker thread.
        body = await run_in_threadpool(render_metrics, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(METRICS_PATH, serve_metrics, methods=["GET"], include_in_schema=False)
    return registry
