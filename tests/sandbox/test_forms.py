"""Decoding of Stripe's bracketed form parameters and their typed accessors."""

from __future__ import annotations

import pytest

from stripe_sandbox.errors import StripeAPIError
from stripe_sandbox.forms import Params, apply_metadata, as_list, decode_form


def test_decode_nests_brackets() -> None:
    decoded = decode_form(
        [
            ("amount", "100"),
            ("metadata[mission_id]", "m-1"),
            ("capabilities[transfers][requested]", "true"),
            ("expand[]", "latest_charge"),
            ("expand[]", "payment_method"),
            ("payment_method_types[0]", "card"),
        ]
    )

    assert decoded == {
        "amount": "100",
        "metadata": {"mission_id": "m-1"},
        "capabilities": {"transfers": {"requested": "true"}},
        "expand": ["latest_charge", "payment_method"],
        "payment_method_types": {"0": "card"},
    }


@pytest.mark.parametrize(
    "pairs",
    [
        [("metadata", "x"), ("metadata[a]", "y")],
        [("metadata[a]", "y"), ("metadata", "x")],
        [("a]b", "1")],
        [("items[][name]", "x")],
    ],
)
def test_decode_rejects_malformed_keys(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(StripeAPIError) as raised:
        decode_form(pairs)

    assert raised.value.status == 400


def test_as_list_orders_indexed_keys() -> None:
    assert as_list({"1": "b", "0": "a", "10": "c"}, "x") == ["a", "b", "c"]
    assert as_list(["a"], "x") == ["a"]
    assert as_list("", "x") == []


def test_metadata_update_semantics() -> None:
    current = {"a": "1", "b": "2"}

    assert apply_metadata(current, {"b": None, "c": "3"}, "metadata") == {"a": "1", "c": "3"}
    assert apply_metadata(current, {}, "metadata") == {}


def test_metadata_rejects_long_keys() -> None:
    params = Params({"metadata": {"k" * 41: "v"}})

    with pytest.raises(StripeAPIError) as raised:
        params.metadata()

    assert raised.value.param == f"metadata[{'k' * 41}]"


def test_nested_params_name_unknown_keys_in_full() -> None:
    params = Params({"capabilities": {"transfers": {"requested": "true", "extra": "1"}}})
    capabilities = params.nested("capabilities")
    assert capabilities is not None
    transfers = capabilities.nested("transfers")
    assert transfers is not None
    transfers.boolean("requested")

    with pytest.raises(StripeAPIError) as raised:
        transfers.finish()

    assert raised.value.code == "parameter_unknown"
    assert raised.value.param == "capabilities[transfers][extra]"


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False), (None, None)])
def test_boolean_accepts_stripe_spelling(value: str | None, expected: bool | None) -> None:
    data = {} if value is None else {"confirm": value}

    assert Params(data).boolean("confirm") is expected


def test_boolean_rejects_other_values() -> None:
    with pytest.raises(StripeAPIError) as raised:
        Params({"confirm": "yes"}).boolean("confirm")

    assert raised.value.param == "confirm"
