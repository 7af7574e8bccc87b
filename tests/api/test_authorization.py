"""Every cell of the authorization matrix over HTTP: who may take which action in which state.

`EXPECTED` is written out by hand from the rules as documented in docs/api.md, not derived
from `missions.rules`, so a change to the rules fails here until the table is updated on
purpose. One mission per state serves every check that leaves its state unchanged. Each
allowed command that changes the state gets a mission of its own, built up to that state.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest

from missions.contracts import Actor, MissionState, Role
from missions.rules import RULES, Action
from tests.api.conftest import LiveApi

OK = "ok"
FORBIDDEN = "forbidden"
STATE = "invalid_state"
CONFLICT = "conflict"
NA = "n/a"  # No such party: no provider is selected before selection or after expiry.

# Columns of every row below.
PARTIES = (
    "client",
    "selected",
    "applicant",
    "other_provider",
    "other_client",
    "ops",
    "service",
)
# A service acting for a user gets exactly that user's responses.
ACTING_FOR = {"service_for_client": "client", "service_for_selected": "selected"}

F, I, C = FORBIDDEN, STATE, CONFLICT  # noqa: E741

# state -> action -> outcome per party, in the order of PARTIES:
#   client, selected, applicant, other_provider, other_client, ops, service
EXPECTED: dict[str, dict[str, tuple[str, ...]]] = {
    "open": {
        "read": (OK, NA, OK, OK, F, OK, OK),
        "apply": (F, NA, C, OK, F, F, F),
        "withdraw_application": (F, NA, OK, F, F, F, F),
        "select": (OK, NA, F, F, F, F, F),
        "confirm_payment": (I, NA, F, F, F, F, F),
        "request_release": (F, NA, F, F, F, F, F),
        "confirm_completion": (I, NA, F, F, F, I, F),
        "dispute": (I, NA, F, F, F, I, F),
        "resolve_dispute": (F, NA, F, F, F, I, F),
        "report_incident": (I, NA, F, F, F, I, F),
        "cancel": (OK, NA, F, F, F, OK, F),
        "review": (I, NA, F, F, F, F, F),
        "post_message": (OK, NA, OK, OK, F, OK, F),
    },
    "awaiting_payment": {
        "read": (OK, OK, OK, I, F, OK, OK),
        "apply": (F, F, I, I, F, F, F),
        "withdraw_application": (F, F, I, F, F, F, F),
        "select": (I, F, F, F, F, F, F),
        "confirm_payment": (OK, F, F, F, F, F, F),
        "request_release": (F, I, F, F, F, F, F),
        "confirm_completion": (I, F, F, F, F, I, F),
        "dispute": (I, F, F, F, F, I, F),
        "resolve_dispute": (F, F, F, F, F, I, F),
        "report_incident": (OK, OK, F, F, F, OK, F),
        "cancel": (OK, OK, F, F, F, OK, F),
        "review": (I, I, F, F, F, F, F),
        "post_message": (OK, OK, OK, I, F, OK, F),
    },
    "funded": {
        "read": (OK, OK, OK, I, F, OK, OK),
        "apply": (F, F, I, I, F, F, F),
        "withdraw_application": (F, F, I, F, F, F, F),
        "select": (I, F, F, F, F, F, F),
        "confirm_payment": (I, F, F, F, F, F, F),
        "request_release": (F, OK, F, F, F, F, F),
        "confirm_completion": (OK, F, F, F, F, OK, F),
        "dispute": (OK, F, F, F, F, OK, F),
        "resolve_dispute": (F, F, F, F, F, I, F),
        "report_incident": (OK, OK, F, F, F, OK, F),
        "cancel": (OK, OK, F, F, F, OK, F),
        "review": (I, I, F, F, F, F, F),
        "post_message": (OK, OK, OK, I, F, OK, F),
    },
    "completion_requested": {
        "read": (OK, OK, OK, I, F, OK, OK),
        "apply": (F, F, I, I, F, F, F),
        "withdraw_application": (F, F, I, F, F, F, F),
        "select": (I, F, F, F, F, F, F),
        "confirm_payment": (I, F, F, F, F, F, F),
        "request_release": (F, I, F, F, F, F, F),
        "confirm_completion": (OK, F, F, F, F, OK, F),
        "dispute": (OK, F, F, F, F, OK, F),
        "resolve_dispute": (F, F, F, F, F, I, F),
        "report_incident": (OK, OK, F, F, F, OK, F),
        "cancel": (I, I, F, F, F, OK, F),
        "review": (I, I, F, F, F, F, F),
        "post_message": (OK, OK, OK, I, F, OK, F),
    },
    "disputed": {
        "read": (OK, OK, OK, I, F, OK, OK),
        "apply": (F, F, I, I, F, F, F),
        "withdraw_application": (F, F, I, F, F, F, F),
        "select": (I, F, F, F, F, F, F),
        "confirm_payment": (I, F, F, F, F, F, F),
        "request_release": (F, I, F, F, F, F, F),
        "confirm_completion": (I, F, F, F, F, I, F),
        "dispute": (I, F, F, F, F, I, F),
        "resolve_dispute": (F, F, F, F, F, OK, F),
        "report_incident": (OK, OK, F, F, F, OK, F),
        "cancel": (I, I, F, F, F, I, F),
        "review": (I, I, F, F, F, F, F),
        "post_message": (OK, OK, OK, I, F, OK, F),
    },
    "released": {
        "read": (OK, OK, OK, I, F, OK, OK),
        "apply": (F, F, I, I, F, F, F),
        "withdraw_application": (F, F, I, F, F, F, F),
        "select": (I, F, F, F, F, F, F),
        "confirm_payment": (I, F, F, F, F, F, F),
        "request_release": (F, I, F, F, F, F, F),
        "confirm_completion": (I, F, F, F, F, I, F),
        "dispute": (I, F, F, F, F, I, F),
        "resolve_dispute": (F, F, F, F, F, I, F),
        "report_incident": (OK, OK, F, F, F, OK, F),
        "cancel": (I, I, F, F, F, I, F),
        "review": (I, I, F, F, F, F, F),
        "post_message": (OK, OK, OK, I, F, OK, F),
    },
    "reviewing": {
        "read": (OK, OK, OK, I, F, OK, OK),
        "apply": (F, F, I, I, F, F, F),
        "withdraw_application": (F, F, I, F, F, F, F),
        "select": (I, F, F, F, F, F, F),
        "confirm_payment": (I, F, F, F, F, F, F),
        "request_release": (F, I, F, F, F, F, F),
        "confirm_completion": (I, F, F, F, F, I, F),
        "dispute": (I, F, F, F, F, I, F),
        "resolve_dispute": (F, F, F, F, F, I, F),
        "report_incident": (OK, OK, F, F, F, OK, F),
        "cancel": (I, I, F, F, F, I, F),
        "review": (OK, OK, F, F, F, F, F),
        "post_message": (OK, OK, OK, I, F, OK, F),
    },
    "closed": {
        "read": (OK, OK, OK, I, F, OK, OK),
        "apply": (F, F, I, I, F, F, F),
        "withdraw_application": (F, F, I, F, F, F, F),
        "select": (I, F, F, F, F, F, F),
        "confirm_payment": (I, F, F, F, F, F, F),
        "request_release": (F, I, F, F, F, F, F),
        "confirm_completion": (I, F, F, F, F, I, F),
        "dispute": (I, F, F, F, F, I, F),
        "resolve_dispute": (F, F, F, F, F, I, F),
        "report_incident": (I, I, F, F, F, I, F),
        "cancel": (I, I, F, F, F, I, F),
        "review": (I, I, F, F, F, F, F),
        "post_message": (I, I, I, I, F, OK, F),
    },
    "cancelled": {
        "read": (OK, OK, OK, I, F, OK, OK),
        "apply": (F, F, I, I, F, F, F),
        "withdraw_application": (F, F, I, F, F, F, F),
        "select": (I, F, F, F, F, F, F),
        "confirm_payment": (I, F, F, F, F, F, F),
        "request_release": (F, I, F, F, F, F, F),
        "confirm_completion": (I, F, F, F, F, I, F),
        "dispute": (I, F, F, F, F, I, F),
        "resolve_dispute": (F, F, F, F, F, I, F),
        "report_incident": (I, I, F, F, F, I, F),
        "cancel": (I, I, F, F, F, I, F),
        "review": (I, I, F, F, F, F, F),
        "post_message": (I, I, I, I, F, OK, F),
    },
    "expired": {
        "read": (OK, NA, OK, I, F, OK, OK),
        "apply": (F, NA, I, I, F, F, F),
        "withdraw_application": (F, NA, I, F, F, F, F),
        "select": (I, NA, F, F, F, F, F),
        "confirm_payment": (I, NA, F, F, F, F, F),
        "request_release": (F, NA, F, F, F, F, F),
        "confirm_completion": (I, NA, F, F, F, I, F),
        "dispute": (I, NA, F, F, F, I, F),
        "resolve_dispute": (F, NA, F, F, F, I, F),
        "report_incident": (I, NA, F, F, F, I, F),
        "cancel": (I, NA, F, F, F, I, F),
        "review": (I, NA, F, F, F, F, F),
        "post_message": (I, NA, I, I, F, OK, F),
    },
}

# Actions of the rules that have no HTTP route; they are checked by the workflow tests.
NOT_ON_HTTP = {"move_deadline", "retry_payout"}

# Allowed commands that change the mission's state or its parties, so that later checks on
# the same mission would see another mission: each of these runs on a mission of its own.
CHANGES_MISSION = {
    "withdraw_application",
    "select",
    "confirm_payment",
    "request_release",
    "confirm_completion",
    "dispute",
    "resolve_dispute",
    "cancel",
    "review",
}

SUCCESS_STATUS = {"apply": 201, "post_message": 201}
REJECTION_STATUS = {FORBIDDEN: 403, STATE: 409, CONFLICT: 409}


@dataclass(frozen=True)
class Mission:
    mission_id: str
    # The application of the provider who is (or will be) selected, and of the other one.
    selected_application: str | None
    other_application: str


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: dict[str, Any] | None = None


def requests_for(action: str, mission: Mission, party: str) -> list[Request]:
    """Return the requests that take `action`; `read` has three routes."""
    base = f"/missions/{mission.mission_id}"
    own_application = (
        mission.selected_application
        if party in ("selected", "service_for_selected")
        else mission.other_application
    )
    match action:
        case "read":
            return [
                Request("GET", base),
                Request("GET", f"{base}/messages"),
                Request("GET", f"{base}/notifications"),
            ]
        case "apply":
            body = {"price_minor": 5000, "message": "Disponible demain."}
            return [Request("POST", f"{base}/applications", body)]
        case "withdraw_application":
            return [Request("POST", f"{base}/applications/{own_application}/withdrawal")]
        case "select":
            return [
                Request("POST", f"{base}/selection", {"application_id": mission.other_application})
            ]
        case "confirm_payment":
            body = {"payment_method": "pm_card_visa"}
            return [Request("POST", f"{base}/payment/confirmation", body)]
        case "request_release":
            return [Request("POST", f"{base}/completion-request")]
        case "confirm_completion":
            return [Request("POST", f"{base}/confirmation")]
        case "dispute":
            return [Request("POST", f"{base}/dispute", {"reason": "Travail inachevé."})]
        case "resolve_dispute":
            body = {"refund_minor": 0, "release_minor": 0, "note": "Clos sans mouvement."}
            return [Request("POST", f"{base}/dispute/resolution", body)]
        case "report_incident":
            body = {"kind": "delay", "text": "Une heure de retard."}
            return [Request("POST", f"{base}/incidents", body)]
        case "cancel":
            return [Request("POST", f"{base}/cancellation", {"reason": "Plus besoin."})]
        case "review":
            return [Request("POST", f"{base}/reviews", {"stars": 4, "comment": "Bien."})]
        case "post_message":
            return [Request("POST", f"{base}/messages", {"text": "Bonjour."})]
    raise AssertionError(f"no request for action {action}")


class Parties:
    """Bearer headers of each party of the missions one test builds."""

    def __init__(self, live: LiveApi) -> None:
        run = uuid.uuid4().hex[:8]
        self.live = live
        self.client = f"client-matrix-{run}"
        self.selected = f"prov-matrix-selected-{run}"
        self.applicant = f"prov-matrix-applicant-{run}"
        self.other_client = f"client-matrix-other-{run}"

    def headers(self, party: str) -> dict[str, str]:
        bearer = self.live.bearer
        match party:
            case "client":
                return bearer(self.client, Role.CLIENT)
            case "selected":
                return bearer(self.selected, Role.PROVIDER)
            case "applicant":
                return bearer(self.applicant, Role.PROVIDER)
            case "other_provider":
                # A new provider each time, so one who applied never counts as another.
                return bearer(f"prov-matrix-other-{uuid.uuid4().hex[:8]}", Role.PROVIDER)
            case "other_client":
                return bearer(self.other_client, Role.CLIENT)
            case "ops":
                return bearer("ops-matrix", Role.OPS)
            case "service":
                return bearer("svc-matrix", Role.SERVICE)
            case "service_for_client":
                return bearer(
                    "svc-matrix", Role.SERVICE, act_as=Actor(user_id=self.client, role=Role.CLIENT)
                )
            case "service_for_selected":
                acting = Actor(user_id=self.selected, role=Role.PROVIDER)
                return bearer("svc-matrix", Role.SERVICE, act_as=acting)
        raise AssertionError(f"unknown party {party}")


class Builder:
    """Drives missions over HTTP to a given state."""

    def __init__(self, live: LiveApi, parties: Parties) -> None:
        self.http = live.http
        self.live = live
        self.parties = parties

    async def send(self, party: str, request: Request) -> httpx.Response:
        return await self.http.request(
            request.method, request.path, json=request.body, headers=self.parties.headers(party)
        )

    async def expect(self, status: int, party: str, request: Request) -> dict[str, Any]:
        response = await self.send(party, request)
        assert response.status_code == status, (request, response.text)
        body: dict[str, Any] = response.json()
        return body

    async def onboard_selected(self) -> None:
        profile = {"display_name": "Prestataire", "presentation": "Artisan."}
        path = f"/providers/{self.parties.selected}"
        await self.expect(200, "selected", Request("PUT", path, profile))

    async def posted(self, **fields: Any) -> str:
        body = {
            "title": "Monter une étagère",
            "description": "Étagère de 80 cm.",
            "category": "bricolage",
            "city": "Lyon",
            "postcode": "69007",
            **fields,
        }
        view = await self.expect(201, "client", Request("POST", "/missions", body))
        return str(view["mission_id"])

    async def applied(self, mission_id: str, party: str) -> str:
        body = {"price_minor": 6000, "message": "Disponible."}
        path = f"/missions/{mission_id}/applications"
        result = await self.expect(201, party, Request("POST", path, body))
        return str(result["application_id"])

    async def command(self, mission: Mission, party: str, action: str) -> dict[str, Any]:
        [request] = requests_for(action, mission, party)
        return await self.expect(SUCCESS_STATUS.get(action, 200), party, request)

    async def wait_for(self, mission_id: str, state: str) -> None:
        for _ in range(200):
            view = await self.expect(200, "ops", Request("GET", f"/missions/{mission_id}"))
            if view["state"] == state:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"mission {mission_id} did not reach {state}")

    async def mission_in(self, state: str) -> Mission:
        """Build a mission in `state`; `released` is built by `released_mission`."""
        if state in ("open", "expired"):
            durations = {"durations": {"selection_deadline": 2}} if state == "expired" else {}
            mission_id = await self.posted(**durations)
            other = await self.applied(mission_id, "applicant")
            if state == "expired":
                await self.wait_for(mission_id, "expired")
            return Mission(mission_id, None, other)

        mission_id = await self.posted()
        selected = await self.applied(mission_id, "selected")
        other = await self.applied(mission_id, "applicant")
        # Select the provider who becomes `selected`, not the other applicant.
        mission = Mission(mission_id, selected, other)
        await self.expect(
            200,
            "client",
            Request("POST", f"/missions/{mission_id}/selection", {"application_id": selected}),
        )
        steps: dict[str, list[tuple[str, str]]] = {
            "awaiting_payment": [],
            "funded": [("client", "confirm_payment")],
            "completion_requested": [
                ("client", "confirm_payment"),
                ("selected", "request_release"),
            ],
            "disputed": [("client", "confirm_payment"), ("client", "dispute")],
            "reviewing": [("client", "confirm_payment"), ("client", "confirm_completion")],
            "closed": [
                ("client", "confirm_payment"),
                ("client", "confirm_completion"),
                ("client", "review"),
                ("selected", "review"),
            ],
            "cancelled": [("client", "confirm_payment"), ("client", "cancel")],
        }
        for party, action in steps[state]:
            await self.command(mission, party, action)
        await self.wait_for(mission_id, state)
        return mission


@dataclass(frozen=True)
class Check:
    state: str
    action: str
    party: str
    expected: str

    def describe(self) -> str:
        return f"{self.action} by {self.party} in {self.state}"


def checks_for(state: str) -> list[Check]:
    """Every (action, party) cell of `state`, service-for-user columns included."""
    checks = []
    for action, row in EXPECTED[state].items():
        outcomes = dict(zip(PARTIES, row, strict=True))
        for acting, user in ACTING_FOR.items():
            outcomes[acting] = outcomes[user]
        for party, expected in outcomes.items():
            if expected != NA:
                checks.append(Check(state, action, party, expected))
    return checks


async def outcome_mismatches(builder: Builder, mission: Mission, check: Check) -> list[str]:
    """Send the check's requests and describe each response that differs from the table."""
    mismatches = []
    for request in requests_for(check.action, mission, check.party):
        response = await builder.send(check.party, request)
        if check.expected == OK:
            expected_status = SUCCESS_STATUS.get(check.action, 200)
            if response.status_code != expected_status:
                mismatches.append(
                    f"{check.describe()} ({request.method} {request.path}): expected "
                    f"{expected_status}, got {response.status_code} {response.text[:200]}"
                )
            continue
        expected_status = REJECTION_STATUS[check.expected]
        code = response.json().get("code") if response.status_code >= 400 else None
        if (response.status_code, code) != (expected_status, check.expected):
            mismatches.append(
                f"{check.describe()} ({request.method} {request.path}): expected "
                f"{expected_status} {check.expected}, got {response.status_code} {code}"
            )
    return mismatches


