"""Compare a mission's final view with its expectation, and format the demo's output lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from missions.demo.scenarios import Expectation


@dataclass(frozen=True)
class Mismatch:
    field: str
    expected: object
    actual: object


@dataclass(frozen=True)
class MissionOutcome:
    """The outcome of one mission of the demo.

    `error` is set when a step failed or the mission could not be read. `view` is the
    last mission view read from the API, or None if none could be read.
    """

    ref: str
    mission_id: str | None = None
    view: dict[str, Any] | None = None
    mismatches: tuple[Mismatch, ...] = ()
    error: str | None = None

    @property
    def matched(self) -> bool:
        return self.error is None and self.view is not None and not self.mismatches


@dataclass
class DemoReport:
    outcomes: list[MissionOutcome] = field(default_factory=list)

    @property
    def matched(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.matched)

    @property
    def all_matched(self) -> bool:
        return bool(self.outcomes) and self.matched == len(self.outcomes)

    def summary(self) -> str:
        return f"{self.matched} of {len(self.outcomes)} missions matched"


def compare(expect: Expectation, view: dict[str, Any]) -> tuple[Mismatch, ...]:
    """List the fields of `view` that differ from `expect`, skipping unset optional fields."""
    money = view.get("money") or {}
    pairs: list[tuple[str, object, object]] = [
        ("final_state", expect.final_state.value, view.get("state")),
        ("captured_minor", expect.captured_minor, money.get("captured_minor")),
        ("provider_payout_minor", expect.provider_payout_minor, money.get("provider_payout_minor")),
        (
            "platform_revenue_minor",
            expect.platform_revenue_minor,
            money.get("platform_revenue_minor"),
        ),
        ("refunded_minor", expect.refunded_minor, money.get("refunded_minor")),
        ("reviews_published", expect.reviews_published, len(view.get("published_reviews") or [])),
    ]
    if expect.auto_released is not None:
        pairs.append(("auto_released", expect.auto_released, view.get("auto_released")))
    if expect.declined_attempts is not None:
        pairs.append(
            ("declined_attempts", expect.declined_attempts, money.get("declined_attempts"))
        )
    if expect.payment_lapsed is not None:
        pairs.append(("payment_lapsed", expect.payment_lapsed, view.get("payment_lapsed")))
    return tuple(
        Mismatch(name, expected, actual) for name, expected, actual in pairs if expected != actual
    )


def format_euros(amount_minor: object) -> str:
    """Format cents as euros, e.g. 12650 as `€126.50`, and a missing amount as `?`."""
    if not isinstance(amount_minor, int):
        return "?"
    sign = "-" if amount_minor < 0 else ""
    euros, cents = divmod(abs(amount_minor), 100)
    return f"{sign}€{euros:,}.{cents:02d}"


def format_outcome(outcome: MissionOutcome, ref_width: int = 0) -> str:
    """Format one finished mission: a result line, then one indented line per problem."""
    mark = "✓" if outcome.matched else "✗"
    head = f"{mark} {outcome.ref.ljust(ref_width)}"
    lines = [f"{head}  {_amounts(outcome.view)}" if outcome.view else head]
    if outcome.error:
        lines.append(f"    {outcome.error}")
    for mismatch in outcome.mismatches:
        lines.append(
            f"    {mismatch.field}: expected {_show(mismatch.field, mismatch.expected)}, "
            f"got {_show(mismatch.field, mismatch.actual)}"
        )
    return "\n".join(lines)


def _amounts(view: dict[str, Any]) -> str:
    money = view.get("money") or {}
    return (
        f"{view.get('state', '?')!s:<20}"
        f" captured {format_euros(money.get('captured_minor'))}"
        f"  payout {format_euros(money.get('provider_payout_minor'))}"
        f"  refunded {format_euros(money.get('refunded_minor'))}"
        f"  platform {format_euros(money.get('platform_revenue_minor'))}"
    )


def _show(field_name: str, value: object) -> str:
    if field_name.endswith("_minor"):
        return format_euros(value)
    return str(value)
