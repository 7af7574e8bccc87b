"""In-memory object store with optional JSON persistence.

All objects are plain dicts in Stripe's response shape, kept per kind in creation order.
One re-entrant lock guards the whole store. Request handlers hold it for their whole
run, so each API call is atomic with respect to the others and to webhook bookkeeping.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import secrets
import string
import tempfile
import threading
from pathlib import Path
from typing import Any

from .errors import resource_missing

logger = logging.getLogger(__name__)

STATE_FORMAT_VERSION = 1

# Object kind -> id prefix. The prefixes are Stripe's, so ids look familiar in logs and
# `find()` can route any id back to its kind.
PREFIXES: dict[str, str] = {
    "account": "acct",
    "balance_transaction": "txn",
    "charge": "ch",
    "dispute": "dp",
    "event": "evt",
    "payment_intent": "pi",
    "payment_method": "pm",
    "refund": "re",
    "transfer": "tr",
    "transfer_reversal": "trr",
}
_KIND_BY_PREFIX = {prefix: kind for kind, prefix in PREFIXES.items()}
_ID_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{random_token(length)}"


class Store:
    """Objects by kind and id, idempotency records, and the state file behind them."""

    def __init__(self, state_file: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.state_file = state_file
        self.objects: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in PREFIXES}
        self.idempotency: dict[str, dict[str, Any]] = {}

    def new_id(self, kind: str) -> str:
        # Stripe's connected account ids are shorter than its other ids.
        length = 16 if kind == "account" else 24
        while True:
            candidate = new_id(PREFIXES[kind], length)
            if candidate not in self.objects[kind]:
                return candidate

    def insert(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects[kind][obj["id"]] = obj
        return obj

    def get(self, kind: str, object_id: str) -> dict[str, Any] | None:
        return self.objects[kind].get(object_id)

    def require(
        self, kind: str, object_id: str, *, param: str | None = None, label: str | None = None
    ) -> dict[str, Any]:
        """Return the object or raise Stripe's 404 `resource_missing` naming `label`."""
        obj = self.objects[kind].get(object_id)
        if obj is None:
            raise resource_missing(label or kind, object_id, param=param)
        return obj

    def all(self, kind: str) -> list[dict[str, Any]]:
        """Return the objects of one kind, oldest first."""
        return list(self.objects[kind].values())

    def find(self, object_id: str) -> dict[str, Any] | None:
        """Return the object with this id, whatever its kind, for `expand`."""
        prefix = object_id.split("_", 1)[0]
        kind = _KIND_BY_PREFIX.get(prefix)
        if kind is None:
            return None
        return self.objects[kind].get(object_id)

    def load(self) -> None:
        """Read the state file if it exists; a missing file means an empty store."""
        if self.state_file is None or not self.state_file.exists():
            return
        with self.state_file.open(encoding="utf-8") as handle:
            state = json.load(handle)
        version = state.get("version")
        if version != STATE_FORMAT_VERSION:
            raise ValueError(
                f"State file {self.state_file} has format version {version!r}, expected "
                f"{STATE_FORMAT_VERSION}. Move it away to start with an empty sandbox."
            )
        for kind in PREFIXES:
            self.objects[kind] = dict(state["objects"].get(kind, {}))
        self.idempotency = dict(state.get("idempotency", {}))
        counts = ", ".join(f"{kind}={len(items)}" for kind, items in self.objects.items())
        logger.info("Loaded sandbox state from %s (%s)", self.state_file, counts)

    def save(self) -> None:
        """Write the whole store to the state file atomically, if one is configured.

        The write goes to a temporary file in the same directory and replaces the old
        file, so a crash mid-write leaves the previous state intact. It runs under the
        lock, so an older state can never overwrite a newer one.

        NOTE: each call serializes every object, so its cost grows with the store. With
        2,018 payments (33 MB of JSON) one call spent about 0.3 s serializing, which
        suits the demo's dozens of payments but not thousands.
        """
        if self.state_file is None:
            return
        with self.lock:
            state = {
                "version": STATE_FORMAT_VERSION,
                "objects": self.objects,
                "idempotency": self.idempotency,
            }
            payload = json.dumps(state, separators=(",", ":"))
            directory = self.state_file.parent
            directory.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".sandbox-state-")
            try:
                with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                    handle.write(payload)
                os.replace(temporary, self.state_file)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise


def snapshot(obj: dict[str, Any]) -> dict[str, Any]:
    """Return a deep copy, so later changes to the stored object do not leak into it."""
    return copy.deepcopy(obj)
