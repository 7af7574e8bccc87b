"""Decoding and validation of Stripe's form-encoded request parameters.

Stripe's v1 API takes `application/x-www-form-urlencoded` bodies (and query strings for
GET) whose keys nest with brackets: `metadata[mission_id]=m1`,
`capabilities[transfers][requested]=true`, `expand[]=latest_charge`, and the indexed
list form `allowed_payment_method_types[0]=card` that stripe-python sends. `decode_form`
turns them into nested dicts. Indexed keys stay dict keys until `Params` reads the value
as a list, so metadata keys that happen to be digits survive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .errors import (
    StripeAPIError,
    invalid_request,
    parameter_invalid,
    parameter_missing,
    parameter_unknown,
)

_KEY_PATTERN = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT_PATTERN = re.compile(r"\[([^\[\]]*)\]")
_CURRENCY_PATTERN = re.compile(r"^[A-Za-z]{3}$")

# Stripe's documented metadata limits.
METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LENGTH = 40
METADATA_MAX_VALUE_LENGTH = 500

# A metadata update maps each key to its new value, or to None to delete the key.
MetadataUpdate = dict[str, str | None]


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest decoded `key=value` pairs by their bracket segments.

    Raises StripeAPIError (400) for a malformed key, or when a key is sent both as a
    plain value and as a nested hash.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY_PATTERN.match(key)
        if match is None:
            raise invalid_request(f"Invalid parameter name: {key!r}.", param=key)
        segments = [match.group(1), *_SEGMENT_PATTERN.findall(match.group(2))]
        _insert(root, segments, value, key)
    return root


def _insert(root: dict[str, Any], segments: list[str], value: str, key: str) -> None:
    node: dict[str, Any] = root
    for position, segment in enumerate(segments[:-1]):
        following = segments[position + 1]
        if segment == "":
            raise invalid_request(
                f"Invalid parameter name: {key!r}. Use indexed keys such as "
                "'items[0][name]' for lists of hashes.",
                param=key,
            )
        child = node.get(segment)
        if child is None:
            child = [] if following == "" else {}
            node[segment] = child
        if following == "":
            if not isinstance(child, list):
                raise _conflict(key)
            child.append(value)
            if position + 1 != len(segments) - 1:
                raise invalid_request(
                    f"Invalid parameter name: {key!r}. '[]' may only end a key.", param=key
                )
            return
        if not isinstance(child, dict):
            raise _conflict(key)
        node = child

    last = segments[-1]
    if isinstance(node.get(last), dict | list):
        raise _conflict(key)
    node[last] = value


def _conflict(key: str) -> StripeAPIError:
    return invalid_request(
        f"Invalid parameter {key!r}: it was sent both as a value and as a nested hash.",
        param=key,
    )


class Params:
    """Typed, validating access to one level of decoded parameters.

    Each accessor marks its key as read; `finish()` then rejects every key that the
    endpoint did not read, as Stripe does with `parameter_unknown`. `prefix` makes error
    messages name nested keys in full, e.g. `capabilities[transfers][requested]`.
    """

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self._data = data
        self._prefix = prefix
        self._read: set[str] = {"expand"} if not prefix else set()

    @property
    def data(self) -> dict[str, Any]:
        return self._data

    def name(self, key: str) -> str:
        return f"{self._prefix}[{key}]" if self._prefix else key

    def has(self, key: str) -> bool:
        return key in self._data

    def raw(self, key: str) -> Any:
        self._read.add(key)
        return self._data.get(key)

    def string(self, key: str, *, required: bool = False, max_length: int = 5000) -> str | None:
        value = self.raw(key)
        if value is None:
            if required:
                raise parameter_missing(self.name(key))
            return None
        if not isinstance(value, str):
            raise parameter_invalid(
                self.name(key), f"Invalid {self.name(key)}: expected a string, got a hash or list."
            )
        if value == "" and required:
            raise _empty(self.name(key))
        if len(value) > max_length:
            raise parameter_invalid(
                self.name(key),
                f"Invalid {self.name(key)}: must be at most {max_length} characters.",
            )
        return value

    def optional_string(self, key: str, *, max_length: int = 5000) -> str | None:
        """Read a string that an empty value unsets, as Stripe treats `description=`."""
        value = self.string(key, max_length=max_length)
        return value or None

    def integer(
        self,
        key: str,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self.raw(key)
        if value is None:
            if required:
                raise parameter_missing(self.name(key))
            return None
        if value == "":
            raise _empty(self.name(key))
        if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
            raise parameter_invalid(
                self.name(key),
                f"Invalid integer for {self.name(key)}: {value!r}.",
                code="parameter_invalid_integer",
            )
        number = int(value)
        if minimum is not None and number < minimum:
            raise parameter_invalid(
                self.name(key),
                f"Invalid {self.name(key)}: must be at least {minimum}.",
                code="parameter_invalid_integer",
            )
        if maximum is not None and number > maximum:
            raise parameter_invalid(
                self.name(key),
                f"Invalid {self.name(key)}: must be at most {maximum}.",
                code="parameter_invalid_integer",
            )
        return number

    def boolean(self, key: str) -> bool | None:
        value = self.raw(key)
        if value is None:
            return None
        if value in ("true", "false"):
            return value == "true"
        raise parameter_invalid(
            self.name(key), f"Invalid boolean: {value!r}. Use 'true' or 'false'."
        )

    def choice(self, key: str, choices: Iterable[str], *, required: bool = False) -> str | None:
        allowed = sorted(choices)
        value = self.string(key, required=required)
        if value is None or value == "":
            return None
        if value not in allowed:
            raise parameter_invalid(
                self.name(key),
                f"Invalid {self.name(key)}: must be one of {', '.join(allowed)}.",
            )
        return value

    def currency(self, key: str, *, required: bool = False) -> str | None:
        value = self.string(key, required=required)
        if value is None:
            return None
        if not _CURRENCY_PATTERN.match(value):
            raise parameter_invalid(
                self.name(key),
                f"Invalid currency: {value}. Use a three-letter ISO code such as 'usd'.",
            )
        return value.lower()

    def string_list(self, key: str) -> list[str] | None:
        value = self.raw(key)
        if value is None:
            return None
        items = as_list(value, self.name(key))
        for item in items:
            if not isinstance(item, str):
                raise parameter_invalid(
                    self.name(key), f"Invalid {self.name(key)}: expected a list of strings."
                )
        return items

    def nested(self, key: str) -> Params | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise parameter_invalid(
                self.name(key),
                f"Invalid {self.name(key)}: expected a hash such as '{self.name(key)}[key]=value'.",
            )
        return Params(value, self.name(key))

    def metadata(self, key: str = "metadata") -> MetadataUpdate | None:
        """Read a metadata update; an empty string clears every key, as on Stripe."""
        value = self.raw(key)
        if value is None:
            return None
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise parameter_invalid(
                self.name(key),
                f"Invalid {self.name(key)}: expected a hash such as '{self.name(key)}[key]=value'.",
            )
        update: MetadataUpdate = {}
        for meta_key, meta_value in value.items():
            full_name = f"{self.name(key)}[{meta_key}]"
            if not isinstance(meta_value, str):
                raise parameter_invalid(
                    full_name, f"Invalid {full_name}: metadata values must be strings."
                )
            if len(meta_key) > METADATA_MAX_KEY_LENGTH:
                raise parameter_invalid(
                    full_name,
                    f"Metadata keys can have up to {METADATA_MAX_KEY_LENGTH} characters; "
                    f"{meta_key!r} has {len(meta_key)}.",
                )
            if len(meta_value) > METADATA_MAX_VALUE_LENGTH:
                raise parameter_invalid(
                    full_name,
                    f"Metadata values can have up to {METADATA_MAX_VALUE_LENGTH} characters.",
                )
            update[meta_key] = meta_value or None
        return update

    def expand(self) -> list[str]:
        value = self._data.get("expand")
        if value is None:
            return []
        paths = as_list(value, "expand")
        if not all(isinstance(path, str) for path in paths):
            raise parameter_invalid("expand", "Invalid expand: expected a list of strings.")
        return paths

    def finish(self) -> None:
        """Raise parameter_unknown for the first key that no accessor read."""
        for key in self._data:
            if key not in self._read:
                raise parameter_unknown(self.name(key))


def as_list(value: Any, name: str) -> list[Any]:
    """Return a list from `a[]=x` (a list) or `a[0]=x` (a dict with index keys)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and all(key.isdigit() for key in value):
        return [value[key] for key in sorted(value, key=int)]
    if value == "":
        return []
    raise parameter_invalid(
        name, f"Invalid {name}: expected a list, as '{name}[]=a' or '{name}[0]=a'."
    )


def apply_metadata(current: dict[str, str], update: MetadataUpdate, param: str) -> dict[str, str]:
    """Return `current` merged with `update`; `{}` as a whole update clears all keys."""
    if not update:
        return {}
    merged = dict(current)
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > METADATA_MAX_KEYS:
        raise parameter_invalid(
            param,
            f"Metadata can have up to {METADATA_MAX_KEYS} keys; this update has {len(merged)}.",
        )
    return merged


def _empty(name: str) -> StripeAPIError:
    return parameter_invalid(
        name,
        f"You passed an empty string for '{name}', which cannot be unset. Pass a value "
        "or leave the parameter out.",
        code="parameter_invalid_empty",
    )
