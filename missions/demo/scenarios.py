"""The demo's input files: missions as JSON lines, and the providers' profiles as a JSON list.

Each line of a cases file is one `MissionCase`: the request a client posts, the
applications providers send, a script of steps replayed through the HTTP API, and the
outcome expected at the end. Unknown fields are rejected so that a misspelled key fails
loudly instead of being ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from missions.contracts import IncidentKind, MissionState

Party = Literal["client", "provider", "ops"]

# The Stripe test payment methods that always fail with a `card_declined` error.
DECLINING_PAYMENT_METHODS = frozenset(
    {"pm_card_chargeDeclined", "pm_card_chargeDeclinedInsufficientFunds"}
)


class ScenarioError(ValueError):
    """A cases or providers file that cannot be read or does not match the format."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Step(_Model):
    # An error code (`invalid_state`, `forbidden`...) the step must fail with. The run
    # then counts that failure as expected and goes on.
    expect_error: str | None = None


class SelectStep(_Step):
    do: Literal["select"]
    application: int = Field(ge=0)


class PayStep(_Step):
    do: Literal["pay"]
    payment_method: str = Field(min_length=1)


class RequestReleaseStep(_Step):
    do: Literal["request_release"]
    by: Party = "provider"


class ConfirmStep(_Step):
    do: Literal["confirm"]
    by: Party = "client"


class DisputeStep(_Step):
    do: Literal["dispute"]
    by: Party = "client"
    reason: str = Field(min_length=1)


class ResolveStep(_Step):
    do: Literal["resolve"]
    by: Party = "ops"
    refund_minor: int = Field(ge=0)
    release_minor: int = Field(ge=0)
    note: str = ""


class IncidentStep(_Step):
    do: Literal["incident"]
    by: Party
    kind: IncidentKind
    text: str = Field(min_length=1)


class CancelStep(_Step):
    do: Literal["cancel"]
    by: Literal["client", "provider"]
    reason: str = ""


class WithdrawApplicationStep(_Step):
    do: Literal["withdraw_application"]
    application: int = Field(ge=0)


class MessageStep(_Step):
    do: Literal["message"]
    by: Party
    text: str = Field(min_length=1)


class ReviewStep(_Step):
    do: Literal["review"]
    by: Literal["client", "provider"]
    stars: int = Field(ge=1, le=5)
    comment: str = ""


class WaitStep(_Step):
    do: Literal["wait"]
    until_state: MissionState


Step = Annotated[
    SelectStep
    | PayStep
    | RequestReleaseStep
    | ConfirmStep
    | DisputeStep
    | ResolveStep
    | IncidentStep
    | CancelStep
    | WithdrawApplicationStep
    | MessageStep
    | ReviewStep
    | WaitStep,
    Field(discriminator="do"),
]


class ApplicationCase(_Model):
    provider: str = Field(min_length=1, max_length=128)
    price_minor: int = Field(gt=0)
    message: str = Field(min_length=1)
    proposed_in_days: int | None = Field(default=None, ge=0)


class Expectation(_Model):
    """The outcome a mission must reach. Optional fields are compared only when set."""

    final_state: MissionState
    captured_minor: int = Field(ge=0)
    provider_payout_minor: int = Field(ge=0)
    platform_revenue_minor: int = Field(ge=0)
    refunded_minor: int = Field(ge=0)
    reviews_published: int = Field(ge=0, le=2)
    auto_released: bool | None = None
    declined_attempts: int | None = Field(default=None, ge=0)
    payment_lapsed: bool | None = None


class MissionCase(_Model):
    ref: str = Field(min_length=1, max_length=80)
    client: str = Field(min_length=1, max_length=128)
    title: str
    description: str
    category: str
    city: str
    postcode: str = Field(pattern=r"^[0-9]{5}$")
    # Days from posting to the appointment. Fractions are allowed, so that a mission can
    # fall inside the late-cancellation window. Null posts a mission with no date.
    scheduled_in_days: float | None = Field(ge=0)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    applications: list[ApplicationCase] = []
    script: list[Step] = []
    expect: Expectation

    @model_validator(mode="after")
    def _check_application_indexes(self) -> MissionCase:
        for number, step in enumerate(self.script):
            index = getattr(step, "application", None)
            if index is not None and index >= len(self.applications):
                raise ValueError(
                    f"script[{number}] ({step.do}) names application {index}, but the "
                    f"mission has {len(self.applications)} application(s), indexed from 0"
                )
        return self

    @property
    def provider_ids(self) -> list[str]:
        return list(dict.fromkeys(application.provider for application in self.applications))


class ProviderProfile(_Model):
    id: str = Field(min_length=1, max_length=128)
    presentation: str = Field(min_length=1, max_length=4000)
    display_name: str | None = Field(default=None, min_length=1, max_length=80)


_PROVIDER_LIST = TypeAdapter(list[ProviderProfile])


def load_cases(path: Path) -> list[MissionCase]:
    """Parse a cases file, one mission per non-blank line.

    Raises ScenarioError naming the file, the line number and the invalid field.
    """
    text = _read(path)
    cases: list[MissionCase] = []
    first_line_of_ref: dict[str, int] = {}
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = MissionCase.model_validate_json(line)
        except ValidationError as error:
            raise ScenarioError(f"{path}, line {line_number}: {_describe(error)}") from error
        if case.ref in first_line_of_ref:
            raise ScenarioError(
                f"{path}, line {line_number}: ref {case.ref!r} is already used on line "
                f"{first_line_of_ref[case.ref]}; each mission needs its own ref"
            )
        first_line_of_ref[case.ref] = line_number
        cases.append(case)
    if not cases:
        raise ScenarioError(f"{path} contains no mission; expected one JSON object per line")
    return cases


def load_providers(path: Path) -> list[ProviderProfile]:
    """Parse a providers file: a JSON list of `{"id", "presentation"}` objects.

    Raises ScenarioError naming the file, the entry's index and the invalid field.
    """
    text = _read(path)
    try:
        providers = _PROVIDER_LIST.validate_json(text)
    except ValidationError as error:
        raise ScenarioError(f"{path}: {_describe(error, entry_label='entry')}") from error
    seen: set[str] = set()
    for provider in providers:
        if provider.id in seen:
            raise ScenarioError(f"{path}: provider id {provider.id!r} is listed twice")
        seen.add(provider.id)
    return providers


def find_providers_file(cases_path: Path) -> Path | None:
    """Return the first `providers*.json` beside the cases file, by name, or None."""
    candidates = sorted(cases_path.parent.glob("providers*.json"))
    return candidates[0] if candidates else None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(f"cannot read {path}: {error.strerror or error}") from error


def _describe(error: ValidationError, *, entry_label: str | None = None) -> str:
    """Describe the first validation error as `field <path>: <message>`.

    With `entry_label`, a leading list index is named as that entry, e.g. `entry 2`.
    """
    errors = error.errors()
    first = errors[0]
    if first["type"] == "json_invalid":
        return f"invalid JSON: {first['msg']}"
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "value_error":
        message = str(first.get("ctx", {}).get("error", first["msg"]))
    else:
        message = first["msg"][:1].lower() + first["msg"][1:]
    location = list(first["loc"])
    prefix = ""
    if entry_label and location and isinstance(location[0], int):
        prefix = f"{entry_label} {location.pop(0)}, "
    more = len(errors) - 1
    suffix = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
    if not location:
        return f"{prefix}{message}{suffix}"
    return f"{prefix}field {_dotted(location)}: {message}{suffix}"


def _dotted(location: list[int | str]) -> str:
    """Format a pydantic error location as `script[2].pay.payment_method`."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
