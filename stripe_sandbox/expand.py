"""The `expand[]` request parameter: replace id strings with the objects they name."""

from __future__ import annotations

from typing import Any

from .errors import parameter_invalid
from .store import Store, snapshot

# Stripe rejects expansions nested deeper than four levels.
MAX_DEPTH = 4


def expand(obj: dict[str, Any], paths: list[str], store: Store) -> dict[str, Any]:
    """Return a copy of `obj` with each dotted path in `paths` expanded.

    A list response takes paths starting with `data.`, as on Stripe. A path whose
    value is not an id of a stored object raises 400 with param `expand`.
    """
    if not paths:
        return obj
    result = snapshot(obj)
    for path in paths:
        parts = path.split(".")
        if len(parts) > MAX_DEPTH + (1 if result.get("object") in _LIST_OBJECTS else 0):
            raise parameter_invalid(
                "expand", f"You cannot expand more than {MAX_DEPTH} levels of a property."
            )
        _expand_path(result, parts, path, store)
    return result


_LIST_OBJECTS = ("list", "search_result")


def _expand_path(node: Any, parts: list[str], path: str, store: Store) -> None:
    if not parts:
        return
    if isinstance(node, list):
        for item in node:
            _expand_path(item, parts, path, store)
        return
    if not isinstance(node, dict):
        raise _not_expandable(path)

    head, rest = parts[0], parts[1:]
    if head not in node:
        raise _not_expandable(path)
    value = node[head]
    if head == "data" and node.get("object") in _LIST_OBJECTS:
        _expand_path(value, rest, path, store)
        return
    if isinstance(value, str):
        target = store.find(value)
        if target is None:
            raise _not_expandable(path)
        value = snapshot(target)
        node[head] = value
    elif value is None:
        return
    elif not isinstance(value, dict):
        raise _not_expandable(path)
    _expand_path(value, rest, path, store)


def _not_expandable(path: str) -> Exception:
    return parameter_invalid("expand", f"This property cannot be expanded ({path}).")
