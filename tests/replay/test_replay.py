"""Replay of the recorded MissionWorkflow histories against the current workflow code.

A failure here means a change to `workflows/` would break missions that are already
running: guard the change with `workflow.patched` (docs/operations.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.replay.changed_workflows import PatchedTimer, UnpatchedTimer
from tests.replay.record import HISTORIES_DIR, PATHS
from workflows.mission import MissionWorkflow

HISTORY_FILES = sorted(HISTORIES_DIR.rglob("*.json"))


def load(path: Path) -> WorkflowHistory:
    # The stored JSON has no workflow id, so the file's name is used as the id.
    return WorkflowHistory.from_json(path.stem, path.read_text())


def history_id(path: Path) -> str:
    return str(path.relative_to(HISTORIES_DIR))


def test_every_path_recorded() -> None:
    recorded = {path.stem for path in HISTORY_FILES}
    assert sorted(set(PATHS) - recorded) == []


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("path", HISTORY_FILES, ids=history_id)
async def test_history_replays(path: Path) -> None:
    replayer = Replayer(workflows=[MissionWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None


@pytest.mark.asyncio(loop_scope="session")
async def test_unpatched_change_fails_replay() -> None:
    replayer = Replayer(workflows=[UnpatchedTimer], data_converter=pydantic_data_converter)
    history = load(HISTORIES_DIR / "0.1.0" / "happy_path_reviews.json")
    with pytest.raises(NondeterminismError) as raised:
        await replayer.replay_workflow(history)
    # The new code starts a timer where the history has the first commit's search attributes.
    message = str(raised.value)
    assert "Nondeterminism error: Timer machine does not handle this event" in message
    assert "UpsertWorkflowSearchAttributes" in message


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("path", HISTORY_FILES, ids=history_id)
async def test_patched_change_replays(path: Path) -> None:
    replayer = Replayer(workflows=[PatchedTimer], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None
