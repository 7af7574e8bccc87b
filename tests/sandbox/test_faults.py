"""Injected faults through the real SDK, and the /_sandbox/faults admin route."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from stripe_sandbox import SandboxConfig, create_app
from stripe_sandbox.faults import FaultKind, FaultPlan, FaultRule

from .conftest import API_KEY, RunningSandbox, SandboxServer

FAULTS_PATH = "/_sandbox/faults"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
# Client read timeout, shorter than the hold_seconds of the timeout_after_create rules.
CLIENT_TIMEOUT_SECONDS = 0.5


@pytest.fixture(scope="module")
def chaos() -> Iterator[RunningSandbox]:
    """A sandbox of its own, so installed faults cannot reach other tests."""
    with SandboxServer(SandboxConfig(api_key=API_KEY)) as running:
        yield running


@pytest.fixture(autouse=True)
def clear_faults(chaos: RunningSandbox) -> Iterator[None]:
    yield
    httpx.delete(chaos.url + FAULTS_PATH, headers=AUTH, timeout=10).raise_for_status()


@pytest.fixture(scope="module")
def account_id(chaos: RunningSandbox) -> str:
    """A connected account, and enough available balance for the transfers below."""
    client = chaos.client()
    client.v1.payment_intents.create(
        {"amount": 100_000, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
    )
    account = client.v1.accounts.create(
        {"type": "express", "capabilities": {"transfers": {"requested": True}}}
    )
    return account.id


def _install(sandbox: RunningSandbox, *rules: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        sandbox.url + FAULTS_PATH, json={"rules": list(rules)}, headers=AUTH, timeout=10
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def _report(sandbox: RunningSandbox) -> dict[str, Any]:
    response = httpx.get(sandbox.url + FAULTS_PATH, headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def _get_status(sandbox: RunningSandbox, path: str) -> int:
    # A new connection each time, because on a reused one uvicorn responds about 40 ms
    # later (measured on loopback).
    return httpx.get(sandbox.url + path, headers=AUTH, timeout=10).status_code


def _slow_client(sandbox: RunningSandbox) -> stripe.StripeClient:
    return stripe.StripeClient(
        API_KEY,
        base_addresses={"api": sandbox.url},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=CLIENT_TIMEOUT_SECONDS),
    )


def _transfer_params(account_id: str, group: str) -> stripe.params.TransferCreateParams:
    return {"amount": 1_000, "currency": "eur", "destination": account_id, "transfer_group": group}


def _group() -> str:
    return f"chaos-{uuid.uuid4().hex}"


def test_http_500_is_api_error(chaos: RunningSandbox, account_id: str) -> None:
    client = chaos.client()
    group = _group()
    key = f"transfer-{group}"
    _install(chaos, {"method": "POST", "path": "/v1/transfers", "kind": "http_500"})

    with pytest.raises(stripe.APIError) as raised:
        client.v1.transfers.create(_transfer_params(account_id, group), {"idempotency_key": key})

    assert raised.value.http_status == 500
    assert raised.value.error is not None
    assert raised.value.error.type == "api_error"
    assert client.v1.transfers.list({"transfer_group": group}).data == []
    # Nothing was stored under the key, so the retry runs the request.
    _install(chaos)
    transfer = client.v1.transfers.create(
        _transfer_params(account_id, group), {"idempotency_key": key}
    )
    assert transfer.last_response is not None
    assert "Idempotent-Replayed" not in transfer.last_response.headers
    assert [t.id for t in client.v1.transfers.list({"transfer_group": group}).data] == [transfer.id]


def test_rate_limit_is_rate_limit_error(chaos: RunningSandbox) -> None:
    client = chaos.client()
    intent = client.v1.payment_intents.create(
        {"amount": 2_000, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
    )
    _install(chaos, {"method": "POST", "path": "/v1/refunds", "kind": "rate_limit"})

    with pytest.raises(stripe.RateLimitError) as raised:
        client.v1.refunds.create({"payment_intent": intent.id})

    assert raised.value.http_status == 429
    assert raised.value.error is not None
    assert raised.value.error.code == "rate_limit"
    assert raised.value.error.type == "invalid_request_error"
    assert client.v1.refunds.list({"payment_intent": intent.id}).data == []
    assert client.v1.charges.retrieve(str(intent.latest_charge)).amount_refunded == 0


def test_connection_reset_is_connection_error(chaos: RunningSandbox) -> None:
    client = chaos.client()
    intent = client.v1.payment_intents.create(
        {"amount": 2_000, "currency": "eur", "payment_method": "pm_card_visa"}
    )
    _install(
        chaos,
        {"method": "POST", "path": "/v1/payment_intents/*/confirm", "kind": "connection_reset"},
    )

    with pytest.raises(stripe.APIConnectionError) as raised:
        client.v1.payment_intents.confirm(intent.id)

    # The SDK retries connection errors when max_network_retries allows it.
    assert raised.value.should_retry is True
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_confirmation"
    assert client.v1.charges.list({"payment_intent": intent.id}).data == []


def test_timeout_after_create_then_retry_replays(chaos: RunningSandbox, account_id: str) -> None:
    client = _slow_client(chaos)
    group = _group()
    key = f"transfer-{group}"
    params = _transfer_params(account_id, group)
    _install(
        chaos,
        {
            "method": "POST",
            "path": "/v1/transfers",
            "kind": "timeout_after_create",
            "max_faults": 1,
            "hold_seconds": 30,
        },
    )

    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError) as raised:
        client.v1.transfers.create(params, {"idempotency_key": key})
    elapsed = time.monotonic() - started
    created = client.v1.transfers.list({"transfer_group": group}).data
    retried = client.v1.transfers.create(params, {"idempotency_key": key})

    assert "Read timed out" in str(raised.value)
    assert elapsed < 5 * CLIENT_TIMEOUT_SECONDS
    assert len(created) == 1
    assert retried.id == created[0].id
    assert retried.last_response is not None
    assert retried.last_response.headers["Idempotent-Replayed"] == "true"
    assert [t.id for t in client.v1.transfers.list({"transfer_group": group}).data] == [retried.id]


def test_timeout_after_create_without_hold_resets(chaos: RunningSandbox) -> None:
    client = chaos.client()
    mission_id = _group()
    _install(
        chaos, {"method": "POST", "path": "/v1/payment_intents", "kind": "timeout_after_create"}
    )

    with pytest.raises(stripe.APIConnectionError) as raised:
        client.v1.payment_intents.create(
            {"amount": 2_500, "currency": "eur", "metadata": {"mission_id": mission_id}}
        )

    assert raised.value.should_retry is True
    found = client.v1.payment_intents.search({"query": f"metadata['mission_id']:'{mission_id}'"})
    assert len(found.data) == 1
    assert found.data[0].amount == 2_500


def test_sdk_retry_after_500_creates_once(chaos: RunningSandbox, account_id: str) -> None:
    client = stripe.StripeClient(API_KEY, base_addresses={"api": chaos.url}, max_network_retries=2)
    group = _group()
    _install(
        chaos, {"method": "POST", "path": "/v1/transfers", "kind": "http_500", "max_faults": 1}
    )

    transfer = client.v1.transfers.create(_transfer_params(account_id, group))

    assert [t.id for t in client.v1.transfers.list({"transfer_group": group}).data] == [transfer.id]
    assert _report(chaos)["injected"]["http_500"] == 1


def test_every_nth_request_fails(chaos: RunningSandbox) -> None:
    _install(chaos, {"method": "GET", "path": "/v1/balance", "kind": "http_500", "every": 3})

    statuses = [_get_status(chaos, "/v1/balance") for _ in range(7)]

    assert statuses == [200, 200, 500, 200, 200, 500, 200]
    rule = _report(chaos)["rules"][0]
    assert rule["matched"] == 7
    assert rule["injected"] == 2


def test_seeded_probability_repeats(chaos: RunningSandbox) -> None:
    rule = {"method": "GET", "path": "/v1/balance", "kind": "rate_limit", "probability": 0.5}

    def statuses(seed: int) -> list[int]:
        _install(chaos, {**rule, "seed": seed})
        return [_get_status(chaos, "/v1/balance") for _ in range(8)]

    first = statuses(7)
    second = statuses(7)
    other = statuses(8)

    assert first == second
    assert other != first
    assert set(first) == {200, 429}


def test_counters_per_kind_and_rule(chaos: RunningSandbox) -> None:
    _install(
        chaos,
        {"method": "GET", "path": "/v1/balance", "kind": "http_500", "max_faults": 2},
        {"method": "*", "path": "/v1/*", "kind": "rate_limit", "every": 2},
    )
    for _ in range(4):
        _get_status(chaos, "/v1/balance")
    _get_status(chaos, "/v1/events")

    report = _report(chaos)
    cleared = httpx.delete(chaos.url + FAULTS_PATH, headers=AUTH, timeout=10).json()
    after = _report(chaos)

    # Balance requests 1 and 2 hit rule 0. Rule 1 counts all five requests and fires
    # on its 2nd and 4th, but rule 0 took the 2nd.
    assert [r["matched"] for r in report["rules"]] == [4, 5]
    assert [r["injected"] for r in report["rules"]] == [2, 1]
    assert report["injected"] == {
        "connection_reset": 0,
        "http_500": 2,
        "rate_limit": 1,
        "timeout_after_create": 0,
    }
    assert report["injected_total"] == 3
    assert cleared == report
    assert after["rules"] == []
    assert after["injected_total"] == 0


def test_admin_route_requires_api_key(chaos: RunningSandbox) -> None:
    _install(chaos, {"method": "GET", "path": "/v1/balance", "kind": "http_500"})
    plan: dict[str, list[Any]] = {"rules": []}

    for headers in ({}, {"Authorization": "Bearer sk_test_wrong_key_0000"}):
        responses = [
            httpx.get(chaos.url + FAULTS_PATH, headers=headers),
            httpx.post(chaos.url + FAULTS_PATH, json=plan, headers=headers),
            httpx.delete(chaos.url + FAULTS_PATH, headers=headers),
        ]
        for response in responses:
            assert response.status_code == 401
            assert response.json()["error"]["type"] == "invalid_request_error"

    assert len(_report(chaos)["rules"]) == 1


def test_wrong_api_key_gets_401_not_fault(chaos: RunningSandbox) -> None:
    _install(chaos, {"method": "GET", "path": "/v1/balance", "kind": "http_500"})

    response = httpx.get(
        chaos.url + "/v1/balance", headers={"Authorization": "Bearer sk_test_wrong_key_0000"}
    )

    assert response.status_code == 401
    assert _report(chaos)["rules"][0]["matched"] == 0


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"rules": [{"path": "/v1/transfers", "kind": "disk_full"}]}, "rules.0.kind"),
        (
            {
                "rules": [
                    {"path": "/v1/transfers", "kind": "http_500", "every": 2, "probability": 1}
                ]
            },
            "either probability or every",
        ),
        (
            {"rules": [{"path": "/v1/transfers", "kind": "http_500", "hold_seconds": 1}]},
            "hold_seconds applies only",
        ),
        ({"rules": [{"path": "v1/transfers", "kind": "http_500"}]}, "rules.0.path"),
        ({"rules": [{"path": "/v1/transfers", "kind": "http_500", "typo": 1}]}, "rules.0.typo"),
    ],
)
def test_invalid_plan_is_rejected(
    chaos: RunningSandbox, body: dict[str, Any], problem: str
) -> None:
    response = httpx.post(chaos.url + FAULTS_PATH, json=body, headers=AUTH)

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert problem in response.json()["error"]["message"]
    assert _report(chaos)["rules"] == []


def test_plan_must_be_json(chaos: RunningSandbox) -> None:
    response = httpx.post(chaos.url + FAULTS_PATH, data={"rules": "[]"}, headers=AUTH)

    assert response.status_code == 400
    assert "application/json" in response.json()["error"]["message"]


def test_config_plan_is_installed() -> None:
    rule = FaultRule(path="/v1/refunds", kind=FaultKind.RATE_LIMIT, every=2, seed=1)
    app = create_app(SandboxConfig(api_key=API_KEY, faults=FaultPlan(rules=(rule,))))

    report = app.state.faults.report()

    assert report["rules"][0]["path"] == "/v1/refunds"
    assert report["rules"][0]["kind"] == "rate_limit"
    assert report["rules"][0]["every"] == 2
    assert report["injected_total"] == 0


@pytest.mark.parametrize(
    ("method", "path", "matches"),
    [
        ("POST", "/v1/payment_intents/pi_123/confirm", True),
        ("post", "/v1/payment_intents/pi_123/confirm", True),
        ("GET", "/v1/payment_intents/pi_123/confirm", False),
        ("POST", "/v1/payment_intents/pi_123", False),
        ("POST", "/v1/payment_intents/pi_123/confirm/extra", False),
    ],
)
def test_rule_path_pattern(method: str, path: str, matches: bool) -> None:
    rule = FaultRule(path="/v1/payment_intents/*/confirm", kind=FaultKind.HTTP_500)

    assert rule.matches(method, path) is matches


def test_admin_paths_are_never_faulted(chaos: RunningSandbox) -> None:
    _install(chaos, {"method": "*", "path": "/*/*", "kind": "http_500"})

    assert _report(chaos)["rules"][0]["matched"] == 0


def test_timeout_after_create_is_saved(state_file: Path) -> None:
    config = SandboxConfig(
        api_key=API_KEY,
        state_file=state_file,
        faults=FaultPlan(
            rules=(FaultRule(path="/v1/payment_intents", kind=FaultKind.TIMEOUT_AFTER_CREATE),)
        ),
    )
    params: stripe.params.PaymentIntentCreateParams = {"amount": 1_500, "currency": "eur"}
    with SandboxServer(config) as first_run:
        with pytest.raises(stripe.APIConnectionError):
            first_run.client().v1.payment_intents.create(params, {"idempotency_key": "k-saved"})
        created = first_run.context.store.all("payment_intent")

    # The next run starts without faults, as a retry after a restart would find it.
    with SandboxServer(config.model_copy(update={"faults": FaultPlan()})) as second_run:
        replayed = second_run.client().v1.payment_intents.create(
            params, {"idempotency_key": "k-saved"}
        )

    assert [intent["id"] for intent in created] == [replayed.id]
    assert replayed.last_response is not None
    assert replayed.last_response.headers["Idempotent-Replayed"] == "true"
