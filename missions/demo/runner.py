"""Replay a cases file through the HTTP API, every mission at once, and report each outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import httpx

from missions.contracts import Role
from missions.demo.http import ApiError, MissionsApi, describe_transport_error
from missions.demo.mission_run import MissionRun
from missions.demo.report import DemoReport, MissionOutcome
from missions.demo.scenarios import MissionCase, ProviderProfile, Scenario, load_scenario
from missions.demo.tokens import TokenBook
from missions.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_CASES_PATH = Path(__file__).resolve().parent.parent / "scenarios" / "missions.jsonl"
# Bound on each wait for a state, so that a stuck mission fails the run instead of hanging it.
WAIT_TIMEOUT_SECONDS = 90.0
# Updates wait for Stripe calls inside the workflow, so they get more than httpx's 5 s.
HTTP_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
NEUTRAL_PRESENTATION = "Prestataire de la démonstration ; présentation à venir."


class DemoError(Exception):
    """The demo could not run, because the API is not ready or onboarding a provider failed."""


async def run_demo(
    cases_path: Path,
    providers_path: Path | None,
    api_url: str,
    settings: Settings,
    *,
    on_outcome: Callable[[MissionOutcome], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    wait_timeout: float = WAIT_TIMEOUT_SECONDS,
) -> DemoReport:
    """Load the cases and providers files, then replay them with `replay_scenario`.

    `providers_path` None means a `providers*.json` beside the cases file, if any.
    Raises ScenarioError for a missing or invalid file, and DemoError when the API is not
    ready or onboarding a provider fails.
    """
    return await replay_scenario(
        load_scenario(cases_path, providers_path),
        api_url,
        settings,
        on_outcome=on_outcome,
        transport=transport,
        wait_timeout=wait_timeout,
    )


async def replay_scenario(
    scenario: Scenario,
    api_url: str,
    settings: Settings,
    *,
    on_outcome: Callable[[MissionOutcome], None] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    wait_timeout: float = WAIT_TIMEOUT_SECONDS,
) -> DemoReport:
    """Onboard the providers, then replay every mission concurrently and compare outcomes.

    Tokens are signed with `settings`, which must hold the API's JWT secret. `on_outcome`
    is called as each mission finishes. `transport` lets a test call an in-process app.
    Raises DemoError when the API is not ready or onboarding fails. A failing mission
    raises nothing: its outcome carries the error.
    """
    cases = scenario.cases
    tokens = TokenBook(settings)
    report = DemoReport()

    async with httpx.AsyncClient(
        base_url=api_url, timeout=HTTP_TIMEOUT, transport=transport
    ) as http:
        api = MissionsApi(http)
        if not await api.is_ready():
            raise DemoError(f"the API at {api_url} is not ready: GET /readyz did not return 200")
        await _onboard_providers(api, tokens, _profiles_for(cases, scenario.profiles))
        noun = "mission" if len(cases) == 1 else "missions"
        log.info("replaying %s %s from %s", len(cases), noun, scenario.cases_path)

        async def run_case(case: MissionCase) -> None:
            outcome = await _run_case(api, tokens, case, wait_timeout)
            report.outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

        await asyncio.gather(*(run_case(case) for case in cases))
    return report


async def _run_case(
    api: MissionsApi, tokens: TokenBook, case: MissionCase, wait_timeout: float
) -> MissionOutcome:
    run = MissionRun(api, tokens, case, wait_timeout)
    try:
        return await run.run()
    except Exception as error:
        # One broken mission must not cancel the others that gather() is running.
        log.exception("%s: mission %s failed with an unexpected error", case.ref, run.mission_id)
        return MissionOutcome(case.ref, run.mission_id, error=f"unexpected error: {error!r}")


def _profiles_for(
    cases: list[MissionCase], profiles: list[ProviderProfile]
) -> list[ProviderProfile]:
    """Return the file's profiles, plus a neutral one for each applicant the file lacks."""
    known = {profile.id for profile in profiles}
    missing = [
        provider for case in cases for provider in case.provider_ids if provider not in known
    ]
    neutral = [
        ProviderProfile(id=provider, presentation=NEUTRAL_PRESENTATION)
        for provider in dict.fromkeys(missing)
    ]
    return [*profiles, *neutral]


async def _onboard_providers(
    api: MissionsApi, tokens: TokenBook, profiles: list[ProviderProfile]
) -> None:
    async def onboard(profile: ProviderProfile) -> None:
        body = {
            "display_name": profile.display_name or profile.id,
            "presentation": profile.presentation,
        }
        token = tokens.get(profile.id, Role.PROVIDER)
        try:
            await api.put_provider(token, profile.id, body)
        except ApiError as error:
            raise DemoError(f"onboarding provider {profile.id} failed: {error}") from error
        except httpx.HTTPError as error:
            reason = describe_transport_error(error)
            raise DemoError(f"onboarding provider {profile.id} failed: {reason}") from error
        log.info("onboarded provider %s", profile.id)

    await asyncio.gather(*(onboard(profile) for profile in profiles))
