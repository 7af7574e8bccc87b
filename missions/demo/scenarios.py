"""The demo's input files: missions as JSON lines, and the providers' profiles as a JSON list.

Each line of a cases file is one `MissionCase`: the request a client posts, the
applications providers send, a script of steps replayed through the HTTP API, and the
outcome expected at the end. Unknown fields are rejected so that a misspelled key fails
loudly instead of being ignored.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import ErrorDetails

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

# pydantic ends a JSON syntax error with the position in the text it parsed.
_JSON_POSITION = re.compile(r" at line \d+ column (\d+)$")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass(frozen=True)
class Scenario:
    """A cases file's missions and the provider profiles that go with them."""

    cases_path: Path
    cases: list[MissionCase]
    profiles: list[ProviderProfile]


def load_scenario(cases_path: Path, providers_path: Path | None) -> Scenario:
    """Load the cases file and its providers file, checking both before any request.

    `providers_path` None means the first `providers*.json` beside the cases file, and
    no profiles when there is none. Raises ScenarioError for a missing or invalid file.
    """
    cases = load_cases(cases_path)
    providers_path = providers_path or find_providers_file(cases_path)
    profiles = load_providers(providers_path) if providers_path else []
    return Scenario(cases_path, cases, profiles)


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
        if line.lstrip().startswith("["):
            # Checked before parsing, so that a pretty-printed array's lone `[` is named
            # as an array too, not as invalid JSON.
            raise ScenarioError(
                f"{path}, line {line_number}: expected one JSON object per line, got an array"
            )
        try:
            case = MissionCase.model_validate_json(line)
        except ValidationError as error:
            # Each line is parsed alone, so pydantic's JSON line number is always 1.
            description = _describe(error, top_level="one JSON object per line", column_only=True)
            raise ScenarioError(f"{path}, line {line_number}: {description}") from error
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
        description = _describe(error, entry_label="entry", top_level="a JSON array of providers")
        raise ScenarioError(f"{path}: {description}") from error
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
    """Read a UTF-8 file, dropping a leading byte order mark, which some editors write."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ScenarioError(f"cannot read {path}: {error.strerror or error}") from error
    if data.startswith(_UTF16_BOMS):
        raise ScenarioError(
            f"{path} is not UTF-8 text: it starts with a UTF-16 byte order mark "
            "(byte offset 0); save the file as UTF-8"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        # The utf-8-sig codec counts positions after the byte order mark it removed.
        offset = error.start + (len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0)
        line_number = data.count(b"\n", 0, offset) + 1
        raise ScenarioError(
            f"{path} is not UTF-8 text: invalid byte 0x{data[offset]:02x} at byte offset "
            f"{offset} (line {line_number}); save the file as UTF-8"
        ) from error


def _describe(
    error: ValidationError,
    *,
    entry_label: str | None = None,
    top_level: str,
    column_only: bool = False,
) -> str:
    """Describe the first validation error, e.g. `field <path>: <message>`.

    An unknown field comes first, followed by a field missing beside it, because together
    they usually mean a misspelled key. `top_level` names the JSON value the whole text
    must be, for when it is another kind. With `entry_label`, a leading list index is
    named as that entry, e.g. `entry 2`. With `column_only`, a JSON syntax error gives
    its column but not its line.
    """
    errors = error.errors()
    first = errors[0]
    if first["type"] == "json_invalid":
        reason = str(first.get("ctx", {}).get("error", first["msg"]))
        if column_only:
            reason = _JSON_POSITION.sub(r" at column \1", reason)
        return f"invalid JSON: {reason}"
    if first["type"] in ("model_type", "list_type") and not first["loc"]:
        return f"expected {top_level}, got {_json_kind(first['input'])}"

    unknown = [item for item in errors if item["type"] == "extra_forbidden"]
    if unknown:
        first = unknown[0]
        described = [first]
        parent = first["loc"][:-1]
        missing = [
            item for item in errors if item["type"] == "missing" and item["loc"][:-1] == parent
        ]
        if missing:
            described.append(missing[0])
    else:
        described = [first]
    text = "; ".join(_describe_one(item, entry_label) for item in described)
    more = len(errors) - len(described)
    if more:
        text += f" (and {more} more error{'s' if more > 1 else ''})"
    return text


def _describe_one(item: ErrorDetails, entry_label: str | None) -> str:
    location = list(item["loc"])
    prefix = ""
    if entry_label and location and isinstance(location[0], int):
        prefix = f"{entry_label} {location.pop(0)}, "
    if item["type"] == "extra_forbidden":
        return f"{prefix}unknown field '{_dotted(location)}'"
    if item["type"] == "value_error":
        message = str(item.get("ctx", {}).get("error", item["msg"]))
    else:
        message = item["msg"][:1].lower() + item["msg"][1:]
    if not location:
        return f"{prefix}{message}"
    return f"{prefix}field {_dotted(location)}: {message}"


def _json_kind(value: object) -> str:
    """Name the kind of a parsed JSON value, with its article: `an array`, `a string`."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"


def _dotted(location: list[int | str]) -> str:
    """Format a pydantic error location as `script[2].pay.payment_method`."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
