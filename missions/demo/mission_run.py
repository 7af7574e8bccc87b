"""Replay one mission of a cases file: post it, send its applications, run its script."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import httpx

from missions.contracts import TERMINAL_STATES, MissionState, Role
from missions.demo.http import ApiError, JsonObject, MissionsApi, describe_transport_error
from missions.demo.report import MissionOutcome, compare
from missions.demo.scenarios import (
    DECLINING_PAYMENT_METHODS,
    CancelStep,
    ConfirmStep,
    DisputeStep,
    IncidentStep,
    MessageStep,
    MissionCase,
    Party,
    PayStep,
    RequestReleaseStep,
    ResolveStep,
    ReviewStep,
    SelectStep,
    Step,
    WaitStep,
    WithdrawApplicationStep,
)
from missions.demo.tokens import TokenBook

log = logging.getLogger(__name__)

# Deadlines of every demo mission, in seconds: short enough that a whole run, timers
# included, takes about a minute. The payout retry is shortened too, so that a payout
# waiting for a provider's account cannot outlast the run.
DEMO_DURATIONS_SECONDS: dict[str, float] = {
    "selection_deadline": 20,
    "payment_deadline": 6,
    "confirmation_window": 8,
    "review_window": 10,
    "confirmation_reminder_before": 3,
    "review_reminder_before": 3,
    "payment_poll_interval": 2,
    "payout_retry_interval": 5,
}

# The path under /missions/{id}/ and the body fields of each step that is a plain command.
COMMAND_ROUTES: dict[type[Step], tuple[str, tuple[str, ...]]] = {
    RequestReleaseStep: ("completion-request", ()),
    ConfirmStep: ("confirmation", ()),
    DisputeStep: ("dispute", ("reason",)),
    ResolveStep: ("dispute/resolution", ("refund_minor", "release_minor", "note")),
    IncidentStep: ("incidents", ("kind", "text")),
    CancelStep: ("cancellation", ("reason",)),
    MessageStep: ("messages", ("text",)),
    ReviewStep: ("reviews", ("stars", "comment")),
}

POLL_INTERVAL_SECONDS = 0.5
# A confirmed payment normally funds the mission in the same call. Otherwise a webhook
# or the workflow's next poll of the PaymentIntent (every 2 s here) funds it.
FUNDING_TIMEOUT_SECONDS = 20.0


class StepFailed(Exception):
    """A step of the script failed in a way the script did not expect."""


@dataclass
class MissionRun:
    api: MissionsApi
    tokens: TokenBook
    case: MissionCase
    wait_timeout: float
    mission_id: str | None = None
    application_ids: list[str] = field(default_factory=list)
    selected: int | None = None
    declines: int = 0

    async def run(self) -> MissionOutcome:
        """Run the whole mission and compare where it ended with the case's expectation."""
        try:
            await self._post_mission()
            await self._apply_all()
            for number, step in enumerate(self.case.script):
                await self._run_step(number, step)
            view = await self._wait_for_end()
        except StepFailed as failure:
            return MissionOutcome(
                self.case.ref, self.mission_id, await self._last_view(), error=str(failure)
            )
        mismatches = compare(self.case.expect, view)
        return MissionOutcome(self.case.ref, self.mission_id, view, mismatches)

    async def _post_mission(self) -> None:
        case = self.case
        scheduled_at = None
        if case.scheduled_in_days is not None:
            scheduled_at = datetime.now(UTC) + timedelta(days=case.scheduled_in_days)
        body = {
            "title": case.title,
            "description": case.description,
            "category": case.category,
            "city": case.city,
            "postcode": case.postcode,
            "currency": case.currency,
            "scheduled_at": scheduled_at.isoformat() if scheduled_at else None,
            "durations": DEMO_DURATIONS_SECONDS,
        }
        token = self.tokens.get(case.client, Role.CLIENT)
        view = await self._call("posting the mission", self.api.create_mission(token, body))
        self.mission_id = str(view["mission_id"])
        log.info("%s: posted as mission %s", case.ref, self.mission_id)

    async def _apply_all(self) -> None:
        for index, application in enumerate(self.case.applications):
            body: JsonObject = {
                "price_minor": application.price_minor,
                "message": application.message,
            }
            if application.proposed_in_days is not None:
                proposed = date.today() + timedelta(days=application.proposed_in_days)
                body["proposed_date"] = proposed.isoformat()
            token = self.tokens.get(application.provider, Role.PROVIDER)
            result = await self._call(
                f"application {index} by {application.provider}",
                self.api.command(token, self._id(), "applications", body),
            )
            self.application_ids.append(str(result["application_id"]))

    async def _run_step(self, number: int, step: Step) -> None:
        label = f"script[{number}] {step.do}"
        try:
            await self._perform(step)
        except ApiError as error:
            if step.expect_error == error.code:
                log.info("%s: %s failed with %s as expected", self.case.ref, label, error.code)
                return
            if self._is_expected_decline(step, error):
                self.declines += 1
                log.info(
                    "%s: %s declined as expected (decline %s, %s)",
                    self.case.ref,
                    label,
                    self.declines,
                    error.details.get("decline_code", "no decline code"),
                )
                return
            raise StepFailed(f"{label} failed: {error}") from error
        except httpx.HTTPError as error:
            raise StepFailed(f"{label} failed: {describe_transport_error(error)}") from error

        if step.expect_error:
            raise StepFailed(f"{label} succeeded, but the script expected {step.expect_error}")
        if isinstance(step, PayStep) and step.payment_method in DECLINING_PAYMENT_METHODS:
            raise StepFailed(f"{label} with {step.payment_method} succeeded; expected a decline")

    @staticmethod
    def _is_expected_decline(step: Step, error: ApiError) -> bool:
        return (
            isinstance(step, PayStep)
            and error.code == "card_declined"
            and step.payment_method in DECLINING_PAYMENT_METHODS
        )

    async def _perform(self, step: Step) -> None:
        match step:
            case SelectStep():
                body = {"application_id": self._application_id(step.application)}
                await self._command("client", "selection", body)
                self.selected = step.application
            case PayStep():
                body = {"payment_method": step.payment_method}
                await self._command("client", "payment/confirmation", body)
                await self._wait_until_funded()
            case WithdrawApplicationStep():
                provider = self.case.applications[step.application].provider
                path = f"applications/{self._application_id(step.application)}/withdrawal"
                await self.api.command(self.tokens.get(provider, Role.PROVIDER), self._id(), path)
            case WaitStep():
                await self._wait_for_state(step.until_state)
            case _:
                path, fields = COMMAND_ROUTES[type(step)]
                payload = step.model_dump(mode="json", include=set(fields))
                await self._command(step.by, path, payload)

    async def _command(self, party: Party, path: str, body: JsonObject | None = None) -> None:
        await self.api.command(self._token(party), self._id(), path, body)

    async def _wait_until_funded(self) -> None:
        deadline = time.monotonic() + FUNDING_TIMEOUT_SECONDS
        view = await self._view()
        while view["state"] == MissionState.AWAITING_PAYMENT and time.monotonic() < deadline:
            await asyncio.sleep(POLL_INTERVAL_SECONDS)
            view = await self._view()
        if view["state"] == MissionState.AWAITING_PAYMENT:
            raise StepFailed(
                f"the payment was confirmed, but the mission is still awaiting_payment after "
                f"{FUNDING_TIMEOUT_SECONDS:.0f} s"
            )

    async def _wait_for_state(self, target: MissionState) -> None:
        deadline = time.monotonic() + self.wait_timeout
        while True:
            view = await self._view()
            state = MissionState(view["state"])
            if state is target:
                return
            if state in TERMINAL_STATES:
                raise StepFailed(f"waiting for {target.value}, the mission ended {state.value}")
            if time.monotonic() >= deadline:
                raise StepFailed(
                    f"timed out after {self.wait_timeout:.0f} s waiting for {target.value}; "
                    f"the mission is still {state.value}"
                )
            await asyncio.sleep(POLL_INTERVAL_SECONDS)

    async def _wait_for_end(self) -> JsonObject:
        """Poll until the expected final state or any terminal state, for at most wait_timeout.

        On timeout the last view is returned, and the comparison reports the state it is in.
        """
        target = self.case.expect.final_state
        deadline = time.monotonic() + self.wait_timeout
        view = await self._call("reading the mission", self._view())
        while view["state"] != target and view["state"] not in TERMINAL_STATES:
            if time.monotonic() >= deadline:
                log.warning(
                    "%s: timed out after %.0f s waiting for %s; mission %s is still %s",
                    self.case.ref,
                    self.wait_timeout,
                    target.value,
                    self.mission_id,
                    view["state"],
                )
                break
            await asyncio.sleep(POLL_INTERVAL_SECONDS)
            view = await self._call("reading the mission", self._view())
        return view

    async def _last_view(self) -> JsonObject | None:
        if self.mission_id is None:
            return None
        try:
            return await self._view()
        except (ApiError, httpx.HTTPError) as error:
            log.warning("%s: reading mission %s failed: %s", self.case.ref, self.mission_id, error)
            return None

    async def _view(self) -> JsonObject:
        return await self.api.get_mission(
            self.tokens.get(self.case.client, Role.CLIENT), self._id()
        )

    async def _call(self, action: str, request: Awaitable[JsonObject]) -> JsonObject:
        """Await an API call outside the script, turning any error into StepFailed."""
        try:
            result = await request
        except ApiError as error:
            raise StepFailed(f"{action} failed: {error}") from error
        except httpx.HTTPError as error:
            raise StepFailed(f"{action} failed: {describe_transport_error(error)}") from error
        return result

    def _token(self, party: Party) -> str:
        if party == "client":
            return self.tokens.get(self.case.client, Role.CLIENT)
        if party == "ops":
            return self.tokens.ops()
        return self.tokens.get(self._provider_id(), Role.PROVIDER)

    def _provider_id(self) -> str:
        """Return the selected provider, or the first applicant before any selection."""
        applications = self.case.applications
        if self.selected is not None:
            return applications[self.selected].provider
        if not applications:
            raise StepFailed("the script acts as the provider, but the mission has no applicant")
        return applications[0].provider

    def _application_id(self, index: int) -> str:
        return self.application_ids[index]

    def _id(self) -> str:
        if self.mission_id is None:
            raise StepFailed("the mission was not posted")
        return self.mission_id
