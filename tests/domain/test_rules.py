"""The authorization matrix and the request model's own checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from missions.contracts import (
    Actor,
    Application,
    MissionRequest,
    MissionSnapshot,
    MissionState,
    Role,
)
from missions.errors import Forbidden, InvalidState
from missions.rules import RULES, Action, Party, check, party_of

NOW = datetime(2026, 6, 1, tzinfo=UTC)
REQUEST = MissionRequest(
    title="Monter une armoire",
    description="Armoire deux portes.",
    category="bricolage",
    city="Lyon",
    postcode="69003",
)


def snapshot(state: MissionState, provider_id: str | None = None) -> MissionSnapshot:
    return MissionSnapshot(
        mission_id="mission-rules",
        client_id="client-1",
        request=REQUEST,
        state=state,
        provider_id=provider_id,
        applications=[
            Application(
                application_id="app-1",
                provider_id="prov-applied",
                price_minor=5000,
                message="Disponible",
                created_at=NOW,
            )
        ],
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("actor", "party"),
    [
        (Actor(user_id="client-1", role=Role.CLIENT), Party.CLIENT),
        (Actor(user_id="client-2", role=Role.CLIENT), Party.STRANGER),
        (Actor(user_id="prov-applied", role=Role.PROVIDER), Party.APPLICANT),
        (Actor(user_id="prov-new", role=Role.PROVIDER), Party.OTHER_PROVIDER),
        (Actor(user_id="ops-1", role=Role.OPS), Party.OPS),
        (Actor(user_id="backend", role=Role.SERVICE), Party.SERVICE),
    ],
)
def test_party_of_open_mission(actor: Actor, party: Party) -> None:
    assert party_of(actor, snapshot(MissionState.OPEN)) is party


def test_selected_provider_outranks_applicant() -> None:
    mission = snapshot(MissionState.FUNDED, provider_id="prov-applied")
    actor = Actor(user_id="prov-applied", role=Role.PROVIDER)
    assert party_of(actor, mission) is Party.SELECTED_PROVIDER


def test_every_cell_of_the_matrix() -> None:
    """Each party gets exactly what the matrix lists, and the right error otherwise."""
    actors = {
        Party.CLIENT: Actor(user_id="client-1", role=Role.CLIENT),
        Party.STRANGER: Actor(user_id="client-2", role=Role.CLIENT),
        Party.SELECTED_PROVIDER: Actor(user_id="prov-selected", role=Role.PROVIDER),
        Party.APPLICANT: Actor(user_id="prov-applied", role=Role.PROVIDER),
        Party.OTHER_PROVIDER: Actor(user_id="prov-new", role=Role.PROVIDER),
        Party.OPS: Actor(user_id="ops-1", role=Role.OPS),
        Party.SERVICE: Actor(user_id="backend", role=Role.SERVICE),
    }
    checked = 0
    for action, allowed in RULES.items():
        for party, actor in actors.items():
            for state in MissionState:
                mission = snapshot(state, provider_id="prov-selected")
                states = allowed.get(party)
                if states is None:
                    with pytest.raises(Forbidden):
                        check(action, actor, mission)
                elif state in states:
                    assert check(action, actor, mission) is party
                else:
                    with pytest.raises(InvalidState):
                        check(action, actor, mission)
                checked += 1
    assert checked == len(Action) * len(actors) * len(MissionState)


def test_unsupported_currency_rejected() -> None:
    with pytest.raises(ValidationError, match="currency 'USD' is not supported"):
        MissionRequest.model_validate({**REQUEST.model_dump(), "currency": "USD"})


def test_naive_scheduled_date_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        MissionRequest.model_validate(
            {**REQUEST.model_dump(), "scheduled_at": "2026-06-03T10:00:00"}
        )
