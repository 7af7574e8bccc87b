"""A subset of Stripe's search query language, for `/v1/<resource>/search`.

Supported: clauses `field:value` (exact match), `field~"value"` (substring of at least 3
characters), `field>n`, `field<n`, `field>=n`, `field<=n` on numeric fields, a leading
`-` to negate a clause, `metadata['key']:'value'` (also with double quotes) and
`metadata['key']:null` for a missing key. Clauses join with `AND` or `OR`, not both in
one query, and at most 10 clauses, as Stripe allows. Values are quoted strings, numbers
or `null`.

NOTE: Stripe indexes objects for search with a delay of up to a minute. The sandbox
searches the live store, so read-after-write code that works here can still miss fresh
objects on Stripe.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any, Literal

from .errors import StripeAPIError, parameter_invalid
from .forms import Params

FieldType = Literal["string", "number"]

MAX_CLAUSES = 10
MIN_SUBSTRING_LENGTH = 3

_TOKEN_PATTERN = re.compile(
    r"""
    \s*(?:
        (?P<connector>AND|OR)(?=\s)
      | (?P<clause>
            (?P<negate>-)?
            (?P<field>metadata\[(?:'[^']*'|"[^"]*")\]|[a-z_][a-z0-9_.]*)
            (?P<operator>>=|<=|:|~|>|<)
            (?P<value>'[^']*'|"[^"]*"|[^\s'"]+)
        )
    )\s*
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Clause:
    field: str
    metadata_key: str | None
    operator: str
    value: str | None
    negate: bool


def parse_query(query: str, fields: dict[str, FieldType]) -> tuple[list[Clause], str]:
    """Parse `query` into clauses and the connector ('AND' or 'OR') that joins them."""
    clauses: list[Clause] = []
    connectors: set[str] = set()
    position = 0
    expect_clause = True
    while position < len(query):
        match = _TOKEN_PATTERN.match(query, position)
        if match is None or match.end() == position:
            raise _invalid_query(query, f"unexpected text at position {position}")
        position = match.end()
        if match.group("connector"):
            if expect_clause:
                raise _invalid_query(query, f"'{match.group('connector')}' needs a clause")
            connectors.add(match.group("connector"))
            expect_clause = True
            continue
        if not expect_clause:
            raise _invalid_query(query, "join clauses with AND or OR")
        clauses.append(_build_clause(match, fields, query))
        expect_clause = False

    if not clauses or expect_clause:
        raise _invalid_query(query, "the query is empty or ends with a connector")
    if len(connectors) > 1:
        raise _invalid_query(query, "AND and OR cannot be combined in one query")
    if len(clauses) > MAX_CLAUSES:
        raise _invalid_query(query, f"at most {MAX_CLAUSES} clauses are allowed")
    return clauses, connectors.pop() if connectors else "AND"


def _build_clause(match: re.Match[str], fields: dict[str, FieldType], query: str) -> Clause:
    field = match.group("field")
    operator = match.group("operator")
    raw_value = match.group("value")
    quoted = raw_value[0] in "'\"" and raw_value[-1] == raw_value[0]
    value: str | None = raw_value[1:-1] if quoted else raw_value
    if not quoted and raw_value == "null":
        value = None

    metadata_key = None
    if field.startswith("metadata["):
        metadata_key = field[len("metadata[") + 1 : -2]
        field = "metadata"
        if operator not in (":", "~"):
            raise _invalid_query(query, "metadata supports only ':' and '~'")
    elif field not in fields:
        supported = ", ".join(sorted([*fields, "metadata['key']"]))
        raise _invalid_query(query, f"field {field!r} is not searchable; use {supported}")
    elif operator in (">", "<", ">=", "<=") and fields[field] != "number":
        raise _invalid_query(query, f"field {field!r} does not support {operator!r}")

    if operator == "~" and (value is None or len(value) < MIN_SUBSTRING_LENGTH):
        raise _invalid_query(
            query, f"substring search needs at least {MIN_SUBSTRING_LENGTH} characters"
        )
    numeric = metadata_key is None and fields[field] == "number"
    if numeric and value is not None and not re.fullmatch(r"-?\d+", value):
        raise _invalid_query(query, f"field {field!r} needs an integer, got {value!r}")
    return Clause(field, metadata_key, operator, value, bool(match.group("negate")))


def _invalid_query(query: str, reason: str) -> StripeAPIError:
    return parameter_invalid("query", f"Invalid search query {query!r}: {reason}.")


def matches(obj: dict[str, Any], clauses: list[Clause], connector: str) -> bool:
    results = (_matches_clause(obj, clause) for clause in clauses)
    return all(results) if connector == "AND" else any(results)


def _matches_clause(obj: dict[str, Any], clause: Clause) -> bool:
    if clause.metadata_key is not None:
        actual: Any = (obj.get("metadata") or {}).get(clause.metadata_key)
    else:
        actual = obj.get(clause.field)

    if clause.value is None:
        result = actual is None
    elif actual is None:
        result = False
    elif clause.operator == ":":
        result = str(actual) == clause.value
    elif clause.operator == "~":
        result = clause.value.lower() in str(actual).lower()
    else:
        result = _compare(int(actual), clause.operator, int(clause.value))
    return result != clause.negate


def _compare(actual: int, operator: str, expected: int) -> bool:
    if operator == ">":
        return actual > expected
    if operator == "<":
        return actual < expected
    if operator == ">=":
        return actual >= expected
    return actual <= expected


def search(
    objects: list[dict[str, Any]], params: Params, url: str, fields: dict[str, FieldType]
) -> dict[str, Any]:
    """Return one page of matching `objects` (given oldest first) as a search result."""
    query = params.string("query", required=True)
    assert query is not None
    limit = params.integer("limit", minimum=1, maximum=100) or 10
    page_token = params.string("page")
    offset = _decode_page(page_token) if page_token else 0

    clauses, connector = parse_query(query, fields)
    found = [obj for obj in reversed(objects) if matches(obj, clauses, connector)]
    page = found[offset : offset + limit]
    has_more = offset + limit < len(found)
    return {
        "object": "search_result",
        "data": page,
        "has_more": has_more,
        "next_page": _encode_page(offset + limit) if has_more else None,
        "url": url,
    }


def _encode_page(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_page(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        text = ""
    prefix, _, number = text.partition(":")
    if prefix != "offset" or not number.isdigit():
        raise parameter_invalid(
            "page", f"Invalid page token {token!r}; pass next_page from the previous result."
        )
    return int(number)