async def gather_limited(jobs: list[Callable[[], Awaitable[list[str]]]]) -> list[str]:
    semaphore = asyncio.Semaphore(4)

    async def run(job: Callable[[], Awaitable[list[str]]]) -> list[str]:
        async with semaphore:
            return await job()

    results = await asyncio.gather(*(run(job) for job in jobs))
    return [line for result in results for line in result]


def test_table_covers_every_action_of_the_rules() -> None:
    on_http = {action for rows in EXPECTED.values() for action in rows}

    assert {action.value for action in Action} == on_http | NOT_ON_HTTP
    assert {action.value for action in RULES} == on_http | NOT_ON_HTTP


def test_table_covers_every_state() -> None:
    assert set(EXPECTED) == {state.value for state in MissionState}


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("state", list(EXPECTED))
async def test_matrix_over_http(live: LiveApi, state: str) -> None:
    parties = Parties(live)
    builder = Builder(live, parties)
    await builder.onboard_selected()
    checks = checks_for(state)
    rejected = [check for check in checks if check.expected != OK]
    allowed = [check for check in checks if check.expected == OK]
    in_place = [check for check in allowed if check.action not in CHANGES_MISSION]
    on_own_mission = [check for check in allowed if check.action in CHANGES_MISSION]

    if state == "released":
        mission, finish = await released_mission(builder)
    else:
        mission, finish = await builder.mission_in(state), None
    ops_view = Request("GET", f"/missions/{mission.mission_id}")
    before = await builder.expect(200, "ops", ops_view)

    mismatches = await gather_limited(
        [partial(outcome_mismatches, builder, mission, check) for check in rejected]
    )
    after = await builder.expect(200, "ops", ops_view)

    assert mismatches == []
    assert after == before

    if finish is not None:
        mismatches = await finish([check for check in in_place])
    else:
        mismatches = await gather_limited(
            [partial(outcome_mismatches, builder, mission, check) for check in in_place]
        )
    assert mismatches == []

    async def on_fresh_mission(check: Check) -> list[str]:
        fresh = await builder.mission_in(check.state)
        return await outcome_mismatches(builder, fresh, check)

    mismatches = await gather_limited(
        [partial(on_fresh_mission, check) for check in on_own_mission]
    )
    assert mismatches == []


