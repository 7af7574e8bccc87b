"""Mission routes: each one checks the body, then delegates to `MissionsClient`.

The workflow's update validators apply the authorization matrix of `missions.rules`, so a
command route does not decide who may act. It passes the caller named by the bearer token.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, status
from sqlalchemy.orm import Session

from api.deps import (
    CurrentActor,
    IdempotencyKeyDep,
    MissionsDep,
    SessionDep,
    SettingsDep,
    idempotency_key,
    in_transaction,
)
from api.errors import error_responses
from api.list_scope import check_cursor, list_scope, redact_for
from api.schemas import (
    ApplyBody,
    ApplyResponse,
    CancellationBody,
    CreateMissionBody,
    DisputeBody,
    DisputeResolutionBody,
    IncidentBody,
    MessageBody,
    MissionView,
    PaymentConfirmationBody,
    ReviewBody,
    SelectionBody,
)
from missions.client import WORKFLOW_ID_PREFIX, MissionsClient, idempotent_mission_id
from missions.contracts import (
    TERMINAL_STATES,
    Actor,
    ActorInput,
    ApplicationRef,
    ApplyInput,
    CancelInput,
    ConfirmPaymentInput,
    DisputeInput,
    IncidentInput,
    MissionSnapshot,
    MissionState,
    ResolveDisputeInput,
    ReviewInput,
    Role,
)
from missions.db.repositories import (
    MissionMessage,
    MissionPage,
    OutboxNotification,
    add_message,
    get_mission_snapshot,
    get_rating_summaries,
    list_messages,
    list_missions,
    list_notifications,
)
from missions.db.repositories.mission_list import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from missions.errors import IdempotencyKeyReused, InvalidState, MissionNotFound, Unavailable
from missions.rules import Action, check
from missions.text import Line

log = logging.getLogger(__name__)

T = TypeVar("T")

router = APIRouter(prefix="/missions", tags=["missions"])

MissionId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        description="The mission's workflow id, `mission-<uuid>`.",
        examples=["mission-5f0c7a53-2b1e-4c5e-9d53-0d6f3c1f7e21"],
    ),
]
ApplicationId = Annotated[Line, Path(min_length=1, max_length=128)]
UserIdFilter = Annotated[
    Line | None,
    Query(min_length=1, max_length=128, description="Ops and services only."),
]
# Documents the `Idempotency-Key` header on a POST route; the middleware acts on it.
IDEMPOTENT = [Depends(idempotency_key)]

# Errors every command can return. Routes that call Stripe add 402 or 502.
COMMAND_ERRORS = (401, 403, 404, 409, 422, 503)


async def _command(
    missions: MissionsClient,
    session: Session,
    action: Action,
    actor: Actor,
    mission_id: str,
    call: Coroutine[Any, Any, T],
) -> T:
    """Await a command, and explain a rejection by a mission that has ended.

    Temporal rejects any update to a finished workflow as not found, although the mission
    can still be read. Its last snapshot in the read model then decides the status: 403
    for a party that may never take the action, 409 `invalid_state` for one that could
    have, earlier. The read model is used because querying a finished workflow replays its
    whole history.
    """
    try:
        return await call
    except MissionNotFound:
        snapshot = await _stored_snapshot(session, mission_id)
        if snapshot is None or snapshot.state not in TERMINAL_STATES:
            raise
        check(action, actor, snapshot)
        raise InvalidState(
            f"mission {mission_id} is {snapshot.state.value} and takes no more commands",
            action=action.value,
            state=snapshot.state.value,
        ) from None


async def _checked_snapshot(
    missions: MissionsClient, session: Session, action: Action, actor: Actor, mission_id: str
) -> MissionSnapshot:
    """Return the mission's snapshot after checking that `actor` may take `action`.

    A mission that has ended is read from the read model, because querying a finished
    workflow replays its whole history. The workflow projects every change it still makes,
    such as a payout owed after a cancellation. A live mission is queried, so the check
    uses its current state.
    """
    stored = await _stored_snapshot(session, mission_id)
    if stored is not None and stored.state in TERMINAL_STATES:
        check(action, actor, stored)
        return stored
    return await missions.check(action, actor, mission_id)


async def _stored_snapshot(session: Session, mission_id: str) -> MissionSnapshot | None:
    # An id with a control character is no mission's, and PostgreSQL rejects a NUL in it.
    if not (mission_id.startswith(WORKFLOW_ID_PREFIX) and mission_id.isprintable()):
        return None
    return await in_transaction(session, get_mission_snapshot, mission_id)


def _view(snapshot: MissionSnapshot, actor: Actor, command: str) -> MissionView:
    log.info(
        "mission %s: %s by %s %s, now %s",
        snapshot.mission_id,
        command,
        actor.role.value,
        actor.user_id,
        snapshot.state.value,
    )
    return MissionView.for_actor(snapshot, actor)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MissionView,
    summary="Post a mission (client)",
    responses=error_responses(401, 403, 422, 503),
)
async def create_mission(
    body: CreateMissionBody,
    actor: CurrentActor,
    missions: MissionsDep,
    settings: SettingsDep,
    key: IdempotencyKeyDep,
) -> MissionView:
    durations = body.durations.apply_to(settings.durations) if body.durations else None
    request = body.to_request()
    # With a key, the mission id is derived from it, so a retry that reaches another replica
    # finds the mission the first request started instead of starting a second one.
    mission_id = idempotent_mission_id(actor.user_id, key) if key is not None else None
    snapshot = await missions.create_mission(
        actor,
        request,
        durations=durations,
        locale=body.locale,
        mission_id=mission_id,
        return_existing=True,
    )
    if snapshot.request != request:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} already created mission {snapshot.mission_id} with "
            "another request; send a new key for a different mission",
            mission_id=snapshot.mission_id,
        )
    return _view(snapshot, actor, "created")


@router.get(
    "",
    response_model=MissionPage,
    summary="List missions from the read model, newest first",
    description=(
        "A client lists their own missions. A provider lists the open missions and the "
        "missions they applied to or were selected for, and sees the selected provider and "
        "price only of missions they won. Ops and services list all missions and may filter "
        "by party with `client_id`, `provider_id` (the selected provider) or `applicant_id`. "
        "The read model trails the live state by the time the worker takes to project it."
    ),
    responses=error_responses(401, 403, 422, 503),
)
async def list_visible_missions(
    actor: CurrentActor,
    session: SessionDep,
    state: Annotated[MissionState | None, Query(description="Only missions in this state.")] = None,
    category: Annotated[Line | None, Query(min_length=1, max_length=40)] = None,
    client_id: UserIdFilter = None,
    provider_id: UserIdFilter = None,
    applicant_id: UserIdFilter = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(
            max_length=512,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="`next_cursor` of the previous page.",
        ),
    ] = None,
) -> MissionPage:
    scope = list_scope(
        actor, client_id=client_id, provider_id=provider_id, applicant_id=applicant_id
    )
    check_cursor(cursor)
    page = await in_transaction(
        session,
        list_missions,
        state=state,
        category=category,
        limit=limit,
        cursor=cursor,
        **scope,
    )
    return redact_for(actor, page)


@router.get(
    "/{mission_id}",
    response_model=MissionView,
    summary="Read a mission's live state",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_mission(
    mission_id: MissionId, actor: CurrentActor, missions: MissionsDep, session: SessionDep
) -> MissionView:
    snapshot = await _checked_snapshot(missions, session, Action.READ, actor, mission_id)
    view = MissionView.for_actor(snapshot, actor)
    provider_ids = [application.provider_id for application in view.applications]
    ratings = await in_transaction(session, get_rating_summaries, provider_ids)
    return view.with_ratings(ratings)


@router.post(
    "/{mission_id}/applications",
    status_code=status.HTTP_201_CREATED,
    response_model=ApplyResponse,
    dependencies=IDEMPOTENT,
    summary="Apply to a mission (provider)",
    responses=error_responses(*COMMAND_ERRORS),
)
async def apply(
    mission_id: MissionId,
    body: ApplyBody,
    actor: CurrentActor,
    missions: MissionsDep,
    session: SessionDep,
) -> ApplyResponse:
    result = await _command(
        missions,
        session,
        Action.APPLY,
        actor,
        mission_id,
        missions.apply(mission_id, ApplyInput(actor=actor, **body.model_dump())),
    )
    view = _view(result.snapshot, actor, f"application {result.application_id} submitted")
    return ApplyResponse(application_id=result.application_id, mission=view)


@router.post(
    "/{mission_id}/applications/{application_id}/withdrawal",
    response_model=MissionView,
    dependencies=IDEMPOTENT,
    summary="Withdraw one's application (provider)",
    responses=error_responses(*COMMAND_ERRORS),
)
async def withdraw_application(
    mission_id: MissionId,
    application_id: ApplicationId,
    actor: CurrentActor,
    missions: MissionsDep,
    session: SessionDep,
) -> MissionView:
    data = ApplicationRef(actor=actor, application_id=application_id)
    snapshot = await _command(
        missions,
        session,
        Action.WITHDRAW_APPLICATION,
        actor,
        mission_id,
        missions.withdraw_application(mission_id, data),
    )
    return _view(snapshot, actor, f"application {application_id} withdrawn")


@router.post(
    "/{mission_id}/selection",
    response_model=MissionView,
    dependencies=IDEMPOTENT,
    summary="Select an application and create the payment (client)",
    description=(
        "Creates the Stripe PaymentIntent for the agreed price plus the client's fee. The "
        "client's response carries `payment.client_secret` to confirm it."
    ),
    responses=error_responses(*COMMAND_ERRORS, 502),
)
async def select_application(
    mission_id: MissionId,
    body: SelectionBody,
    actor: CurrentActor,
    missions: MissionsDep,
    session: SessionDep,
) -> MissionView:
    data = ApplicationRef(actor=actor, application_id=body.application_id)
    snapshot = await _command(
        missions,
        session,
        Action.SELECT,
        actor,
        mission_id,
        missions.select_application(mission_id, data),
    )
    return _view(snapshot, actor, f"application {body.application_id} selected")


@router.post(
    "/{mission_id}/payment/confirmation",
    response_model=MissionView,
    dependencies=IDEMPOTENT,
    summary="Confirm the payment with a payment method (client)",
    description="A declined card is a 402 `card_declined` with Stripe's `decline_code`.",
    responses=error_responses(*COMMAND_ERRORS, 402, 502),
)
async def confirm_payment(
    mission_id: MissionId,
    body: PaymentConfirmationBody,
    actor: CurrentActor,
    missions: MissionsDep,
    session: SessionDep,
) -> MissionView:
    data = ConfirmPaymentInput(actor=actor, payment_method=body.payment_method)
    snapshot = await _command(
        missions,
        session,
        Action.CONFIRM_PAYMENT,
        actor,
        mission_id,
        missions.confirm_payment(mission_id, data),
    )
    return _view(snapshot, actor, "payment confirmed")


@router.post(
    "/{mission_id}/completion-request",
    response_model=MissionView,
    dependencies=IDEMPOTENT,
    summary="Say the work is done and ask for release (selected provider)",
    responses=error_responses(*COMMAND_ERRORS),
)
async def request_release(
    mission_id: MissionId, actor: CurrentActor, missions: MissionsDep, session: SessionDep
) -> MissionView:
    snapshot = await _command(
        missions,
        session,
        Action.REQUEST_RELEASE,
        actor,
        mission_id,
        missions.request_release(mission_id, ActorInput(actor=actor)),
    )
    return _view(snapshot, actor, "completion requested")


@router.post(
    "/{mission_id}/confirmation",
    response_model=MissionView,
    dependencies=IDEMPOTENT,
    summary="Confirm the work and release the money (client or ops)",
    responses=error_responses(*COMMAND_ERRORS, 502),
)
async def confirm_completion(
    mission_id: MissionId, actor: CurrentActor, missions: MissionsDep, session: SessionDep
) -> MissionView:
    snapshot = await _command(
        missions,
        session,
        Action.CONFIRM_COMPLETION,
        actor,
        mission_id,
        missions.confirm_completion(mission_id, ActorInput(actor=actor)),
    )
    return _view(snapshot, actor, "completion confirmed")


@router.post(
    "/{mission_id}/dispute",
    response_model=MissionView,
    dependencies=IDEMPOTENT,
    summary="Open a dispute, freezing the money (client or ops)",
    responses=error_responses(*COMMAND_ERRORS),
)
async def open_dispute(
    mission_id: MissionId,
    body: DisputeBody,
    actor: CurrentActor,
    missions: MissionsDep,
    session: SessionDep,
) -> MissionView:
    data = DisputeInput(actor=actor, reason=body.reason)
    snapshot = await _command(
        missions,
        session,
        Action.DISPUTE,
        actor,
        mission_id,
        missions.open_dispute(mission_id, data),
    )
    return _view(snapshot, actor, "dispute opened")


@router.post(
    "/{mission_id}/dispute/resolution",
    response_model=MissionView,
    dependencies=IDEMPOTENT,
    summary="Resolve a dispute with a refund and release split (ops)",
    responses=error_responses(*COMMAND_ERRORS, 502),
)
async def resolve_dispute(
    mission_id: MissionId,
    body: DisputeResolutionBody,
    actor: CurrentActor,
    missions: MissionsDep,
    session: SessionDep,
) -> MissionView:
    data = ResolveDisputeInput(actor=actor, **body.model_dump())
    snapshot = await _command(
        missions,
        session,
        Action.RESOLVE_DISPUTE,
        actor,
        mission_id,
        missions.resolve_dispute(mission_id, data),
    )
    return _view(snapshot, actor, "dispute resolved")


@router.post(
    "/{mission_id}/incidents",
    response_model=MissionView,
    dependencies=IDEMPOTENT,
    summary="Report an incident (client, selected provider or ops)",
    responses=error_responses(*COMMAND_ERRORS),
)
async def report_incident(
    mission_id: MissionId,
    body: IncidentBody,
    actor: CurrentActor,
    missions: MissionsDep,
    session: SessionDep,
) -> MissionView:
    data = IncidentInput(actor=actor, kind=body.kind, text=body.text)
    snapshot = await _command(
        missions,
        session,
        Action.REPORT_INCIDENT,
        actor,
        mission_id,
        missions.report_incident(mission_id, data),
    )
    return _view(snapshot, actor, f"{body.kind.value} incident reported")


@router.post(
    "/{mission_id}/cancellation",
    response_model=MissionView,
    dependencies=IDEMPOTENT,
    summary="Cancel a mission, refunding per the cancellation policy",
    responses=error_responses(*COMMAND_ERRORS, 502),
)
async def cancel(
    mission_id: MissionId,
    actor: CurrentActor,
    missions: MissionsDep,
    session: SessionDep,
    body: CancellationBody | None = None,
) -> MissionView:
    reason = body.reason if body is not None else ""
    snapshot = await _command(
        missions,
        session,
        Action.CANCEL,
        actor,
        mission_id,
        missions.cancel(mission_id, CancelInput(actor=actor, reason=reason)),
    )
    return _view(snapshot, actor, "cancelled")


@router.post(
    "/{mission_id}/reviews",
    response_model=MissionView,
    dependencies=IDEMPOTENT,
    summary="Review the other party (client or selected provider)",
    responses=error_responses(*COMMAND_ERRORS),
)
async def submit_review(
    mission_id: MissionId,
    body: ReviewBody,
    actor: CurrentActor,
    missions: MissionsDep,
    session: SessionDep,
) -> MissionView:
    data = ReviewInput(actor=actor, stars=body.stars, comment=body.comment)
    snapshot = await _command(
        missions,
        session,
        Action.REVIEW,
        actor,
        mission_id,
        missions.submit_review(mission_id, data),
    )
    return _view(snapshot, actor, "review submitted")


@router.post(
    "/{mission_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=MissionMessage,
    tags=["messages"],
    dependencies=IDEMPOTENT,
    summary="Post a message about a mission",
    responses=error_responses(*COMMAND_ERRORS),
)
async def post_message(
    mission_id: MissionId,
    body: MessageBody,
    actor: CurrentActor,
    missions: MissionsDep,
    session: SessionDep,
) -> MissionMessage:
    await _checked_snapshot(missions, session, Action.POST_MESSAGE, actor, mission_id)
    try:
        message = await in_transaction(session, add_message, mission_id, actor, body.text)
    except MissionNotFound as error:
        # The workflow exists, since the check passed, but the worker has not projected it.
        raise Unavailable(
            f"mission {mission_id} is not in the read model yet; retry in a moment",
            mission_id=mission_id,
        ) from error
    log.info(
        "mission %s: message %s posted by %s %s",
        mission_id,
        message.id,
        actor.role.value,
        actor.user_id,
    )
    return message


@router.get(
    "/{mission_id}/messages",
    response_model=list[MissionMessage],
    tags=["messages"],
    summary="Read a mission's messages, oldest first",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def read_messages(
    mission_id: MissionId, actor: CurrentActor, missions: MissionsDep, session: SessionDep
) -> list[MissionMessage]:
    await _checked_snapshot(missions, session, Action.READ, actor, mission_id)
    return await in_transaction(session, list_messages, mission_id)


@router.get(
    "/{mission_id}/notifications",
    response_model=list[OutboxNotification],
    summary="Read a mission's notifications, oldest first",
    description="Ops and services see every recipient's; a party sees only their own.",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def read_notifications(
    mission_id: MissionId, actor: CurrentActor, missions: MissionsDep, session: SessionDep
) -> list[OutboxNotification]:
    await _checked_snapshot(missions, session, Action.READ, actor, mission_id)
    recipient_id = None if actor.role in (Role.OPS, Role.SERVICE) else actor.user_id
    return await in_transaction(
        session, list_notifications, mission_id=mission_id, recipient_id=recipient_id
    )
