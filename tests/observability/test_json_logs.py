"""The JSON log format: one object per line, the mission id found, secrets never written."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from missions.client import MissionsClient
from missions.observability import (
    REDACTED,
    JsonFormatter,
    configure_logging,
    mission_id_of,
    secret_values,
)
from missions.settings import LogFormat, Settings
from tests.support import client_actor, mission_request

MISSION_ID = "mission-3f2c9a1e-8b7d-4c6e-9f01-23456789abcd"
JWT_SECRET = "jwt-secret-for-log-tests-0123456789"


def make_record(
    msg: str,
    args: tuple[object, ...] = (),
    *,
    name: str = "missions.test",
    level: int = logging.INFO,
    extra: dict[str, object] | None = None,
) -> logging.LogRecord:
    record = logging.LogRecord(name, level, __file__, 1, msg, args, None)
    for key, value in (extra or {}).items():
        setattr(record, key, value)
    return record


def format_record(record: logging.LogRecord, secrets: tuple[str, ...] = ()) -> dict[str, object]:
    line = JsonFormatter(secrets).format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert isinstance(parsed, dict)
    return parsed


def test_formatter_writes_core_fields() -> None:
    record = make_record("mission %s: %s, now %s", (MISSION_ID, "mission_funded", "funded"))
    entry = format_record(record)
    assert entry["logger"] == "missions.test"
    assert entry["level"] == "INFO"
    assert entry["message"] == f"mission {MISSION_ID}: mission_funded, now funded"
    assert entry["mission_id"] == MISSION_ID
    assert isinstance(entry["time"], str)
    assert entry["time"].endswith("+00:00")
    assert set(entry) == {"time", "level", "logger", "message", "mission_id"}


def test_mission_id_after_other_placeholders() -> None:
    record = make_record("%s: reading mission %s failed: %s", ("case-1", MISSION_ID, "503"))
    assert mission_id_of(record) == MISSION_ID


def test_mission_id_skips_escaped_percent() -> None:
    record = make_record("100%% done, mission %s closed", (MISSION_ID,))
    assert mission_id_of(record) == MISSION_ID


def test_mission_id_from_extra_wins() -> None:
    record = make_record("mission %s: retried", ("not-this-one",), extra={"mission_id": "m-42"})
    assert mission_id_of(record) == "m-42"


def test_mission_id_from_temporal_workflow_details() -> None:
    details = {"workflow_id": MISSION_ID, "run_id": "run-1", "workflow_type": "MissionWorkflow"}
    record = make_record("payout waits", extra={"temporal_workflow": details})
    entry = format_record(record)
    assert entry["mission_id"] == MISSION_ID
    assert entry["workflow_id"] == MISSION_ID
    assert entry["run_id"] == "run-1"
    assert entry["workflow_type"] == "MissionWorkflow"


def test_mission_id_from_message_text() -> None:
    record = make_record(f"query of mission {MISSION_ID} failed: timeout")
    assert mission_id_of(record) == MISSION_ID


def test_no_mission_id_without_mission() -> None:
    record = make_record("worker polling task queue %s on %s", ("missions", "temporal:7233"))
    entry = format_record(record)
    assert "mission_id" not in entry


def test_mission_placeholder_with_non_string_argument() -> None:
    record = make_record("mission %s: %s", (42, "closed"))
    assert mission_id_of(record) is None


def test_secret_redacted_in_message_and_exception() -> None:
    try:
        raise ValueError(f"token signed with {JWT_SECRET} rejected")
    except ValueError:
        record = logging.LogRecord(
            "missions.test",
            logging.ERROR,
            __file__,
            1,
            "verifying with %s failed",
            (JWT_SECRET,),
            sys.exc_info(),
        )
    entry = format_record(record, (JWT_SECRET,))
    assert entry["message"] == f"verifying with {REDACTED} failed"
    assert isinstance(entry["exception"], str)
    assert JWT_SECRET not in entry["exception"]
    assert f"token signed with {REDACTED} rejected" in entry["exception"]


def test_extra_values_are_not_written() -> None:
    record = make_record("login", extra={"password": "hunter2-hunter2"})
    entry = format_record(record)
    assert "password" not in entry
    assert "hunter2-hunter2" not in json.dumps(entry)


def test_secret_values_include_database_password() -> None:
    settings = Settings(
        jwt_secret=JWT_SECRET,
        database_url="postgresql://missions:db-password-123@db:5432/missions",
    )
    secrets = secret_values(settings)
    assert JWT_SECRET in secrets
    assert "db-password-123" in secrets
    assert settings.stripe_api_key in secrets


@pytest.fixture
def root_handler() -> Iterator[logging.StreamHandler[io.StringIO]]:
    """A handler on the root logger; every root handler gets its formatter back afterwards."""
    handler = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    saved = [(existing, existing.formatter) for existing in root.handlers]
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for existing, formatter in saved:
            existing.setFormatter(formatter)


def test_configure_logging_json(root_handler: logging.StreamHandler[io.StringIO]) -> None:
    configure_logging(Settings(log_format=LogFormat.JSON, jwt_secret=JWT_SECRET))
    formatters = {id(handler.formatter) for handler in logging.getLogger().handlers}
    logging.getLogger("missions.test").warning("mission %s: signed with %s", MISSION_ID, JWT_SECRET)
    entry = json.loads(root_handler.stream.getvalue().strip().splitlines()[-1])
    assert entry == {
        "time": entry["time"],
        "level": "WARNING",
        "logger": "missions.test",
        "message": f"mission {MISSION_ID}: signed with {REDACTED}",
        "mission_id": MISSION_ID,
    }
    assert len(formatters) == 1
    assert isinstance(root_handler.formatter, JsonFormatter)


def test_configure_logging_text_changes_nothing(
    root_handler: logging.StreamHandler[io.StringIO],
) -> None:
    configure_logging(Settings(log_format=LogFormat.TEXT))
    assert root_handler.formatter is None


def test_log_format_setting_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISSIONS_LOG_FORMAT", "json")
    assert Settings().log_format is LogFormat.JSON


@pytest.mark.asyncio(loop_scope="session")
async def test_workflow_logs_carry_mission_id(
    missions_client: MissionsClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    snapshot = await missions_client.create_mission(client_actor("logs"), mission_request())
    records = [
        record
        for record in caplog.records
        if record.name.startswith("temporalio.workflow")
        and "mission_posted" in record.getMessage()
        and snapshot.mission_id in record.getMessage()
    ]
    assert len(records) == 1
    entry = format_record(records[0])
    assert entry["mission_id"] == snapshot.mission_id
    assert entry["workflow_id"] == snapshot.mission_id
    assert entry["workflow_type"] == "MissionWorkflow"
