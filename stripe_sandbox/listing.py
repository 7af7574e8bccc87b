"""Cursor pagination for list endpoints, newest object first as on Stripe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import parameter_invalid, resource_missing
from .forms import Params

DEFAULT_LIMIT = 10
MAX_LIMIT = 100

Predicate = Callable[[dict[str, Any]], bool]


def created_filter(params: Params, key: str = "created") -> Predicate:
    """Build a filter from `created=<ts>` or `created[gt|gte|lt|lte]=<ts>`."""
    if not params.has(key):
        return lambda obj: True

    raw = params.data[key]
    if isinstance(raw, str):
        exact = params.integer(key)
        return lambda obj: obj["created"] == exact

    bounds = params.nested(key)
    assert bounds is not None
    greater = bounds.integer("gt")
    greater_equal = bounds.integer("gte")
    less = bounds.integer("lt")
    less_equal = bounds.integer("lte")
    bounds.finish()

    def matches(obj: dict[str, Any]) -> bool:
        created = obj["created"]
        if greater is not None and not created > greater:
            return False
        if greater_equal is not None and not created >= greater_equal:
            return False
        if less is not None and not created < less:
            return False
        return less_equal is None or created <= less_equal

    return matches


def paginate(
    objects: list[dict[str, Any]],
    params: Params,
    url: str,
    where: Predicate | None = None,
) -> dict[str, Any]:
    """Return one page of `objects` (given oldest first) as a Stripe list object.

    Reads `limit`, `starting_after`, `ending_before` and `created` from `params`. The
    caller reads its own filters into `where`, and passes all objects of the kind so
    that a cursor outside the filtered set still resolves.
    """
    limit = params.integer("limit", minimum=1, maximum=MAX_LIMIT) or DEFAULT_LIMIT
    starting_after = params.string("starting_after")
    ending_before = params.string("ending_before")
    if starting_after and ending_before:
        raise parameter_invalid(
            "ending_before",
            "Pass either starting_after or ending_before, not both.",
            code="parameters_exclusive",
        )
    matches_created = created_filter(params)
    newest_first = [
        obj for obj in reversed(objects) if matches_created(obj) and (where is None or where(obj))
    ]

    if starting_after or ending_before:
        order = {obj["id"]: position for position, obj in enumerate(objects)}
        cursor = starting_after or ending_before or ""
        if cursor not in order:
            param = "starting_after" if starting_after else "ending_before"
            raise resource_missing("object", cursor, param=param)
        if starting_after:
            older = [obj for obj in newest_first if order[obj["id"]] < order[cursor]]
            page, has_more = older[:limit], len(older) > limit
        else:
            newer = [obj for obj in newest_first if order[obj["id"]] > order[cursor]]
            page, has_more = newer[-limit:], len(newer) > limit
    else:
        page, has_more = newest_first[:limit], len(newest_first) > limit

    return {"object": "list", "data": page, "has_more": has_more, "url": url}