async def released_mission(
    builder: Builder,
) -> tuple[Mission, Callable[[list[Check]], Awaitable[list[str]]]]:
    """Build a mission held in `released`, and the step that runs checks and lets it go.

    An incident report waits for the workflow's lock, which the release holds until the
    gate opens: those checks start while the mission is held and finish after.
    """
    mission = await builder.mission_in("funded")
    reached = builder.live.gate.hold(mission.mission_id)
    confirming = asyncio.create_task(builder.command(mission, "client", "confirm_completion"))
    assert await asyncio.to_thread(reached.wait, 15)
    await builder.wait_for(mission.mission_id, "released")

    async def finish(checks: list[Check]) -> list[str]:
        incidents = [check for check in checks if check.action == "report_incident"]
        others = [check for check in checks if check.action != "report_incident"]
        mismatches = await gather_limited(
            [partial(outcome_mismatches, builder, mission, check) for check in others]
        )
        waiting = [
            asyncio.create_task(outcome_mismatches(builder, mission, check)) for check in incidents
        ]
        _, pending = await asyncio.wait(waiting, timeout=0.5)
        if len(pending) != len(incidents):
            mismatches.append("an incident report finished while the mission was held")
        builder.live.gate.release(mission.mission_id)
        for result in await asyncio.gather(*waiting):
            mismatches += result
        await confirming
        return mismatches

    return mission, finish
