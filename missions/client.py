"""The typed client that backend services import to start and steer missions.

It talks to Temporal directly: each party command is a workflow update, whose validator
applies `missions.rules`, so a rejected command changes nothing. Failures come back as the
`MissionError` subclasses of `missions.errors`, the same ones the HTTP API maps to statuses.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.api.errordetails.v1 import WorkflowNotReadyFailure
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from missions import search_attributes
from missions.cluster import api_key, tls_config
from missions.contracts import (
    Actor,
    ActorInput,
    ApplicationRef,
    ApplyInput,
    ApplyResult,
    CancelInput,
    ChargebackEvent,
    ConfirmPaymentInput,
    DisputeInput,
    Durations,
    IncidentInput,
    MissionInput,
    MissionRequest,
    MissionSnapshot,
    MoveDeadlineInput,
    PaymentEvent,
    ResolveDisputeInput,
    ReviewInput,
    Role,
)
from missions.errors import (
    ERRORS_BY_CODE,
    Conflict,
    Forbidden,
    InvalidInput,
    MissionError,
    MissionNotFound,
    Unavailable,
)
from missions.observability import temporal_runtime
from missions.rules import Action, check
from missions.settings import Settings

log = logging.getLogger(__name__)

WORKFLOW_TYPE = "MissionWorkflow"
WORKFLOW_ID_PREFIX = "mission-"

T = TypeVar("T")

# Attempts of one update that the server aborts (see `_update_aborted`).
UPDATE_ATTEMPTS = 3


# Namespace of the UUIDv5 mission ids derived from a client and an idempotency key.
IDEMPOTENT_MISSION_NAMESPACE = uuid.UUID("6f1d3c0e-5b8a-4c47-9e0a-2d9b7f4e8a13")


def new_mission_id() -> str:
    return f"{WORKFLOW_ID_PREFIX}{uuid.uuid4()}"


def idempotent_mission_id(client_id: str, idempotency_key: str) -> str:
    """Return the mission id that one client's idempotency key always maps to.

    Temporal starts one workflow per id, so retries of one creation, even sent at once to
    different API replicas, start a single mission.
    """
    name = f"{client_id}\n{idempotency_key}"
    return f"{WORKFLOW_ID_PREFIX}{uuid.uuid5(IDEMPOTENT_MISSION_NAMESPACE, name)}"


async def connect_temporal(settings: Settings) -> Client:
    """Connect to the configured Temporal server or Temporal Cloud namespace with the pydantic
    data converter, TLS or an API key when configured, and the process's metrics runtime.
    """
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        tls=tls_config(settings),
        api_key=api_key(settings),
        runtime=temporal_runtime(settings),
    )


def _error_from_application_error(error: ApplicationError) -> MissionError:
    details: dict[str, Any] = {}
    if error.details and isinstance(error.details[0], dict):
        details = error.details[0]
    error_class = ERRORS_BY_CODE.get(error.type or "", Unavailable)
    return error_class(error.message, **details)


class MissionsClient:
    """Starts missions and sends every party command with the checks of the workflow."""

    def __init__(self, temporal: Client, settings: Settings) -> None:
        self._temporal = temporal
        self._settings = settings

    @classmethod
    async def connect(cls, settings: Settings) -> MissionsClient:
        return cls(await connect_temporal(settings), settings)

    @property
    def temporal(self) -> Client:
        return self._temporal

    def _handle(self, mission_id: str) -> WorkflowHandle[Any, Any]:
        if not mission_id.startswith(WORKFLOW_ID_PREFIX):
            raise MissionNotFound(
                f"mission id {mission_id!r} is invalid; ids look like 'mission-<uuid>'"
            )
        return self._temporal.get_workflow_handle(mission_id)

    async def create_mission(
        self,
        actor: Actor,
        request: MissionRequest,
        *,
        durations: Durations | None = None,
        mission_id: str | None = None,
        locale: str = "fr",
        return_existing: bool = False,
    ) -> MissionSnapshot:
        """Start a mission's workflow for the acting client and return its first snapshot.

        When a workflow with `mission_id` already exists and `return_existing` is set,
        return its current snapshot, or raise Conflict if it is another client's mission.
        Without `return_existing`, raise InvalidInput.
        """
        if actor.role is not Role.CLIENT:
            raise Forbidden(
                f"only a client may post a mission; {actor.role.value} {actor.user_id!r} may not"
            )
        if durations is not None and not self._settings.allow_duration_override:
            raise Forbidden(
                "custom durations are disabled; omit 'durations' or enable "
                "MISSIONS_ALLOW_DURATION_OVERRIDE on a development stack"
            )
        scheduled_at = request.scheduled_at
        if scheduled_at is not None and scheduled_at < datetime.now(UTC):
            raise InvalidInput(
                f"scheduled_at {scheduled_at.isoformat()} is in the past; send a future date "
                "or none",
                field="scheduled_at",
            )
        mission_id = mission_id or new_mission_id()
        data = MissionInput(
            mission_id=mission_id,
            client_id=actor.user_id,
            request=request,
            durations=durations or self._settings.durations,
            fee_policy=self._settings.fee_policy,
            cancellation_policy=self._settings.cancellation_policy,
            locale=locale,
        )
        try:
            handle = await self._temporal.start_workflow(
                WORKFLOW_TYPE,
                data,
                id=mission_id,
                task_queue=self._settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=search_attributes.initial(data),
            )
        except (WorkflowAlreadyStartedError, RPCError) as error:
            already_started = isinstance(error, WorkflowAlreadyStartedError) or (
                error.status is RPCStatusCode.ALREADY_EXISTS
            )
            if not already_started:
                raise
            if not return_existing:
                raise InvalidInput(f"mission {mission_id} already exists") from error
            return await self._existing_mission(actor, mission_id)
        log.info("mission %s started for client %s", mission_id, actor.user_id)
        return await self._query(handle)

    async def _existing_mission(self, actor: Actor, mission_id: str) -> MissionSnapshot:
        snapshot = await self._query(self._handle(mission_id))
        if snapshot.client_id != actor.user_id:
            raise Conflict(
                f"mission {mission_id} belongs to another client; send another mission id",
                mission_id=mission_id,
            )
        log.info("mission %s already started for client %s", mission_id, actor.user_id)
        return snapshot

    async def get(self, actor: Actor, mission_id: str) -> MissionSnapshot:
        """Return the mission's current state if the actor may read it."""
        snapshot = await self._query(self._handle(mission_id))
        check(Action.READ, actor, snapshot)
        return snapshot

    async def snapshot(self, mission_id: str) -> MissionSnapshot:
        """Return the mission's current state without an actor check, for trusted callers."""
        return await self._query(self._handle(mission_id))

    async def apply(self, mission_id: str, data: ApplyInput) -> ApplyResult:
        return await self._update(mission_id, "apply", data, ApplyResult)

    async def withdraw_application(self, mission_id: str, data: ApplicationRef) -> MissionSnapshot:
        return await self._update(mission_id, "withdraw_application", data, MissionSnapshot)

    async def select_application(self, mission_id: str, data: ApplicationRef) -> MissionSnapshot:
        return await self._update(mission_id, "select_application", data, MissionSnapshot)

    async def confirm_payment(self, mission_id: str, data: ConfirmPaymentInput) -> MissionSnapshot:
        return await self._update(mission_id, "confirm_payment", data, MissionSnapshot)

    async def request_release(self, mission_id: str, data: ActorInput) -> MissionSnapshot:
        return await self._update(mission_id, "request_release", data, MissionSnapshot)

    async def confirm_completion(self, mission_id: str, data: ActorInput) -> MissionSnapshot:
        return await self._update(mission_id, "confirm_completion", data, MissionSnapshot)

    async def open_dispute(self, mission_id: str, data: DisputeInput) -> MissionSnapshot:
        return await self._update(mission_id, "open_dispute", data, MissionSnapshot)

    async def resolve_dispute(self, mission_id: str, data: ResolveDisputeInput) -> MissionSnapshot:
        return await self._update(mission_id, "resolve_dispute", data, MissionSnapshot)

    async def report_incident(self, mission_id: str, data: IncidentInput) -> MissionSnapshot:
        return await self._update(mission_id, "report_incident", data, MissionSnapshot)

    async def cancel(self, mission_id: str, data: CancelInput) -> MissionSnapshot:
        return await self._update(mission_id, "cancel", data, MissionSnapshot)

    async def submit_review(self, mission_id: str, data: ReviewInput) -> MissionSnapshot:
        return await self._update(mission_id, "submit_review", data, MissionSnapshot)

    async def move_deadline(self, mission_id: str, data: MoveDeadlineInput) -> MissionSnapshot:
        return await self._update(mission_id, "move_deadline", data, MissionSnapshot)

    async def retry_payout(self, mission_id: str, data: ActorInput) -> MissionSnapshot:
        return await self._update(mission_id, "retry_payout", data, MissionSnapshot)

    async def check(self, action: Action, actor: Actor, mission_id: str) -> MissionSnapshot:
        """Raise unless the actor may take an action that is not a workflow update."""
        snapshot = await self._query(self._handle(mission_id))
        check(action, actor, snapshot)
        return snapshot

    async def send_payment_event(self, mission_id: str, event: PaymentEvent) -> None:
        """Pass a verified Stripe payment outcome to the mission."""
        try:
            await self._handle(mission_id).signal("payment_event", event)
        except RPCError as error:
            raise _rpc_error(mission_id, error) from error

    async def send_chargeback(self, mission_id: str, event: ChargebackEvent) -> None:
        """Pass a verified card-network dispute of the mission's charge to the mission."""
        try:
            await self._handle(mission_id).signal("chargeback", event)
        except RPCError as error:
            raise _rpc_error(mission_id, error) from error

    async def _query(self, handle: WorkflowHandle[Any, Any]) -> MissionSnapshot:
        try:
            return await handle.query("snapshot", result_type=MissionSnapshot)
        except RPCError as error:
            raise _rpc_error(handle.id, error) from error
        except WorkflowQueryFailedError as error:
            raise Unavailable(f"query of mission {handle.id} failed: {error}") from error

    async def _update(self, mission_id: str, name: str, data: BaseModel, result_type: type[T]) -> T:
        handle = self._handle(mission_id)
        # One id for every attempt: if an earlier attempt was recorded after all, the server
        # returns its outcome instead of running the update again.
        update_id = str(uuid.uuid4())
        attempt = 1
        while True:
            try:
                return await self._update_once(handle, name, data, result_type, update_id)
            except RPCError as error:
                if not _update_aborted(error) or attempt >= UPDATE_ATTEMPTS:
                    raise _rpc_error(mission_id, error) from error
                log.warning(
                    "mission %s: %s update %s aborted by a failed workflow task (attempt %s of "
                    "%s), sending it again: %s",
                    mission_id,
                    name,
                    update_id,
                    attempt,
                    UPDATE_ATTEMPTS,
                    error.message,
                )
                attempt += 1

    async def _update_once(
        self,
        handle: WorkflowHandle[Any, Any],
        name: str,
        data: BaseModel,
        result_type: type[T],
        update_id: str,
    ) -> T:
        """Run one update attempt, mapping its rejection to a MissionError.

        An RPCError is left to the caller, which decides whether to send the update again.
        """
        mission_id = handle.id
        try:
            return await handle.execute_update(name, data, id=update_id, result_type=result_type)
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError):
                raise _error_from_application_error(cause) from error
            raise Unavailable(f"{name} on mission {mission_id} failed: {cause}") from error


def _update_aborted(error: RPCError) -> bool:
    """Return whether the server aborted an update before the workflow recorded it.

    The server does this when the workflow task that carried the update fails. For example,
    a Stripe webhook's signal arrived while that task was completing the workflow, so the
    server rejected the completion. The workflow discarded the update's effects, so
    sending it again is safe. The read-model upserts made in that task are replaced by the
    mission's next write.
    """
    return any(
        detail.type_url.endswith("/" + WorkflowNotReadyFailure.DESCRIPTOR.full_name)
        for detail in error.grpc_status.details
    )


def _rpc_error(mission_id: str, error: RPCError) -> MissionError:
    if error.status is RPCStatusCode.NOT_FOUND:
        return MissionNotFound(f"mission {mission_id} not found")
    return Unavailable(f"Temporal call for mission {mission_id} failed: {error.message}")
