"""Connection options for a Temporal cluster or Temporal Cloud, and the `missions setup` steps.

Setup makes a namespace ready for missions: it registers the namespace on a self-hosted
cluster when it is missing, then the custom search attributes of `missions.search_attributes`.
Each step first reads what exists, so a second run changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from missions import search_attributes
from missions.observability import configure_logging
from missions.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

# Statuses a server returns when the credentials may not change the namespace. Temporal Cloud
# manages namespaces and search attributes through its own tools (`tcld`, the Cloud UI).
DENIED_STATUSES = (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED)
RETRY_INTERVAL_SECONDS = 1.0


class SetupError(Exception):
    """A setup step failed in a way that retrying the same command will not fix."""


@dataclass(frozen=True)
class SetupResult:
    namespace: str
    namespace_registered: bool
    # Names of the search attributes this run added, sorted.
    attributes_added: tuple[str, ...]


def tls_config(settings: Settings) -> TLSConfig | bool:
    """Build the TLS options of the Temporal connection, reading the configured PEM files.

    Returns False when TLS is off, and True for TLS with the system roots and no client
    certificate. Raises SetupError naming the setting whose file cannot be read.
    """
    if not settings.temporal_tls_enabled:
        return False
    server_ca = _read_pem(settings.temporal_tls_server_ca, "MISSIONS_TEMPORAL_TLS_SERVER_CA")
    client_cert = _read_pem(settings.temporal_tls_client_cert, "MISSIONS_TEMPORAL_TLS_CLIENT_CERT")
    client_key = _read_pem(settings.temporal_tls_client_key, "MISSIONS_TEMPORAL_TLS_CLIENT_KEY")
    domain = settings.temporal_tls_server_name or None
    if server_ca is None and client_cert is None and domain is None:
        return True
    return TLSConfig(
        server_root_ca_cert=server_ca,
        domain=domain,
        client_cert=client_cert,
        client_private_key=client_key,
    )


def api_key(settings: Settings) -> str | None:
    """Return the Temporal Cloud API key, or None when none is configured."""
    if settings.temporal_api_key is None:
        return None
    return settings.temporal_api_key.get_secret_value()


def _read_pem(path: Path | None, setting: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        raise SetupError(
            f"{setting} names {str(path)!r}, which cannot be read: {error.strerror}; "
            "point it at a PEM file this process can read"
        ) from error


async def setup_cluster(
    client: Client, settings: Settings, *, max_wait: timedelta = timedelta(seconds=60)
) -> SetupResult:
    """Register the namespace if it is missing, then the missing search attributes.

    Raises SetupError when the server rejects a change, when an attribute exists with
    another type, or when a new namespace or attribute is still not visible after `max_wait`.
    """
    deadline = time.monotonic() + max_wait.total_seconds()
    namespace = settings.temporal_namespace
    registered = await _ensure_namespace(client, namespace, settings.temporal_namespace_retention)
    await _wait_for_namespace(client, namespace, deadline)
    existing = await _list_attribute_types(client, namespace, deadline)
    _check_attribute_types(existing, namespace)
    added: list[str] = []
    if any(key.name not in existing for key in search_attributes.ALL_KEYS):
        added = await _register_attributes(client, namespace, deadline)
        await _wait_for_attributes(client, namespace, deadline)
    return SetupResult(
        namespace=namespace, namespace_registered=registered, attributes_added=tuple(added)
    )


async def _ensure_namespace(client: Client, namespace: str, retention: timedelta) -> bool:
    if await _namespace_exists(client, namespace):
        return False
    request = RegisterNamespaceRequest(
        namespace=namespace,
        workflow_execution_retention_period=Duration(seconds=int(retention.total_seconds())),
    )
    try:
        await client.workflow_service.register_namespace(request)
    except RPCError as error:
        if error.status is RPCStatusCode.ALREADY_EXISTS:
            # Another setup run registered it between the check and this call.
            return False
        if error.status in DENIED_STATUSES:
            raise SetupError(
                f"namespace {namespace} does not exist and the server rejected its registration "
                f"({error.message}); on Temporal Cloud create it in the Cloud UI or with tcld, "
                "then run setup again"
            ) from error
        raise
    days = retention.total_seconds() / 86400
    log.info("registered namespace %s with a retention of %g days", namespace, days)
    return True


async def _namespace_exists(client: Client, namespace: str) -> bool:
    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace)
        )
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def _wait_for_namespace(client: Client, namespace: str, deadline: float) -> None:
    """Wait until the frontend finds the namespace; a new one takes a moment to appear."""
    while not await _namespace_exists(client, namespace):
        if time.monotonic() > deadline:
            raise SetupError(f"namespace {namespace} was registered but is still not visible")
        await asyncio.sleep(RETRY_INTERVAL_SECONDS)


async def _list_attribute_types(
    client: Client, namespace: str, deadline: float
) -> dict[str, IndexedValueType.ValueType]:
    request = ListSearchAttributesRequest(namespace=namespace)
    listed = await _retry_not_found(
        lambda: client.operator_service.list_search_attributes(request), deadline
    )
    return dict(listed.custom_attributes)


def _check_attribute_types(existing: dict[str, IndexedValueType.ValueType], namespace: str) -> None:
    for key in search_attributes.ALL_KEYS:
        found = existing.get(key.name)
        expected = IndexedValueType.ValueType(key.indexed_value_type.value)
        if found is not None and found != expected:
            raise SetupError(
                f"search attribute {key.name} of namespace {namespace} is "
                f"{IndexedValueType.Name(found)}, but missions need "
                f"{IndexedValueType.Name(expected)}; remove it or use another namespace"
            )


async def _register_attributes(client: Client, namespace: str, deadline: float) -> list[str]:
    try:
        return await _retry_not_found(
            lambda: search_attributes.register(client, namespace), deadline
        )
    except RPCError as error:
        if error.status not in DENIED_STATUSES:
            raise
        raise SetupError(
            f"the server rejected adding search attributes to namespace {namespace} "
            f"({error.message}); on Temporal Cloud add them with: {tcld_command(namespace)}"
        ) from error


async def _wait_for_attributes(client: Client, namespace: str, deadline: float) -> None:
    """Wait until every attribute is listed, since visibility stores may apply additions late."""
    wanted = {key.name for key in search_attributes.ALL_KEYS}
    while True:
        missing = wanted - set(await _list_attribute_types(client, namespace, deadline))
        if not missing:
            return
        if time.monotonic() > deadline:
            raise SetupError(
                f"search attributes {', '.join(sorted(missing))} were added to namespace "
                f"{namespace} but are still not listed"
            )
        await asyncio.sleep(RETRY_INTERVAL_SECONDS)


async def _retry_not_found(call: Callable[[], Awaitable[T]], deadline: float) -> T:
    """Await `call`, retrying while the server does not find the namespace yet."""
    while True:
        try:
            return await call()
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
            log.info("namespace not ready yet, retrying: %s", error.message)
        await asyncio.sleep(RETRY_INTERVAL_SECONDS)


def tcld_command(namespace: str) -> str:
    """Return the `tcld` command that adds every mission search attribute on Temporal Cloud."""
    flags = " ".join(
        f'--sa "{key.name}={_tcld_type_name(key.indexed_value_type.value)}"'
        for key in search_attributes.ALL_KEYS
    )
    return f"tcld namespace search-attributes add --namespace {namespace} {flags}"


def _tcld_type_name(value: int) -> str:
    # INDEXED_VALUE_TYPE_KEYWORD -> Keyword, INDEXED_VALUE_TYPE_DATETIME -> Datetime.
    name = IndexedValueType.Name(IndexedValueType.ValueType(value))
    return name.removeprefix("INDEXED_VALUE_TYPE_").title()


async def run_setup(
    settings: Settings, echo: Callable[[str], object], *, max_wait: timedelta
) -> int:
    """Connect, waiting up to `max_wait` for the server, run the setup and report; return the
    exit code.
    """
    # Imported here because missions.client imports this module for its connection options.
    from missions.client import connect_temporal

    configure_logging(settings)
    deadline = time.monotonic() + max_wait.total_seconds()
    address, namespace = settings.temporal_address, settings.temporal_namespace
    try:
        while True:
            try:
                client = await connect_temporal(settings)
                break
            except RuntimeError as error:
                if time.monotonic() > deadline:
                    raise SetupError(
                        f"connecting to Temporal at {address} failed for {max_wait}: {error}"
                    ) from error
                log.info("Temporal at %s not reachable yet, retrying: %s", address, error)
                await asyncio.sleep(RETRY_INTERVAL_SECONDS)
        remaining = timedelta(seconds=max(deadline - time.monotonic(), 0))
        result = await setup_cluster(client, settings, max_wait=remaining)
    except SetupError as error:
        echo(f"setup failed: {error}")
        return 1

    if result.namespace_registered:
        echo(f"namespace {namespace} registered on {address}")
    else:
        echo(f"namespace {namespace} already exists on {address}")
    if result.attributes_added:
        echo(f"search attributes registered: {', '.join(result.attributes_added)}")
    else:
        echo(f"all {len(search_attributes.ALL_KEYS)} search attributes already registered")
    return 0
