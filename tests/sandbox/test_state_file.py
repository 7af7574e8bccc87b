"""Persistence across restarts with a state file, and the command line entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import stripe

from stripe_sandbox import SandboxConfig
from stripe_sandbox.__main__ import main
from stripe_sandbox.store import STATE_FORMAT_VERSION

from .conftest import API_KEY, SandboxServer, loopback_socket


def test_objects_survive_restart(state_file: Path) -> None:
    config = SandboxConfig(api_key=API_KEY, state_file=state_file)
    params: stripe.params.PaymentIntentCreateParams = {
        "amount": 2_500,
        "currency": "eur",
        "payment_method": "pm_card_visa",
        "confirm": True,
    }
    with SandboxServer(config) as first_run:
        intent = first_run.client().v1.payment_intents.create(params, {"idempotency_key": "k-1"})
    assert json.loads(state_file.read_text())["version"] == STATE_FORMAT_VERSION

    with SandboxServer(config) as second_run:
        client = second_run.client()
        retrieved = client.v1.payment_intents.retrieve(intent.id)
        replayed = client.v1.payment_intents.create(params, {"idempotency_key": "k-1"})
        balance = client.v1.balance.retrieve()

    assert retrieved.status == "succeeded"
    assert retrieved.latest_charge == intent.latest_charge
    assert replayed.id == intent.id
    assert replayed.last_response is not None
    assert replayed.last_response.headers["Idempotent-Replayed"] == "true"
    assert [(funds.currency, funds.amount) for funds in balance.available] == [
        ("eur", 2_500),
        ("usd", 0),
    ]


def test_state_file_contains_no_secrets(state_file: Path) -> None:
    config = SandboxConfig(
        api_key=API_KEY,
        state_file=state_file,
        webhook_url="http://127.0.0.1:9/unused",
        webhook_secret="whsec_do_not_store",
        webhook_max_attempts=1,
    )
    with SandboxServer(config) as running:
        running.client().v1.payment_intents.create(
            {"amount": 1_000, "currency": "eur"}, {"idempotency_key": "k-2"}
        )

    text = state_file.read_text()
    assert API_KEY not in text
    assert "whsec_do_not_store" not in text


def test_unknown_state_format_is_rejected(state_file: Path) -> None:
    state_file.parent.mkdir(parents=True)
    state_file.write_text(json.dumps({"version": 999, "objects": {}}))

    with pytest.raises(ValueError, match="format version 999"):
        SandboxServer(SandboxConfig(api_key=API_KEY, state_file=state_file))


def test_cli_requires_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_SANDBOX_API_KEY", raising=False)

    assert main(["--port", "0"]) == 2


def test_cli_rejects_webhook_url_without_secret(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("STRIPE_SANDBOX_WEBHOOK_SECRET", raising=False)

    status = main(["--api-key", API_KEY, "--webhook-url", "http://127.0.0.1:9/hook"])

    assert status == 2
    assert "webhook_secret is required" in caplog.text
    assert API_KEY not in caplog.text


def test_cli_rejects_invalid_fault_plan(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plan_file = tmp_path / "faults.json"
    plan_file.write_text(json.dumps({"rules": [{"path": "/v1/refunds", "kind": "disk_full"}]}))

    invalid = main(["--api-key", API_KEY, "--fault-plan", str(plan_file)])
    missing = main(["--api-key", API_KEY, "--fault-plan", str(tmp_path / "missing.json")])

    assert invalid == 2
    assert "rules.0.kind" in caplog.text
    assert missing == 2
    assert "Cannot read the fault plan" in caplog.text


def test_cli_serves_the_api(tmp_path: Path) -> None:
    with loopback_socket() as sock:
        port = sock.getsockname()[1]
    state_file = tmp_path / "cli-state.json"
    plan_file = tmp_path / "faults.json"
    plan_file.write_text(json.dumps({"rules": [{"path": "/v1/refunds", "kind": "rate_limit"}]}))
    command = [
        sys.executable,
        "-m",
        "stripe_sandbox",
        "--port",
        str(port),
        "--api-key",
        API_KEY,
        "--state-file",
        str(state_file),
        "--fault-plan",
        str(plan_file),
        "--dispute-after-seconds",
        "5",
        "--idempotency-ttl-seconds",
        "60",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    try:
        response = _get_when_ready(f"http://127.0.0.1:{port}/v1/balance", process)
        assert response.status_code == 200
        assert response.json()["object"] == "balance"
        faults = httpx.get(
            f"http://127.0.0.1:{port}/_sandbox/faults",
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        assert faults.json()["rules"][0]["kind"] == "rate_limit"
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert state_file.exists()


def _get_when_ready(url: str, process: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 20
    while True:
        try:
            return httpx.get(url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=2)
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
