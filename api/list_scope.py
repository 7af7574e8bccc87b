"""Scope of `GET /missions` per caller, and the fields a list item shows each of them."""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from typing import Any

from missions.contracts import Actor, Role
from missions.db.repositories import MissionPage
from missions.errors import Forbidden, InvalidInput

# Roles that list every mission and may filter by party.
ALL_MISSIONS_ROLES = frozenset({Role.OPS, Role.SERVICE})


def list_scope(
    actor: Actor,
    *,
    client_id: str | None,
    provider_id: str | None,
    applicant_id: str | None,
) -> dict[str, str | None]:
    """Return the `list_missions` filters that bound what `actor` may list.

    A client lists their own missions. A provider lists open missions plus those they
    applied to, which include those they were selected for. Ops and services list
    everything and may filter by client, selected provider or applicant. Raises Forbidden
    when another role sends one of those party filters.
    """
    filters = {"client_id": client_id, "provider_id": provider_id, "applicant_id": applicant_id}
    sent = sorted(name for name, value in filters.items() if value is not None)
    if actor.role in ALL_MISSIONS_ROLES:
        return {**filters, "open_or_applicant_id": None}
    if sent:
        raise Forbidden(
            f"only ops and services may filter missions by {', '.join(sent)}; "
            f"a {actor.role.value} lists the missions visible to them without it",
            filters=sent,
        )
    if actor.role is Role.CLIENT:
        return {
            "client_id": actor.user_id,
            "provider_id": None,
            "applicant_id": None,
            "open_or_applicant_id": None,
        }
    return {
        "client_id": None,
        "provider_id": None,
        "applicant_id": None,
        "open_or_applicant_id": actor.user_id,
    }


def redact_for(actor: Actor, page: MissionPage) -> MissionPage:
    """Hide from a provider who won another provider's mission, and at what price.

    The mission view hides the same facts; a declined applicant still lists the mission.
    """
    if actor.role is not Role.PROVIDER:
        return page
    items = [
        item
        if item.provider_id in (None, actor.user_id)
        else item.model_copy(
            update={"provider_id": None, "price_minor": None, "client_total_minor": None}
        )
        for item in page.items
    ]
    return MissionPage(items=items, next_cursor=page.next_cursor)


def check_cursor(cursor: str | None) -> None:
    """Raise InvalidInput for a cursor holding characters that no database column can.

    The read model decodes the cursor itself. This check only keeps a forged cursor with a
    NUL from becoming a server error, because PostgreSQL rejects a NUL in a parameter.
    """
    if cursor is None:
        return
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise _invalid_cursor(cursor) from error
    if any(_has_control_character(text) for text in _strings_in(document)):
        raise _invalid_cursor(cursor)


def _strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in _strings_in(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings_in(item)]
    return []


def _has_control_character(text: str) -> bool:
    return any(unicodedata.category(character) in ("Cc", "Cs") for character in text)


def _invalid_cursor(cursor: str) -> InvalidInput:
    return InvalidInput(
        "invalid cursor; pass the next_cursor of the previous page unchanged", cursor=cursor
    )
