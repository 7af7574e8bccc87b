"""The authorization matrix of `missions.rules` as the Markdown table in docs/api.md.

A test renders the table and compares it with the document, so the two cannot drift. To
update the document, paste the output of `python -m api.matrix` between its markers.
"""

from __future__ import annotations

from missions.contracts import TERMINAL_STATES, MissionState
from missions.rules import RULES, Action, Party

MATRIX_BEGIN = "<!-- authorization-matrix:begin -->"
MATRIX_END = "<!-- authorization-matrix:end -->"

# Columns of the table, in order, with their headings.
PARTY_COLUMNS: tuple[tuple[Party | None, str], ...] = (
    (Party.CLIENT, "mission's client"),
    (Party.SELECTED_PROVIDER, "selected provider"),
    (Party.APPLICANT, "other applicant"),
    (Party.OTHER_PROVIDER, "other provider"),
    (Party.STRANGER, "other client"),
    (Party.OPS, "ops"),
    (None, "service acting for a user"),
    (Party.SERVICE, "service alone"),
)

# The HTTP routes of each action. Actions missing here are not exposed over HTTP.
ACTION_ROUTES: dict[Action, str] = {
    Action.READ: (
        "`GET /missions/{id}`, `GET /missions/{id}/messages`, `GET /missions/{id}/notifications`"
    ),
    Action.APPLY: "`POST /missions/{id}/applications`",
    Action.WITHDRAW_APPLICATION: "`POST /missions/{id}/applications/{application_id}/withdrawal`",
    Action.SELECT: "`POST /missions/{id}/selection`",
    Action.CONFIRM_PAYMENT: "`POST /missions/{id}/payment/confirmation`",
    Action.REQUEST_RELEASE: "`POST /missions/{id}/completion-request`",
    Action.CONFIRM_COMPLETION: "`POST /missions/{id}/confirmation`",
    Action.DISPUTE: "`POST /missions/{id}/dispute`",
    Action.RESOLVE_DISPUTE: "`POST /missions/{id}/dispute/resolution`",
    Action.REPORT_INCIDENT: "`POST /missions/{id}/incidents`",
    Action.CANCEL: "`POST /missions/{id}/cancellation`",
    Action.REVIEW: "`POST /missions/{id}/reviews`",
    Action.POST_MESSAGE: "`POST /missions/{id}/messages`",
}

ALL_STATES = frozenset(MissionState)
LIVE_STATES = ALL_STATES - TERMINAL_STATES


def describe_states(states: frozenset[MissionState] | None) -> str:
    """Name a set of states in a table cell; `never` for a party the action is not for."""
    if states is None:
        return "never"
    if states == ALL_STATES:
        return "any state"
    if states == LIVE_STATES:
        return "any live state"
    # Listed in the order of the mission's lifecycle, as the enum declares them.
    return ", ".join(f"`{state.value}`" for state in MissionState if state in states)


def render_matrix() -> str:
    """Return the Markdown table of who may take each action in which states."""
    headings = ["action", "HTTP", *(heading for _, heading in PARTY_COLUMNS)]
    lines = [
        "| " + " | ".join(headings) + " |",
        "|" + "---|" * len(headings),
    ]
    for action in Action:
        cells = [f"`{action.value}`", ACTION_ROUTES.get(action, "typed client, `missions ops`")]
        for party, _ in PARTY_COLUMNS:
            if party is None:
                cells.append("as that user")
            else:
                cells.append(describe_states(RULES[action].get(party)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_matrix())  # noqa: T201
