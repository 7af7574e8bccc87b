"""Who may do what in each state: the one authorization matrix of a mission.

The workflow's update validators call `check`, so the API, the typed client and ops tools
all get the same decision. The module is pure, because it runs inside workflow code.
"""

from __future__ import annotations

from enum import StrEnum

from missions.contracts import TERMINAL_STATES, Actor, MissionSnapshot, MissionState, Role
from missions.errors import Forbidden, InvalidState

S = MissionState


class Action(StrEnum):
    READ = "read"
    APPLY = "apply"
    WITHDRAW_APPLICATION = "withdraw_application"
    SELECT = "select"
    CONFIRM_PAYMENT = "confirm_payment"
    REQUEST_RELEASE = "request_release"
    CONFIRM_COMPLETION = "confirm_completion"
    DISPUTE = "dispute"
    RESOLVE_DISPUTE = "resolve_dispute"
    REPORT_INCIDENT = "report_incident"
    CANCEL = "cancel"
    REVIEW = "review"
    POST_MESSAGE = "post_message"
    MOVE_DEADLINE = "move_deadline"
    RETRY_PAYOUT = "retry_payout"


class Party(StrEnum):
    """An actor's relation to one mission."""

    CLIENT = "client"
    SELECTED_PROVIDER = "selected_provider"
    APPLICANT = "applicant"
    OTHER_PROVIDER = "other_provider"
    OPS = "ops"
    SERVICE = "service"
    STRANGER = "stranger"


ALL_STATES = frozenset(MissionState)
LIVE_STATES = ALL_STATES - TERMINAL_STATES
AFTER_SELECTION = LIVE_STATES - {S.OPEN}

RULES: dict[Action, dict[Party, frozenset[MissionState]]] = {
    Action.READ: {
        Party.CLIENT: ALL_STATES,
        Party.SELECTED_PROVIDER: ALL_STATES,
        Party.APPLICANT: ALL_STATES,
        Party.OTHER_PROVIDER: frozenset({S.OPEN}),
        Party.OPS: ALL_STATES,
        Party.SERVICE: ALL_STATES,
    },
    Action.APPLY: {
        Party.APPLICANT: frozenset({S.OPEN}),
        Party.OTHER_PROVIDER: frozenset({S.OPEN}),
    },
    Action.WITHDRAW_APPLICATION: {Party.APPLICANT: frozenset({S.OPEN})},
    Action.SELECT: {Party.CLIENT: frozenset({S.OPEN})},
    Action.CONFIRM_PAYMENT: {Party.CLIENT: frozenset({S.AWAITING_PAYMENT})},
    Action.REQUEST_RELEASE: {Party.SELECTED_PROVIDER: frozenset({S.FUNDED})},
    Action.CONFIRM_COMPLETION: {
        Party.CLIENT: frozenset({S.FUNDED, S.COMPLETION_REQUESTED}),
        Party.OPS: frozenset({S.FUNDED, S.COMPLETION_REQUESTED}),
    },
    Action.DISPUTE: {
        Party.CLIENT: frozenset({S.FUNDED, S.COMPLETION_REQUESTED}),
        Party.OPS: frozenset({S.FUNDED, S.COMPLETION_REQUESTED}),
    },
    Action.RESOLVE_DISPUTE: {Party.OPS: frozenset({S.DISPUTED})},
    Action.REPORT_INCIDENT: {
        Party.CLIENT: AFTER_SELECTION,
        Party.SELECTED_PROVIDER: AFTER_SELECTION,
        Party.OPS: AFTER_SELECTION,
    },
    Action.CANCEL: {
        Party.CLIENT: frozenset({S.OPEN, S.AWAITING_PAYMENT, S.FUNDED}),
        Party.SELECTED_PROVIDER: frozenset({S.AWAITING_PAYMENT, S.FUNDED}),
        Party.OPS: frozenset({S.OPEN, S.AWAITING_PAYMENT, S.FUNDED, S.COMPLETION_REQUESTED}),
    },
    Action.REVIEW: {
        Party.CLIENT: frozenset({S.REVIEWING}),
        Party.SELECTED_PROVIDER: frozenset({S.REVIEWING}),
    },
    Action.POST_MESSAGE: {
        Party.CLIENT: LIVE_STATES,
        Party.SELECTED_PROVIDER: LIVE_STATES,
        Party.APPLICANT: LIVE_STATES,
        Party.OTHER_PROVIDER: frozenset({S.OPEN}),
        Party.OPS: ALL_STATES,
    },
    # Which deadline may move in which state is checked by the workflow, per deadline.
    Action.MOVE_DEADLINE: {Party.OPS: LIVE_STATES},
    # A late cancellation's share may still be owed once the mission is cancelled.
    Action.RETRY_PAYOUT: {Party.OPS: ALL_STATES},
}


def party_of(actor: Actor, snapshot: MissionSnapshot) -> Party:
    """Return how the actor relates to the mission."""
    if actor.role is Role.OPS:
        return Party.OPS
    if actor.role is Role.SERVICE:
        return Party.SERVICE
    if actor.role is Role.CLIENT:
        return Party.CLIENT if actor.user_id == snapshot.client_id else Party.STRANGER
    if snapshot.provider_id == actor.user_id:
        return Party.SELECTED_PROVIDER
    if any(app.provider_id == actor.user_id for app in snapshot.applications):
        return Party.APPLICANT
    return Party.OTHER_PROVIDER


def check(action: Action, actor: Actor, snapshot: MissionSnapshot) -> Party:
    """Raise Forbidden or InvalidState unless the actor may take the action now.

    A party that may never take the action gets Forbidden; a party that may, but not in
    the mission's current state, gets InvalidState.
    """
    allowed = RULES[action]
    party = party_of(actor, snapshot)
    states = allowed.get(party)
    if states is None:
        raise Forbidden(
            f"{actor.role.value} {actor.user_id!r} may not {action.value.replace('_', ' ')} "
            f"on mission {snapshot.mission_id}",
            action=action.value,
            party=party.value,
        )
    if snapshot.state not in states:
        expected = ", ".join(sorted(state.value for state in states))
        raise InvalidState(
            f"cannot {action.value.replace('_', ' ')} while mission {snapshot.mission_id} is "
            f"{snapshot.state.value}; allowed in: {expected}",
            action=action.value,
            state=snapshot.state.value,
        )
    return party
