"""Command lines and environment of the local stack's child processes."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from missions.devstack import (
    DevStack,
    StackConfig,
    StackError,
    StackPorts,
    child_environment,
    child_specs,
    sandbox_command,
    search_attribute_flags,
    temporal_command,
)
from missions.search_attributes import ALL_KEYS
from missions.settings import Settings

PORTS = StackPorts(temporal=17233, temporal_ui=18233, stripe=22111, api=18000)


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    return StackConfig(data_dir=tmp_path, ports=PORTS)


def _flag_value(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def _search_attributes(command: list[str]) -> dict[str, str]:
    pairs = [command[i + 1] for i, arg in enumerate(command) if arg == "--search-attribute"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_temporal_registers_every_search_attribute(config: StackConfig) -> None:
    command = temporal_command("/bin/temporal", config, "default")
    registered = _search_attributes(command)
    assert set(registered) == {key.name for key in ALL_KEYS}
    assert registered["MissionState"] == "Keyword"
    assert registered["AmountMinor"] == "Int"
    assert registered["NeedsAttention"] == "Bool"
    assert registered["NextDeadline"] == "Datetime"


def test_temporal_binds_loopback_with_persistence(config: StackConfig) -> None:
    command = temporal_command("/bin/temporal", config, "default")
    assert command[:3] == ["/bin/temporal", "server", "start-dev"]
    assert _flag_value(command, "--ip") == "127.0.0.1"
    assert _flag_value(command, "--port") == "17233"
    assert _flag_value(command, "--ui-port") == "18233"
    assert _flag_value(command, "--db-filename") == str(config.data_dir / "temporal.sqlite")
    assert "--namespace" not in command


def test_temporal_uses_wal_with_normal_sync(config: StackConfig) -> None:
    command = temporal_command("/bin/temporal", config, "default")
    pragmas = [command[i + 1] for i, arg in enumerate(command) if arg == "--sqlite-pragma"]
    assert pragmas == ["journal_mode=wal", "synchronous=normal"]


def test_temporal_creates_other_namespace(config: StackConfig) -> None:
    command = temporal_command("/bin/temporal", config, "marketplace")
    assert _flag_value(command, "--namespace") == "marketplace"


def test_search_attribute_flags_accepted_by_cli() -> None:
    # The real CLI's help lists the type names the flags must use.
    cli = Path(sys.executable).parent / "temporal"
    if not cli.exists():
        pytest.skip("the temporal CLI is not installed beside Python")
    help_text = subprocess.run(
        [str(cli), "server", "start-dev", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--search-attribute" in help_text
    for pair in search_attribute_flags()[1::2]:
        assert pair.split("=", 1)[1] in help_text


def test_sandbox_command_binds_loopback(tmp_path: Path) -> None:
    command = sandbox_command(
        host="127.0.0.1",
        port=22111,
        webhook_url="http://127.0.0.1:18000/webhooks/stripe",
        state_file=tmp_path / "state.json",
    )
    assert command[:3] == [sys.executable, "-m", "stripe_sandbox"]
    assert _flag_value(command, "--host") == "127.0.0.1"
    assert _flag_value(command, "--port") == "22111"
    assert _flag_value(command, "--webhook-url") == "http://127.0.0.1:18000/webhooks/stripe"
    assert _flag_value(command, "--state-file") == str(tmp_path / "state.json")


def test_sandbox_without_state_file(config: StackConfig) -> None:
    in_memory = dataclasses.replace(config, sandbox_state_file=False)
    sandbox = child_specs(Settings(), in_memory, "/bin/temporal", {})[1]
    persistent = child_specs(Settings(), config, "/bin/temporal", {})[1]
    assert sandbox.name == "stripe-sandbox"
    assert "--state-file" not in sandbox.argv
    assert _flag_value(persistent.argv, "--state-file") == str(
        config.data_dir / "stripe-sandbox.json"
    )


def test_sandbox_secrets_stay_off_command_line(config: StackConfig) -> None:
    settings = Settings(stripe_api_key="sk_test_abc", stripe_webhook_secret="whsec_abc")
    sandbox = child_specs(settings, config, "/bin/temporal", {})[1]
    assert sandbox.name == "stripe-sandbox"
    assert "sk_test_abc" not in sandbox.argv
    assert "whsec_abc" not in sandbox.argv
    assert sandbox.env["STRIPE_SANDBOX_API_KEY"] == "sk_test_abc"
    assert sandbox.env["STRIPE_SANDBOX_WEBHOOK_SECRET"] == "whsec_abc"


def test_child_environment_points_parts_at_each_other(config: StackConfig) -> None:
    env = child_environment(Settings(jwt_secret="x" * 40), config, {"PATH": "/usr/bin"})
    assert env["PATH"] == "/usr/bin"
    assert env["MISSIONS_TEMPORAL_ADDRESS"] == "127.0.0.1:17233"
    assert env["MISSIONS_STRIPE_API_BASE"] == "http://127.0.0.1:22111"
    assert env["MISSIONS_API_PORT"] == "18000"
    assert env["MISSIONS_ALLOW_DURATION_OVERRIDE"] == "true"
    assert env["MISSIONS_JWT_SECRET"] == "x" * 40
    expected_database = f"sqlite:///{(config.data_dir / 'missions.sqlite3').resolve()}"
    assert env["MISSIONS_DATABASE_URL"] == expected_database


def test_child_environment_keeps_configured_database(config: StackConfig) -> None:
    settings = Settings(database_url="postgresql://missions@127.0.0.1/missions")
    env = child_environment(settings, config, {})
    assert env["MISSIONS_DATABASE_URL"] == "postgresql://missions@127.0.0.1/missions"


def test_child_specs_start_order_and_logs(config: StackConfig) -> None:
    specs = child_specs(Settings(), config, "/bin/temporal", {})
    assert [spec.name for spec in specs] == ["temporal", "stripe-sandbox", "worker", "api"]
    assert all(spec.log_path.parent == config.logs_dir for spec in specs)
    by_name = {spec.name: spec for spec in specs}
    assert by_name["worker"].argv[-3:] == ["-m", "missions.cli", "worker"]
    api = by_name["api"].argv
    assert api[api.index("api") :] == ["api", "--host", "127.0.0.1", "--port", "18000"]
    sandbox = by_name["stripe-sandbox"].argv
    assert _flag_value(sandbox, "--webhook-url") == "http://127.0.0.1:18000/webhooks/stripe"
    assert _flag_value(sandbox, "--state-file") == str(config.data_dir / "stripe-sandbox.json")


def _free_ports(count: int) -> list[int]:
    """Return `count` distinct loopback ports that nothing listened on a moment ago."""
    with contextlib.ExitStack() as sockets:
        ports = []
        for _ in range(count):
            sock = sockets.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
    return ports


def test_temporal_database_in_wal_mode(tmp_path: Path) -> None:
    # The CLI hands --sqlite-pragma values to SQLite unchecked, so only the file shows that
    # WAL took effect: header bytes 18 and 19 are 2 in WAL mode and 1 with a rollback journal.
    cli = Path(sys.executable).parent / "temporal"
    if not cli.exists():
        pytest.skip("the temporal CLI is not installed beside Python")
    temporal, temporal_ui = _free_ports(2)
    config = StackConfig(
        data_dir=tmp_path, ports=StackPorts(temporal=temporal, temporal_ui=temporal_ui)
    )
    database = tmp_path / "temporal.sqlite"
    with (tmp_path / "temporal.log").open("wb") as log_file:
        server = subprocess.Popen(
            temporal_command(str(cli), config, "default"),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            health = [
                str(cli),
                "operator",
                "cluster",
                "health",
                "--address",
                config.temporal_address,
            ]
            deadline = time.monotonic() + 60
            while subprocess.run(health, capture_output=True, check=False).returncode != 0:
                assert server.poll() is None, (tmp_path / "temporal.log").read_text()
                assert time.monotonic() < deadline, "the Temporal dev server was not ready in 60 s"
                time.sleep(0.25)
            header = database.read_bytes()[:20]
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    assert header[18] == 2
    assert header[19] == 2
    assert (tmp_path / "temporal.sqlite-wal").exists()


def test_start_rejects_busy_port(tmp_path: Path) -> None:
    # Every other part gets a free port, so a stack running on the default ports
    # cannot be the busy port found first.
    temporal, temporal_ui, stripe = _free_ports(3)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        ports = StackPorts(temporal=temporal, temporal_ui=temporal_ui, stripe=stripe, api=busy)
        config = StackConfig(data_dir=tmp_path, ports=ports)
        with pytest.raises(StackError) as raised:
            DevStack(Settings(), config).start(lambda _line: None)
    assert str(raised.value) == (
        f"port {busy} for the API on 127.0.0.1 is already in use; "
        "stop what listens there or choose another port"
    )


def test_start_refuses_production(tmp_path: Path) -> None:
    settings = Settings(
        environment="production",
        jwt_secret="p" * 40,
        stripe_api_key="sk_live_x",
        stripe_webhook_secret="whsec_live_x",
    )
    with pytest.raises(StackError, match="production"):
        DevStack(settings, StackConfig(data_dir=tmp_path)).start(lambda _line: None)
