"""The worker's workflow runner and cache, as `missions worker` builds them."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from missions.client import MissionsClient
from missions.contracts import ApplicationRef, ApplicationStatus, CancelInput, MissionState
from missions.payments import PaymentsGateway
from missions.settings import Settings
from tests.support import client_actor, onboard, post_and_apply, provider_actor
from workers.main import ACTIVITY_THREADS, DEFAULT_MAX_CACHED_WORKFLOWS, build_worker

# Room for two runs, so that the older of the missions below are evicted.
SMALL_CACHE = 2
MISSIONS = 4


@pytest.mark.asyncio(loop_scope="session")
async def test_worker_runner_passes_workflows_through(
    time_env: WorkflowEnvironment,
    gateway: PaymentsGateway,
    sessions: sessionmaker[Session],
) -> None:
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        worker = build_worker(time_env.client, "worker-config", gateway, sessions, executor)
        config = worker.config()

    runner = config.get("workflow_runner")
    assert isinstance(runner, SandboxedWorkflowRunner)
    assert "workflows" in runner.restrictions.passthrough_modules
    # Only the passed-through modules differ from the SDK's defaults, so calls stay restricted.
    default = SandboxRestrictions.default
    assert runner.restrictions.invalid_module_members == default.invalid_module_members
    assert runner.restrictions.invalid_modules == default.invalid_modules
    assert not runner.restrictions.passthrough_all_modules
    assert config.get("max_cached_workflows") == DEFAULT_MAX_CACHED_WORKFLOWS


def test_cache_size_setting_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MISSIONS_WORKER_MAX_CACHED_WORKFLOWS", raising=False)
    assert Settings().worker_max_cached_workflows == DEFAULT_MAX_CACHED_WORKFLOWS


def test_cache_size_setting_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISSIONS_WORKER_MAX_CACHED_WORKFLOWS", "250")
    assert Settings().worker_max_cached_workflows == 250


def test_negative_cache_size_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISSIONS_WORKER_MAX_CACHED_WORKFLOWS", "-1")
    with pytest.raises(ValidationError, match="worker_max_cached_workflows"):
        Settings()


@pytest.mark.asyncio(loop_scope="session")
async def test_evicted_missions_replay_and_continue(
    time_env: WorkflowEnvironment,
    settings: Settings,
    gateway: PaymentsGateway,
    sessions: sessionmaker[Session],
) -> None:
    queue_settings = settings.model_copy(
        update={"task_queue": f"missions-small-cache-{uuid.uuid4().hex[:8]}"}
    )
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        worker = build_worker(
            time_env.client,
            queue_settings.task_queue,
            gateway,
            sessions,
            executor,
            max_cached_workflows=SMALL_CACHE,
        )
        assert worker.config().get("max_cached_workflows") == SMALL_CACHE
        async with worker:
            client = MissionsClient(time_env.client, queue_settings)
            opened = []
            for number in range(MISSIONS):
                customer = client_actor(f"cache-{number}")
                provider = provider_actor(f"cache-{number}")
                onboard(gateway, sessions, provider)
                mission_id, (application_id,) = await post_and_apply(
                    client, customer, [(provider, 6000 + number)]
                )
                before = await client.snapshot(mission_id)
                opened.append((customer, mission_id, application_id, before))

            # Oldest first, so that each mission has been evicted when its query arrives.
            for customer, mission_id, application_id, before in opened:
                assert await client.snapshot(mission_id) == before
                selected = await client.select_application(
                    mission_id, ApplicationRef(actor=customer, application_id=application_id)
                )
                assert selected.state is MissionState.AWAITING_PAYMENT
                assert selected.payment is not None
                statuses = {a.application_id: a.status for a in selected.applications}
                assert statuses == {application_id: ApplicationStatus.SELECTED}

            # Ended while the worker runs: a timer firing later would leave a task on this
            # queue, which no worker polls, and stop time skipping for the tests after this one.
            # The first cancel drops the unpaid selection and reopens the mission.
            for customer, mission_id, _, _ in opened:
                reopened = await client.cancel(mission_id, CancelInput(actor=customer))
                assert reopened.state is MissionState.OPEN
                cancelled = await client.cancel(mission_id, CancelInput(actor=customer))
                assert cancelled.state is MissionState.CANCELLED
