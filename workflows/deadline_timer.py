"""The timer of a mission's next deadline, kept while that deadline stays the same."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

# A deadline's timer kind, as `MissionBase._next_timer` returns it, and its absolute time.
Due = tuple[str, datetime]


class DeadlineTimer:
    """One Temporal timer for the next due deadline, reused across waits.

    `workflow.wait_condition(..., timeout=...)` cancels its timer as soon as the condition
    is true, so each change of the mission would record a cancelled and a new timer even when
    the next deadline stayed the same. This timer is cancelled only when the deadline's kind
    or time changes or the mission ends, and it fires at the same moment a restarted timer
    would.
    """

    def __init__(self) -> None:
        self._due: Due | None = None
        self._task: asyncio.Task[None] | None = None

    async def wait(self, due: Due | None, changed: Callable[[], bool]) -> str | None:
        """Wait until `changed()` returns true or `due` passes, and return the kind of a
        deadline that passed, else None.
        """
        if due != self._due:
            self.cancel()
        if due is None:
            await workflow.wait_condition(changed)
            return None

        kind, at = due
        if self._task is None:
            delay = at - workflow.now()
            if delay <= timedelta(0):
                return kind
            self._task = asyncio.create_task(workflow.sleep(delay, summary=kind))
            self._due = due
        task = self._task
        await workflow.wait_condition(lambda: changed() or task.done())
        if not task.done():
            return None
        self._task = None
        self._due = None
        return kind

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._task = None
        self._due = None
