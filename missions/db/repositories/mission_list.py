"""Reads of projected missions: one row, one snapshot, or a filtered page of summaries."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Exists, and_, exists, or_, select
from sqlalchemy.orm import Session

from missions.contracts import MissionSnapshot, MissionState
from missions.db.models import ApplicationRow, MissionRow
from missions.errors import InvalidInput

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class MissionSummary(BaseModel):
    """The fields of a mission that a list shows."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    mission_id: str = Field(validation_alias="id")
    client_id: str
    title: str
    category: str
    city: str
    postcode: str
    currency: str
    scheduled_at: datetime | None
    state: MissionState
    provider_id: str | None
    price_minor: int | None
    client_total_minor: int | None
    needs_attention: bool
    payout_pending: bool
    created_at: datetime
    updated_at: datetime


class MissionPage(BaseModel):
    items: list[MissionSummary]
    # None on the last page. Otherwise, pass it back as `cursor` to get the next page.
    next_cursor: str | None


def get_mission_row(session: Session, mission_id: str) -> MissionRow | None:
    return session.get(MissionRow, mission_id)


def get_mission_snapshot(session: Session, mission_id: str) -> MissionSnapshot | None:
    """Return the last projected snapshot of a mission, or None if it was never projected."""
    document = session.scalar(select(MissionRow.snapshot).where(MissionRow.id == mission_id))
    if document is None:
        return None
    return MissionSnapshot.model_validate(document)


def list_missions(
    session: Session,
    *,
    state: MissionState | None = None,
    category: str | None = None,
    client_id: str | None = None,
    provider_id: str | None = None,
    applicant_id: str | None = None,
    open_or_applicant_id: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> MissionPage:
    """Return one page of the missions matching every given filter, newest first.

    `provider_id` matches the selected provider and `applicant_id` any provider who applied,
    whatever the application's status. `open_or_applicant_id` matches the missions that are
    open or that this provider applied to, which is what a provider may browse. The cursor
    is opaque to callers. Raises InvalidInput for a limit outside 1..MAX_PAGE_SIZE or a
    cursor that this function did not return.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}", limit=limit)

    statement = select(MissionRow).order_by(MissionRow.created_at.desc(), MissionRow.id.desc())
    if state is not None:
        statement = statement.where(MissionRow.state == state.value)
    if category is not None:
        statement = statement.where(MissionRow.category == category)
    if client_id is not None:
        statement = statement.where(MissionRow.client_id == client_id)
    if provider_id is not None:
        statement = statement.where(MissionRow.provider_id == provider_id)
    if applicant_id is not None:
        statement = statement.where(_has_applied(applicant_id))
    if open_or_applicant_id is not None:
        statement = statement.where(
            or_(MissionRow.state == MissionState.OPEN.value, _has_applied(open_or_applicant_id))
        )
    if cursor is not None:
        after_created_at, after_id = _decode_cursor(cursor)
        statement = statement.where(
            or_(
                MissionRow.created_at < after_created_at,
                and_(MissionRow.created_at == after_created_at, MissionRow.id < after_id),
            )
        )

    # Another page follows only if the query returns more than `limit` rows.
    rows = list(session.scalars(statement.limit(limit + 1)))
    page_rows = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page_rows[-1]
        next_cursor = _encode_cursor(last.created_at, last.id)
    return MissionPage(
        items=[MissionSummary.model_validate(row) for row in page_rows], next_cursor=next_cursor
    )


def _has_applied(provider_id: str) -> Exists:
    return exists().where(
        ApplicationRow.mission_id == MissionRow.id, ApplicationRow.provider_id == provider_id
    )


def _encode_cursor(created_at: datetime, mission_id: str) -> str:
    document = json.dumps([created_at.isoformat(), mission_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at_text, mission_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        created_at = datetime.fromisoformat(created_at_text)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as error:
        raise InvalidInput(
            "invalid cursor; pass the next_cursor of the previous page unchanged", cursor=cursor
        ) from error
    if created_at.tzinfo is None or not isinstance(mission_id, str):
        raise InvalidInput(
            "invalid cursor; pass the next_cursor of the previous page unchanged", cursor=cursor
        )
    return created_at, mission_id
