"""Every activity the worker registers must not get exceptions raised into its thread."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker
from temporalio.activity import _Definition

from missions.payments import PaymentsGateway
from workers.main import activities_for


def test_no_thread_cancel_exception(
    gateway: PaymentsGateway, sessions: sessionmaker[Session]
) -> None:
    # An exception raised into a worker thread can land while the thread holds the logging
    # handler's lock, which then stays taken and stops the whole worker.
    for function in activities_for(gateway, sessions):
        definition = _Definition.must_from_callable(function)
        assert definition.no_thread_cancel_exception, definition.name
