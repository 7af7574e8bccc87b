"""`missions setup` against the Temporal CLI's dev server, and the Temporal connection options."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment

from missions import cluster, search_attributes
from missions.client import connect_temporal
from missions.cluster import SetupError, SetupResult, api_key, setup_cluster, tls_config
from missions.settings import Settings

ALL_NAMES = tuple(sorted(key.name for key in search_attributes.ALL_KEYS))
MISSIONS_BIN = Path(sys.executable).parent / "missions"


def dev_settings(env: WorkflowEnvironment, namespace: str) -> Settings:
    return Settings(
        temporal_address=env.client.service_client.config.target_host,
        temporal_namespace=namespace,
    )


def new_namespace() -> str:
    return f"missions-setup-{uuid.uuid4().hex[:8]}"


async def listed_types(client: Client, namespace: str) -> dict[str, int]:
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return {name: int(value) for name, value in listed.custom_attributes.items()}


async def prepare_namespace(
    client: Client, namespace: str, attributes: dict[str, IndexedValueType.ValueType]
) -> None:
    """Register a namespace with some attributes already, the way an operator might have."""
    deadline = time.monotonic() + 30
    await cluster._ensure_namespace(client, namespace, timedelta(days=1))
    await cluster._wait_for_namespace(client, namespace, deadline)
    request = AddSearchAttributesRequest(namespace=namespace, search_attributes=attributes)
    await cluster._retry_not_found(
        lambda: client.operator_service.add_search_attributes(request), deadline
    )


@pytest.mark.asyncio(loop_scope="session")
async def test_setup_registers_then_changes_nothing(dev_temporal: WorkflowEnvironment) -> None:
    namespace = new_namespace()
    settings = dev_settings(dev_temporal, namespace)
    client = await connect_temporal(settings)

    first = await setup_cluster(client, settings, max_wait=timedelta(seconds=60))
    second = await setup_cluster(client, settings, max_wait=timedelta(seconds=60))

    assert first == SetupResult(
        namespace=namespace, namespace_registered=True, attributes_added=ALL_NAMES
    )
    assert second == SetupResult(
        namespace=namespace, namespace_registered=False, attributes_added=()
    )
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace)
    )
    retention = described.config.workflow_execution_retention_ttl
    assert retention.seconds == int(timedelta(days=30).total_seconds())
    types = await listed_types(client, namespace)
    for key in search_attributes.ALL_KEYS:
        assert types[key.name] == key.indexed_value_type.value


@pytest.mark.asyncio(loop_scope="session")
async def test_setup_adds_only_missing_attributes(dev_temporal: WorkflowEnvironment) -> None:
    namespace = new_namespace()
    settings = dev_settings(dev_temporal, namespace)
    client = await connect_temporal(settings)
    # One attribute already exists, as after an interrupted run.
    await prepare_namespace(
        client, namespace, {"MissionState": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}
    )

    result = await setup_cluster(client, settings)

    assert result.namespace_registered is False
    assert result.attributes_added == tuple(name for name in ALL_NAMES if name != "MissionState")


@pytest.mark.asyncio(loop_scope="session")
async def test_setup_rejects_attribute_of_other_type(dev_temporal: WorkflowEnvironment) -> None:
    namespace = new_namespace()
    settings = dev_settings(dev_temporal, namespace)
    client = await connect_temporal(settings)
    await prepare_namespace(
        client, namespace, {"AmountMinor": IndexedValueType.INDEXED_VALUE_TYPE_TEXT}
    )

    with pytest.raises(SetupError) as raised:
        await setup_cluster(client, settings)

    assert str(raised.value) == (
        f"search attribute AmountMinor of namespace {namespace} is INDEXED_VALUE_TYPE_TEXT, "
        "but missions need INDEXED_VALUE_TYPE_INT; remove it or use another namespace"
    )


def run_cli_setup(env: WorkflowEnvironment, namespace: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "MISSIONS_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "MISSIONS_TEMPORAL_NAMESPACE": namespace,
    }
    return subprocess.run(
        [str(MISSIONS_BIN), "setup"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_setup_twice(dev_temporal: WorkflowEnvironment) -> None:
    namespace = new_namespace()
    address = dev_temporal.client.service_client.config.target_host

    first = run_cli_setup(dev_temporal, namespace)
    second = run_cli_setup(dev_temporal, namespace)

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f"namespace {namespace} registered on {address}",
        f"search attributes registered: {', '.join(ALL_NAMES)}",
    ]
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [
        f"namespace {namespace} already exists on {address}",
        "all 7 search attributes already registered",
    ]


def test_cli_setup_fails_when_unreachable(unused_tcp_port: int) -> None:
    environment = {
        **os.environ,
        "MISSIONS_TEMPORAL_ADDRESS": f"127.0.0.1:{unused_tcp_port}",
    }
    result = subprocess.run(
        [str(MISSIONS_BIN), "setup", "--wait", "1"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout.startswith(
        f"setup failed: connecting to Temporal at 127.0.0.1:{unused_tcp_port} failed for 0:00:01"
    )


def test_tcld_command_lists_every_attribute() -> None:
    assert cluster.tcld_command("prod.a1b2c") == (
        "tcld namespace search-attributes add --namespace prod.a1b2c "
        '--sa "MissionState=Keyword" --sa "MissionCategory=Keyword" --sa "ClientId=Keyword" '
        '--sa "ProviderId=Keyword" --sa "AmountMinor=Int" --sa "NeedsAttention=Bool" '
        '--sa "NextDeadline=Datetime"'
    )


# --- connection options ---------------------------------------------------------------------


def write_pem(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_bytes(f"-----BEGIN TEST-----\n{name}\n-----END TEST-----\n".encode())
    return path


def test_tls_off_by_default() -> None:
    settings = Settings()
    assert tls_config(settings) is False
    assert api_key(settings) is None


def test_tls_with_system_roots() -> None:
    assert tls_config(Settings(temporal_tls=True)) is True


def test_mtls_reads_certificate_files(tmp_path: Path) -> None:
    cert = write_pem(tmp_path, "client.pem")
    key = write_pem(tmp_path, "client.key")
    ca = write_pem(tmp_path, "ca.pem")
    settings = Settings(
        temporal_tls_client_cert=cert,
        temporal_tls_client_key=key,
        temporal_tls_server_ca=ca,
        temporal_tls_server_name="prod.a1b2c.tmprl.cloud",
    )
    assert settings.temporal_tls_enabled is True
    assert tls_config(settings) == TLSConfig(
        server_root_ca_cert=ca.read_bytes(),
        domain="prod.a1b2c.tmprl.cloud",
        client_cert=cert.read_bytes(),
        client_private_key=key.read_bytes(),
    )


def test_unreadable_certificate_names_setting(tmp_path: Path) -> None:
    settings = Settings(
        temporal_tls_client_cert=tmp_path / "missing.pem",
        temporal_tls_client_key=write_pem(tmp_path, "client.key"),
    )
    with pytest.raises(SetupError) as raised:
        tls_config(settings)
    assert str(raised.value) == (
        f"MISSIONS_TEMPORAL_TLS_CLIENT_CERT names '{tmp_path / 'missing.pem'}', which cannot be "
        "read: No such file or directory; point it at a PEM file this process can read"
    )


def test_certificate_without_key_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(temporal_tls_client_cert=write_pem(tmp_path, "client.pem"))
    assert "must be set together" in str(raised.value)


def test_api_key_needs_tls() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(temporal_api_key="cloud-api-key-0123456789")
    assert "set MISSIONS_TEMPORAL_TLS=true" in str(raised.value)
    settings = Settings(temporal_api_key="cloud-api-key-0123456789", temporal_tls=True)
    assert api_key(settings) == "cloud-api-key-0123456789"
    assert "cloud-api-key-0123456789" not in repr(settings)


def test_empty_environment_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "MISSIONS_TEMPORAL_TLS_CLIENT_CERT",
        "MISSIONS_TEMPORAL_TLS_CLIENT_KEY",
        "MISSIONS_TEMPORAL_TLS_SERVER_CA",
        "MISSIONS_TEMPORAL_API_KEY",
    ):
        monkeypatch.setenv(name, "")
    settings = Settings()
    assert settings.temporal_tls_client_cert is None
    assert settings.temporal_tls_client_key is None
    assert settings.temporal_tls_server_ca is None
    assert settings.temporal_api_key is None
    assert settings.temporal_tls_enabled is False


@pytest.mark.asyncio(loop_scope="session")
async def test_connect_passes_cloud_options(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    async def fake_connect(*args: Any, **kwargs: Any) -> str:
        calls.append((args, kwargs))
        return "client"

    monkeypatch.setattr(Client, "connect", fake_connect)
    settings = Settings(
        temporal_address="prod.a1b2c.tmprl.cloud:7233",
        temporal_namespace="prod.a1b2c",
        temporal_tls=True,
        temporal_api_key="cloud-api-key-0123456789",
    )
    assert await connect_temporal(settings) == "client"
    ((args, kwargs),) = calls
    assert args == ("prod.a1b2c.tmprl.cloud:7233",)
    assert kwargs["namespace"] == "prod.a1b2c"
    assert kwargs["tls"] is True
    assert kwargs["api_key"] == "cloud-api-key-0123456789"
    assert kwargs["runtime"] is None
