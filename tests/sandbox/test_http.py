"""Wire-level behavior that the SDK hides: auth, form encoding, errors and headers."""

from __future__ import annotations

import base64

import httpx
import pytest
import stripe

from .conftest import API_KEY, RunningSandbox


@pytest.fixture
def http(sandbox: RunningSandbox) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
    )


def test_wrong_api_key_is_rejected(sandbox: RunningSandbox) -> None:
    with pytest.raises(stripe.AuthenticationError) as raised:
        sandbox.client("sk_test_wrong_key_9876").v1.balance.retrieve()

    assert raised.value.http_status == 401
    assert raised.value.error is not None
    assert raised.value.error.type == "invalid_request_error"
    assert raised.value.user_message == "Invalid API Key provided: sk_test_**********9876"


def test_missing_api_key_is_rejected(sandbox: RunningSandbox) -> None:
    response = httpx.get(f"{sandbox.url}/v1/balance")

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["message"].startswith("No API key provided.")


def test_basic_auth_with_key_as_user(sandbox: RunningSandbox) -> None:
    token = base64.b64encode(f"{API_KEY}:".encode()).decode()

    response = httpx.get(f"{sandbox.url}/v1/balance", headers={"Authorization": f"Basic {token}"})

    assert response.status_code == 200
    assert response.json()["object"] == "balance"


def test_unknown_route_is_stripe_error(http: httpx.Client) -> None:
    response = http.get("/v1/customers")

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["message"].startswith(
        "Unrecognized request URL (GET: /v1/customers)."
    )


def test_form_encoding_with_brackets(http: httpx.Client) -> None:
    response = http.post(
        "/v1/payment_intents",
        content=(
            "amount=1500&currency=EUR&metadata[mission_id]=m-1&metadata[client_id]=c-1"
            "&allowed_payment_method_types[]=card&payment_method=pm_card_visa&confirm=true"
            "&expand[]=latest_charge&expand[]=payment_method"
        ),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["currency"] == "eur"
    assert body["metadata"] == {"mission_id": "m-1", "client_id": "c-1"}
    assert body["allowed_payment_method_types"] == ["card"]
    assert body["payment_method_types"] == ["card"]
    assert body["latest_charge"]["object"] == "charge"
    assert body["payment_method"]["object"] == "payment_method"
    assert body["payment_method"]["card"]["last4"] == "4242"
    assert response.headers["Request-Id"].startswith("req_")
    assert response.headers["Content-Type"] == "application/json"


def test_list_expands_data_paths(http: httpx.Client) -> None:
    response = http.get(
        "/v1/charges", params={"limit": "1", "expand[]": "data.balance_transaction"}
    )

    assert response.status_code == 200
    assert response.json()["data"][0]["balance_transaction"]["object"] == "balance_transaction"


def test_unexpandable_path_is_rejected(http: httpx.Client) -> None:
    response = http.get("/v1/charges", params={"limit": "1", "expand[]": "data.currency"})

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "expand"


@pytest.mark.parametrize(
    ("form", "code", "param"),
    [
        ({"currency": "eur"}, "parameter_missing", "amount"),
        ({"amount": "ten", "currency": "eur"}, "parameter_invalid_integer", "amount"),
        ({"amount": "", "currency": "eur"}, "parameter_invalid_empty", "amount"),
        ({"amount": "10", "currency": "eur"}, "amount_too_small", "amount"),
        ({"amount": "1000", "currency": "eur", "colour": "red"}, "parameter_unknown", "colour"),
        (
            {
                "amount": "1000",
                "currency": "eur",
                "automatic_payment_methods[enabled]": "true",
                "automatic_payment_methods[bogus]": "1",
            },
            "parameter_unknown",
            "automatic_payment_methods[bogus]",
        ),
        (
            {
                "amount": "1000",
                "currency": "eur",
                "allowed_payment_method_types[0]": "card",
                "automatic_payment_methods[enabled]": "true",
            },
            "parameters_exclusive",
            "automatic_payment_methods",
        ),
        (
            {"amount": "1000", "currency": "eur", "payment_method_types[0]": "card"},
            "payment_method_types_no_longer_supported",
            "payment_method_types",
        ),
    ],
)
def test_invalid_parameters_are_rejected(
    http: httpx.Client, form: dict[str, str], code: str, param: str
) -> None:
    response = http.post("/v1/payment_intents", data=form)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code
    assert error["param"] == param


def test_older_version_rejects_newer_parameter(http: httpx.Client) -> None:
    response = http.post(
        "/v1/payment_intents",
        data={"amount": "1000", "currency": "eur", "allowed_payment_method_types[0]": "card"},
        headers={"Stripe-Version": "2025-03-31.basil"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parameter_unknown"
    assert response.json()["error"]["param"] == "allowed_payment_method_types"


def test_json_body_is_rejected(http: httpx.Client) -> None:
    response = http.post("/v1/payment_intents", json={"amount": 1000, "currency": "eur"})

    assert response.status_code == 400
    assert "application/x-www-form-urlencoded" in response.json()["error"]["message"]


def test_stripe_account_header_is_rejected(http: httpx.Client) -> None:
    response = http.get("/v1/balance", headers={"Stripe-Account": "acct_123"})

    assert response.status_code == 400
    assert "Stripe-Account" in response.json()["error"]["message"]


def test_unknown_cursor_is_resource_missing(http: httpx.Client) -> None:
    response = http.get("/v1/transfers", params={"starting_after": "tr_missing"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"
    assert response.json()["error"]["param"] == "starting_after"


def test_balance_lists_default_currency(http: httpx.Client) -> None:
    body = http.get("/v1/balance").json()

    assert body["object"] == "balance"
    assert body["livemode"] is False
    assert "usd" in [funds["currency"] for funds in body["available"]]
    assert "usd" in [funds["currency"] for funds in body["pending"]]
