"""Questions and answers exchanged about a mission, stored only in this table."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from missions.contracts import Actor, Role
from missions.db.models import MessageRow, MissionRow
from missions.errors import InvalidInput, MissionNotFound

MAX_MESSAGE_LENGTH = 2000


class MissionMessage(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    mission_id: str
    author_id: str
    author_role: Role
    text: str
    created_at: datetime


def add_message(
    session: Session,
    mission_id: str,
    author: Actor,
    text: str,
    *,
    now: datetime | None = None,
) -> MissionMessage:
    """Store a message about a mission and return it.

    Leading and trailing whitespace is removed. Deciding who may write about the mission
    is up to the caller. Raises InvalidInput for an empty or too long text and
    MissionNotFound if the mission was never projected.
    """
    stripped = text.strip()
    if not stripped:
        raise InvalidInput("message text is empty", mission_id=mission_id)
    if len(stripped) > MAX_MESSAGE_LENGTH:
        raise InvalidInput(
            f"message text has {len(stripped)} characters; the maximum is {MAX_MESSAGE_LENGTH}",
            mission_id=mission_id,
        )
    # Checked first because a foreign key violation would abort the caller's transaction
    # on PostgreSQL. Nothing here deletes missions, so the check cannot go stale.
    if session.scalar(select(MissionRow.id).where(MissionRow.id == mission_id)) is None:
        raise MissionNotFound(f"mission {mission_id} not found", mission_id=mission_id)

    row = session.execute(
        insert(MessageRow)
        .values(
            mission_id=mission_id,
            author_id=author.user_id,
            author_role=author.role.value,
            text=stripped,
            created_at=now or datetime.now(UTC),
        )
        .returning(MessageRow)
    ).scalar_one()
    return MissionMessage.model_validate(row)


def list_messages(session: Session, mission_id: str) -> list[MissionMessage]:
    """Return the mission's messages, oldest first."""
    statement = (
        select(MessageRow)
        .where(MessageRow.mission_id == mission_id)
        .order_by(MessageRow.created_at, MessageRow.id)
    )
    return [MissionMessage.model_validate(row) for row in session.scalars(statement)]
