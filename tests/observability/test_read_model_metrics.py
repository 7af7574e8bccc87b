"""Domain metrics read from the read model: states, transitions and money of missions."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from missions.client import MissionsClient
from missions.contracts import ActorInput, MissionState, ReviewInput
from missions.db.engine import make_engine, make_session_factory
from missions.db.migrations import upgrade_database
from missions.notifications import TEMPLATES
from missions.observability import (
    TRANSITION_TEMPLATES,
    ReadModelCollector,
    ReadModelCounts,
    read_model_counts,
)
from missions.payments import PaymentsGateway
from missions.settings import Settings
from tests.support import client_actor, funded_mission, onboard, provider_actor, release
from workers.main import ACTIVITY_THREADS, build_worker

ALL_STATES = list(MissionState)


@pytest.fixture(scope="module")
def own_sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """A database of its own, so that the counts cover only this module's missions: a new
    PostgreSQL database when DATABASE_URL names a server, else a SQLite file.
    """
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        url = f"sqlite:///{tmp_path_factory.mktemp('metrics-db') / 'missions.sqlite3'}"
        upgrade_database(url)
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()
        return

    name = f"missions_metrics_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(server_url).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_database(url)
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def own_client(
    time_env: WorkflowEnvironment,
    settings: Settings,
    gateway: PaymentsGateway,
    own_sessions: sessionmaker[Session],
) -> AsyncIterator[MissionsClient]:
    """A client and worker on a task queue of their own, writing to `own_sessions`."""
    own_settings = settings.model_copy(update={"task_queue": f"metrics-{uuid.uuid4().hex[:8]}"})
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
        worker = build_worker(
            time_env.client, own_settings.task_queue, gateway, own_sessions, executor
        )
        async with worker:
            yield MissionsClient(time_env.client, own_settings)


def test_transition_templates_exist() -> None:
    missing = sorted(set(TRANSITION_TEMPLATES) - set(TEMPLATES))
    assert missing == []


def test_empty_read_model(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    upgrade_database(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        counts = read_model_counts(session)
    engine.dispose()
    assert counts == ReadModelCounts(
        in_state=dict.fromkeys(ALL_STATES, 0),
        transitions=dict.fromkeys(ALL_STATES, 0),
        money_minor={},
        needing_attention=0,
        payouts_pending=0,
    )


@pytest.mark.asyncio(loop_scope="session")
async def test_counts_after_happy_path_and_pending_payout(
    own_client: MissionsClient,
    own_sessions: sessionmaker[Session],
    gateway: PaymentsGateway,
) -> None:
    customer, provider = client_actor("metrics"), provider_actor("metrics")
    onboard(gateway, own_sessions, provider)
    closed_id = await funded_mission(own_client, customer, provider, 7500)
    await own_client.request_release(closed_id, ActorInput(actor=provider))
    await release(own_client, closed_id, customer)
    await own_client.submit_review(closed_id, ReviewInput(actor=customer, stars=5, comment="Top"))
    closed = await own_client.submit_review(
        closed_id, ReviewInput(actor=provider, stars=5, comment="Merci")
    )
    assert closed.state is MissionState.CLOSED

    # No connected account: the payout waits and the mission stays funded.
    unpaid = provider_actor("metrics-unpaid")
    waiting_id = await funded_mission(own_client, customer, unpaid, 5000)
    try:
        waiting = await release(own_client, waiting_id, customer)
        assert waiting.payout_pending is True
        with own_sessions() as session:
            counts = read_model_counts(session)
    finally:
        # Its hourly retry timer would outlive this module's worker, and the time-skipping
        # server cannot skip time past a timer whose workflow task no worker takes.
        await own_client.temporal.get_workflow_handle(waiting_id).terminate("test finished")
    assert counts.in_state == {
        **dict.fromkeys(ALL_STATES, 0),
        MissionState.CLOSED: 1,
        MissionState.FUNDED: 1,
    }
    assert counts.transitions == {
        **dict.fromkeys(ALL_STATES, 0),
        MissionState.OPEN: 2,
        MissionState.AWAITING_PAYMENT: 2,
        MissionState.FUNDED: 2,
        MissionState.COMPLETION_REQUESTED: 1,
        MissionState.RELEASED: 1,
        MissionState.REVIEWING: 1,
        MissionState.CLOSED: 1,
    }
    # 7 500 + 5 % = 7 875 and 5 000 + 5 % = 5 250 captured; 7 500 − 10 % paid out.
    assert counts.money_minor == {
        ("captured", "EUR"): 13125,
        ("refunded", "EUR"): 0,
        ("provider_payout", "EUR"): 6750,
        ("platform_revenue", "EUR"): 1125,
    }
    assert counts.needing_attention == 1
    assert counts.payouts_pending == 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_collector_reads_once_per_interval(own_sessions: sessionmaker[Session]) -> None:
    reads = []

    def counting_factory() -> sessionmaker[Session]:
        reads.append(1)
        return own_sessions

    clock = FakeClock()
    registry = CollectorRegistry()
    registry.register(ReadModelCollector(counting_factory, timedelta(seconds=30), clock))
    first = scrape(registry)
    clock.now += 29
    scrape(registry)
    assert len(reads) == 1
    clock.now += 2
    scrape(registry)
    assert len(reads) == 2
    assert first[("missions_read_model_up", ())] == 1.0
    assert ("missions_transitions_total", (("state", "open"),)) in first


def test_collector_reports_down_before_startup() -> None:
    registry = CollectorRegistry()
    registry.register(ReadModelCollector(lambda: None, timedelta(seconds=30), FakeClock()))
    samples = scrape(registry)
    assert samples == {("missions_read_model_up", ()): 0.0}


def test_collector_reports_down_when_database_fails(tmp_path: Path) -> None:
    # A SQLite file without the tables: every query fails.
    engine = make_engine(f"sqlite:///{tmp_path / 'no-tables.sqlite3'}")
    factory = make_session_factory(engine)
    registry = CollectorRegistry()
    registry.register(ReadModelCollector(lambda: factory, timedelta(seconds=30), FakeClock()))
    samples = scrape(registry)
    engine.dispose()
    assert samples == {("missions_read_model_up", ()): 0.0}
