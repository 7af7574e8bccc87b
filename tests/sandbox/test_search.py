"""The search query subset: parsing and matching."""

from __future__ import annotations

from typing import Any

import pytest

from stripe_sandbox.errors import StripeAPIError
from stripe_sandbox.search import FieldType, matches, parse_query

FIELDS: dict[str, FieldType] = {"amount": "number", "status": "string", "currency": "string"}
INTENT: dict[str, Any] = {
    "amount": 2_000,
    "status": "succeeded",
    "currency": "eur",
    "metadata": {"mission_id": "m-1", "client_id": "c-9"},
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("metadata['mission_id']:'m-1'", True),
        ('metadata["mission_id"]:"m-1"', True),
        ("metadata['mission_id']:'m-2'", False),
        ("-metadata['mission_id']:'m-2'", True),
        ("metadata['missing']:null", True),
        ("-metadata['mission_id']:null", True),
        ("status:'succeeded' AND amount>=2000", True),
        ("status:'succeeded' AND amount>2000", False),
        ("status:'canceled' OR currency:'eur'", True),
        ("amount:2000", True),
        ("amount<1000", False),
        ("metadata['client_id']~'c-9'", True),
        ("status~'succ'", True),
    ],
)
def test_query_matches(query: str, expected: bool) -> None:
    clauses, connector = parse_query(query, FIELDS)

    assert matches(INTENT, clauses, connector) is expected


@pytest.mark.parametrize(
    "query",
    [
        "",
        "status:'succeeded' AND",
        "status:'succeeded' amount>1",
        "status:'succeeded' AND amount>1 OR amount<5",
        "customer:'cus_1'",
        "status>'a'",
        "amount>ten",
        "status~'su'",
        "metadata['k']>1",
        " AND ".join(["amount>1"] * 11),
    ],
)
def test_invalid_queries_are_rejected(query: str) -> None:
    with pytest.raises(StripeAPIError) as raised:
        parse_query(query, FIELDS)

    assert raised.value.status == 400
    assert raised.value.param == "query"
