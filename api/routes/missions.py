"""Mission routes: each one checks the body, then delegates to `MissionsClient`.

The workflow's update validators apply the authorization matrix of `missions.rules`, so a
command route does not decide who may act. It passes the caller named by the bearer token.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.deps import CurrentActor, MissionsDep, SessionDep, SettingsDep, in_transaction
from api.errors import error_responses
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
from missions.contracts import (
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
    get_rating_summaries,
    list_messages,
    list_missions,
    list_notifications,
)
from missions.db.repositories.mission_list import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from missions.errors import MissionNotFound, Unavailable
from missions.rules import Action

log = logging.getLogger(__name__)

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
ApplicationId = Annotated[str, Path(min_length=1, max_length=128)]

# Errors every command can return. Routes that call Stripe add 402 or 502.
COMMAND_ERRORS = (401, 403, 404, 409, 422, 503)


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
    body: CreateMissionBody, actor: CurrentActor, missions: MissionsDep, settings: SettingsDep
) -> MissionView:
    durations = body.durations.apply_to(settings.durations) if body.durations else None
    snapshot = await missions.create_mission(
        actor, body.to_request(), durations=durations, locale=body.locale
    )
    return _view(snapshot, actor, "created")


@router.get(
    "",
    response_model=MissionPage,
    summary="List missions from the read model, newest first",
    description=(
        "A client lists their own missions. A provider lists the open missions and the "
        "missions they applied to or were selected for. "
        "Ops and services list all missions. The read model trails the live state by the "
        "time the worker takes to project it."
    ),
    responses=error_responses(401, 422, 503),
)
async def list_visible_missions(
    actor: CurrentActor,
    session: SessionDep,
    state: Annotated[MissionState | None, Query(description="Only missions in this state.")] = None,
    category: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page.")
    ] = None,
) -> MissionPage:
    client_id, visible_to_provider = _list_scope(actor)
    return await in_transaction(
        session,
        list_missions,
        state=state,
        category=category,
        client_id=client_id,
        open_or_applicant_id=visible_to_provider,
        limit=limit,
        cursor=cursor,
    )


def _list_scope(actor: Actor) -> tuple[str | None, str | None]:
    """Return the `client_id` and provider filters that bound what `actor` may list.

    A client lists their own missions; a provider lists open missions plus those they
    applied to (a selected provider applied too); ops and services list everything.
    """
    if actor.role is Role.CLIENT:
        return actor.user_id, None
    if actor.role is Role.PROVIDER:
        return None, actor.user_id
    return None, None


@router.get(
    "/{mission_id}",
    response_model=MissionView,
    summary="Read a mission's live state",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_mission(
    mission_id: MissionId, actor: CurrentActor, missions: MissionsDep, session: SessionDep
) -> MissionView:
    snapshot = await missions.get(actor, mission_id)
    view = MissionView.for_actor(snapshot, actor)
    provider_ids = [application.provider_id for application in view.applications]
    ratings = await in_transaction(session, get_rating_summaries, provider_ids)
    return view.with_ratings(ratings)


@router.post(
    "/{mission_id}/applications",
    status_code=status.HTTP_201_CREATED,
    response_model=ApplyResponse,
    summary="Apply to a mission (provider)",
    responses=error_responses(*COMMAND_ERRORS),
)
async def apply(
    mission_id: MissionId, body: ApplyBody, actor: CurrentActor, missions: MissionsDep
) -> ApplyResponse:
    result = await missions.apply(mission_id, ApplyInput(actor=actor, **body.model_dump()))
    view = _view(result.snapshot, actor, f"application {result.application_id} submitted")
    return ApplyResponse(application_id=result.application_id, mission=view)


@router.post(
    "/{mission_id}/applications/{application_id}/withdrawal",
    response_model=MissionView,
    summary="Withdraw one's application (provider)",
    responses=error_responses(*COMMAND_ERRORS),
)
async def withdraw_application(
    mission_id: MissionId,
    application_id: ApplicationId,
    actor: CurrentActor,
    missions: MissionsDep,
) -> MissionView:
    data = ApplicationRef(actor=actor, application_id=application_id)
    snapshot = await missions.withdraw_application(mission_id, data)
    return _view(snapshot, actor, f"application {application_id} withdrawn")


@router.post(
    "/{mission_id}/selection",
    response_model=MissionView,
    summary="Select an application and create the payment (client)",
    description=(
        "Creates the Stripe PaymentIntent for the agreed price plus the client's fee. The "
        "client's response carries `payment.client_secret` to confirm it."
    ),
    responses=error_responses(*COMMAND_ERRORS, 502),
)
async def select_application(
    mission_id: MissionId, body: SelectionBody, actor: CurrentActor, missions: MissionsDep
) -> MissionView:
    data = ApplicationRef(actor=actor, application_id=body.application_id)
    snapshot = await missions.select_application(mission_id, data)
    return _view(snapshot, actor, f"application {body.application_id} selected")


@router.post(
    "/{mission_id}/payment/confirmation",
    response_model=MissionView,
    summary="Confirm the payment with a payment method (client)",
    description="A declined card is a 402 `card_declined` with Stripe's `decline_code`.",
    responses=error_responses(*COMMAND_ERRORS, 402, 502),
)
async def confirm_payment(
    mission_id: MissionId,
    body: PaymentConfirmationBody,
    actor: CurrentActor,
    missions: MissionsDep,
) -> MissionView:
    data = ConfirmPaymentInput(actor=actor, payment_method=body.payment_method)
    snapshot = await missions.confirm_payment(mission_id, data)
    return _view(snapshot, actor, "payment confirmed")


@router.post(
    "/{mission_id}/completion-request",
    response_model=MissionView,
    summary="Say the work is done and ask for release (selected provider)",
    responses=error_responses(*COMMAND_ERRORS),
)
async def request_release(
    mission_id: MissionId, actor: CurrentActor, missions: MissionsDep
) -> MissionView:
    snapshot = await missions.request_release(mission_id, ActorInput(actor=actor))
    return _view(snapshot, actor, "completion requested")


@router.post(
    "/{mission_id}/confirmation",
    response_model=MissionView,
    summary="Confirm the work and release the money (client or ops)",
    responses=error_responses(*COMMAND_ERRORS, 502),
)
async def confirm_completion(
    mission_id: MissionId, actor: CurrentActor, missions: MissionsDep
) -> MissionView:
    snapshot = await missions.confirm_completion(mission_id, ActorInput(actor=actor))
    return _view(snapshot, actor, "completion confirmed")


@router.post(
    "/{mission_id}/dispute",
    response_model=MissionView,
    summary="Open a dispute, freezing the money (client or ops)",
    responses=error_responses(*COMMAND_ERRORS),
)
async def open_dispute(
    mission_id: MissionId, body: DisputeBody, actor: CurrentActor, missions: MissionsDep
) -> MissionView:
    snapshot = await missions.open_dispute(
        mission_id, DisputeInput(actor=actor, reason=body.reason)
    )
    return _view(snapshot, actor, "dispute opened")


@router.post(
    "/{mission_id}/dispute/resolution",
    response_model=MissionView,
    summary="Resolve a dispute with a refund and release split (ops)",
    responses=error_responses(*COMMAND_ERRORS, 502),
)
async def resolve_dispute(
    mission_id: MissionId,
    body: DisputeResolutionBody,
    actor: CurrentActor,
    missions: MissionsDep,
) -> MissionView:
    data = ResolveDisputeInput(actor=actor, **body.model_dump())
    snapshot = await missions.resolve_dispute(mission_id, data)
    return _view(snapshot, actor, "dispute resolved")


@router.post(
    "/{mission_id}/incidents",
    response_model=MissionView,
    summary="Report an incident (client, selected provider or ops)",
    responses=error_responses(*COMMAND_ERRORS),
)
async def report_incident(
    mission_id: MissionId, body: IncidentBody, actor: CurrentActor, missions: MissionsDep
) -> MissionView:
    data = IncidentInput(actor=actor, kind=body.kind, text=body.text)
    snapshot = await missions.report_incident(mission_id, data)
    return _view(snapshot, actor, f"{body.kind.value} incident reported")


@router.post(
    "/{mission_id}/cancellation",
    response_model=MissionView,
    summary="Cancel a mission, refunding per the cancellation policy",
    responses=error_responses(*COMMAND_ERRORS, 502),
)
async def cancel(
    mission_id: MissionId,
    actor: CurrentActor,
    missions: MissionsDep,
    body: CancellationBody | None = None,
) -> MissionView:
    reason = body.reason if body is not None else ""
    snapshot = await missions.cancel(mission_id, CancelInput(actor=actor, reason=reason))
    return _view(snapshot, actor, "cancelled")


@router.post(
    "/{mission_id}/reviews",
    response_model=MissionView,
    summary="Review the other party (client or selected provider)",
    responses=error_responses(*COMMAND_ERRORS),
)
async def submit_review(
    mission_id: MissionId, body: ReviewBody, actor: CurrentActor, missions: MissionsDep
) -> MissionView:
    data = ReviewInput(actor=actor, stars=body.stars, comment=body.comment)
    snapshot = await missions.submit_review(mission_id, data)
    return _view(snapshot, actor, "review submitted")


@router.post(
    "/{mission_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=MissionMessage,
    tags=["messages"],
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
    await missions.check(Action.POST_MESSAGE, actor, mission_id)
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
    await missions.check(Action.READ, actor, mission_id)
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
    await missions.check(Action.READ, actor, mission_id)
    recipient_id = None if actor.role in (Role.OPS, Role.SERVICE) else actor.user_id
    return await in_transaction(
        session, list_notifications, mission_id=mission_id, recipient_id=recipient_id
    )
