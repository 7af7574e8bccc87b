"""Fault plans for chaos tests: which requests fail, how, and how often.

A plan is a list of rules. Each rule matches a method and a path pattern in which `*`
stands for exactly one path segment (`/v1/payment_intents/*/confirm`), and fires either
with a probability, on every Nth matching request, or on every matching request when
neither is set. `seed` makes the probability draws repeatable, and `max_faults` stops a
rule after that many faults. Every matching request counts towards each rule it
matches, and the first rule that fires decides the fault.

The kinds:

- `http_500`: a 500 `api_error` response. The request does not run.
- `rate_limit`: a 429 `rate_limit` error. The request does not run.
- `connection_reset`: the connection is reset without a response. The request does
  not run.
- `timeout_after_create`: the request runs and commits, including its idempotency
  record. The response is then held for `hold_seconds`, or until the client gives up,
  and the connection is reset. A retry with the same Idempotency-Key replays the
  stored response.

`fault_middleware` applies a plan to requests, and `admin` exposes it at
`/_sandbox/faults`.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Requests under this prefix configure the sandbox and are never faulted.
ADMIN_PREFIX = "/_sandbox/"


class FaultKind(StrEnum):
    HTTP_500 = "http_500"
    TIMEOUT_AFTER_CREATE = "timeout_after_create"
    CONNECTION_RESET = "connection_reset"
    RATE_LIMIT = "rate_limit"


class FaultRule(BaseModel):
    """One kind of fault for the requests that match a method and a path pattern."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: str = Field(default="POST", description="HTTP method, or '*' for any method.")
    path: str = Field(
        pattern=r"^/",
        description="Path pattern; '*' matches one segment, as in /v1/payment_intents/*/confirm.",
    )
    kind: FaultKind
    probability: float | None = Field(
        default=None, gt=0, le=1, description="Chance that a matching request fails."
    )
    every: int | None = Field(
        default=None, ge=1, description="Fail the Nth, 2Nth, ... matching request."
    )
    seed: int | None = Field(
        default=None, description="Seed of the probability draws, for repeatable runs."
    )
    max_faults: int | None = Field(
        default=None, ge=1, description="Stop injecting after this many faults."
    )
    hold_seconds: float = Field(
        default=0.0,
        ge=0,
        le=600,
        description=(
            "For timeout_after_create: seconds to hold the response before resetting "
            "the connection, unless the client disconnects first. A server shutdown "
            "waits for held responses."
        ),
    )

    @field_validator("method")
    @classmethod
    def _normalize_method(cls, method: str) -> str:
        normalized = method.strip().upper()
        if normalized != "*" and not normalized.isalpha():
            raise ValueError(f"method must be an HTTP method or '*', got {method!r}")
        return normalized

    @model_validator(mode="after")
    def _check_trigger(self) -> FaultRule:
        if self.probability is not None and self.every is not None:
            raise ValueError("set either probability or every, not both")
        if self.hold_seconds and self.kind is not FaultKind.TIMEOUT_AFTER_CREATE:
            raise ValueError("hold_seconds applies only to kind timeout_after_create")
        return self

    def matches(self, method: str, path: str) -> bool:
        if self.method != "*" and self.method != method.upper():
            return False
        pattern_segments = self.path.split("/")
        path_segments = path.split("/")
        if len(pattern_segments) != len(path_segments):
            return False
        return all(
            fnmatch.fnmatchcase(segment, pattern)
            for segment, pattern in zip(path_segments, pattern_segments, strict=True)
        )


class FaultPlan(BaseModel):
    """The fault rules of a sandbox; an empty plan injects nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[FaultRule, ...] = ()


@dataclass(frozen=True)
class Fault:
    """The fault chosen for one request."""

    rule_index: int
    rule: FaultRule

    @property
    def kind(self) -> FaultKind:
        return self.rule.kind


@dataclass
class _RuleState:
    rule: FaultRule
    draws: random.Random
    matched: int = 0
    injected: int = 0

    def fires(self) -> bool:
        """Count one matching request and return whether it gets this rule's fault."""
        self.matched += 1
        if self.rule.max_faults is not None and self.injected >= self.rule.max_faults:
            return False
        if self.rule.every is not None:
            return self.matched % self.rule.every == 0
        if self.rule.probability is not None:
            return self.draws.random() < self.rule.probability
        return True


class FaultInjector:
    """The installed fault plan with its counters; safe to call from any thread.

    Counters belong to the installed plan, so `install` and `clear` reset them.
    """

    def __init__(self, plan: FaultPlan) -> None:
        self._lock = threading.Lock()
        self._rules: list[_RuleState] = []
        self._injected: dict[FaultKind, int] = {}
        self.install(plan)

    def install(self, plan: FaultPlan) -> None:
        with self._lock:
            self._rules = [_RuleState(rule, random.Random(rule.seed)) for rule in plan.rules]
            self._injected = dict.fromkeys(FaultKind, 0)

    def clear(self) -> None:
        self.install(FaultPlan())

    def choose(self, method: str, path: str) -> Fault | None:
        """Return the fault for a request, or None; counts the request and the fault."""
        if path.startswith(ADMIN_PREFIX):
            return None
        with self._lock:
            chosen: Fault | None = None
            for index, state in enumerate(self._rules):
                if not state.rule.matches(method, path):
                    continue
                # Later rules still count the request, so `every` means every Nth
                # matching request whatever the rules before it decided.
                if state.fires() and chosen is None:
                    chosen = Fault(index, state.rule)
            if chosen is not None:
                self._rules[chosen.rule_index].injected += 1
                self._injected[chosen.kind] += 1
            return chosen

    def report(self) -> dict[str, Any]:
        """Return the plan with per-rule and per-kind counters, as the admin route sends it."""
        with self._lock:
            rules = [
                {
                    **state.rule.model_dump(mode="json"),
                    "matched": state.matched,
                    "injected": state.injected,
                }
                for state in self._rules
            ]
            injected = {kind.value: count for kind, count in sorted(self._injected.items())}
        return {
            "object": "sandbox.fault_plan",
            "rules": rules,
            "injected": injected,
            "injected_total": sum(injected.values()),
        }
