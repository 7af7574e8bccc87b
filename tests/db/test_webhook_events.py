"""Deduplication of Stripe webhook events."""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from missions.db.models import WebhookEventRow
from missions.db.repositories import (
    is_webhook_event_processed,
    mark_webhook_event_processed,
    record_webhook_event,
)

PAYLOAD = {"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1"}}}


def test_duplicate_event_recorded_once(db_sessions: sessionmaker[Session]) -> None:
    with db_sessions.begin() as session:
        first = record_webhook_event(session, "evt_1", "payment_intent.succeeded", PAYLOAD)
    with db_sessions.begin() as session:
        second = record_webhook_event(session, "evt_1", "payment_intent.succeeded", {"other": 1})

    assert first is True
    assert second is False
    with db_sessions() as session:
        row = session.scalars(select(WebhookEventRow)).one()
    assert row.type == "payment_intent.succeeded"
    assert row.payload == PAYLOAD
    assert row.processed_at is None


def test_mark_processed_once(db_sessions: sessionmaker[Session]) -> None:
    with db_sessions.begin() as session:
        record_webhook_event(session, "evt_1", "payment_intent.succeeded", PAYLOAD)
        assert is_webhook_event_processed(session, "evt_1") is False
        assert mark_webhook_event_processed(session, "evt_1") is True
        assert mark_webhook_event_processed(session, "evt_1") is False
        assert is_webhook_event_processed(session, "evt_1") is True
        assert mark_webhook_event_processed(session, "evt_unknown") is False
        assert is_webhook_event_processed(session, "evt_unknown") is False


def test_concurrent_duplicates_one_wins(db_sessions: sessionmaker[Session]) -> None:
    attempts = 8
    barrier = threading.Barrier(attempts)
    results: list[bool] = []
    errors: list[BaseException] = []

    def record() -> None:
        try:
            barrier.wait()
            with db_sessions.begin() as session:
                results.append(
                    record_webhook_event(session, "evt_race", "payment_intent.succeeded", PAYLOAD)
                )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=record) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(results) == [False] * (attempts - 1) + [True]
